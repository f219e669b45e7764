"""Consistency check and repair of a store: can every record be read, and do the
indexes, counts and recall index agree with the entries (in both key spaces, see
`memkv.layout`)?

Both read the whole store in one transaction and hold the expected index in memory:
maintenance operations (``memkv verify PATH [--repair]``, the crash tests), not hot
paths.
"""

from __future__ import annotations

from typing import Final

from memkv import layout, recall
from memkv.backends.base import ReadTxn, Table, WriteTxn
from memkv.entry import decode_entry
from memkv.errors import CorruptRecord
from memkv.text import entry_terms

_MAX_PROBLEMS: Final = 100  # a damaged store can have millions; the first ones suffice


class _Expected:
    """What the index should hold, worked out from the entries of a snapshot."""

    def __init__(self, txn: ReadTxn) -> None:
        self.index: dict[bytes, bytes] = {}
        self.corrupt: list[tuple[bytes, CorruptRecord]] = []  # entries-table keys
        self.recalls = recall.kept(txn)
        self.versions: dict[bytes, recall.Indexed] = {}  # what recall should index
        counts: dict[bytes, int] = {}
        for storage_key, data in txn.scan(Table.ENTRIES, b"", None):
            space = layout.space_of(storage_key)
            raw_key = storage_key[len(space) :]
            try:
                entry = decode_entry(raw_key.decode("utf-8", errors="replace"), data)
            except CorruptRecord as exc:
                self.corrupt.append((storage_key, exc))
                continue
            category, session_id = entry.category, entry.session_id
            self.index[layout.category_prefix(space, category) + raw_key] = data
            if session_id is not None:
                self.index[layout.session_prefix(space, session_id) + raw_key] = b""
                both = layout.category_session_prefix(space, category, session_id)
                self.index[both + raw_key] = b""
            if entry.expires_at is not None:
                self.index[layout.expiry_key(space, entry.expires_at, raw_key)] = b""
            for count_key in layout.count_keys(space, category, session_id):
                counts[count_key] = counts.get(count_key, 0) + 1
            if self.recalls and space == layout.USER_SPACE:
                text = entry_terms(entry.key, entry.content)
                self.versions[raw_key] = recall.Indexed(text, entry.timestamp)
        self.index.update((key, layout.encode_count(count)) for key, count in counts.items())

    def differences(self, txn: ReadTxn) -> list[tuple[bytes, bytes | None, bytes | None]]:
        """Each index key, out of the recall index, whose stored value is not the
        expected one: (key, stored, expected), ``None`` for absent."""
        wanted = dict(self.index)
        found: list[tuple[bytes, bytes | None, bytes | None]] = []
        for index_key, value in txn.scan(Table.INDEX, b"", None):
            if index_key.startswith(layout.RECALL_REGION):
                continue  # checked by recall.check
            expected = wanted.pop(index_key, None)
            if expected != value:
                found.append((index_key, value, expected))
        found.extend((key, None, value) for key, value in wanted.items())
        return found


def verify_snapshot(txn: ReadTxn) -> list[str]:
    """Problems found in the snapshot, in a sentence each (empty: consistent)."""
    expected = _Expected(txn)
    problems = [_corrupt_record(key, exc) for key, exc in expected.corrupt]
    for index_key, stored, wanted in expected.differences(txn):
        if wanted is None:
            problems.append(f"index key {index_key!r} belongs to no entry")
        elif stored is None:
            problems.append(f"index key {index_key!r} is missing")
        else:
            problems.append(f"index key {index_key!r} holds {stored!r:.60}, not {wanted!r:.60}")
    if expected.recalls:
        problems += recall.check(txn, expected.versions)
    return problems[:_MAX_PROBLEMS]


def repair_store(txn: WriteTxn) -> list[str]:
    """Remove the records that cannot be read, then make the index what the entries
    say it should be. Returns what was done, a sentence each (every removed record is
    named; index changes are summed up)."""
    expected = _Expected(txn)
    done = []
    for storage_key, exc in expected.corrupt:
        txn.delete(Table.ENTRIES, storage_key)
        done.append(f"removed the {_corrupt_record(storage_key, exc)}")
    removed = restored = 0
    for index_key, _, wanted in expected.differences(txn):
        if wanted is None:
            txn.delete(Table.INDEX, index_key)
            removed += 1
        else:
            txn.put(Table.INDEX, index_key, wanted)
            restored += 1
    if removed:
        done.append(f"removed {removed} index keys that belonged to no entry")
    if restored:
        done.append(f"restored {restored} missing or wrong index keys (indexes and counts)")
    if expected.recalls:
        wrong = recall.check(txn, expected.versions)
        if wrong:
            recall.rebuild(txn, expected.versions.items())
            done.append(f"rebuilt the recall index ({len(wrong)} problems, the first: {wrong[0]})")
    return done


def _corrupt_record(storage_key: bytes, exc: CorruptRecord) -> str:
    internal = layout.space_of(storage_key) == layout.INTERNAL_SPACE
    return f"{'internal ' if internal else ''}record that cannot be read: {exc}"
