"""Consistency check of a store: do the indexes and counts agree with the entries?

Reads the whole store in one snapshot and holds the expected index in memory: a
maintenance operation (``memkv verify PATH``, the crash tests), not a hot path.
"""

from __future__ import annotations

from typing import Final

from memkv import layout
from memkv.backends.base import ReadTxn, Table
from memkv.entry import decode_entry
from memkv.errors import CorruptRecord

_MAX_PROBLEMS: Final = 100  # a damaged store can have millions; the first ones suffice


def verify_snapshot(txn: ReadTxn) -> list[str]:
    """Problems found in the snapshot, in a sentence each (empty: consistent)."""
    problems: list[str] = []
    expected: dict[bytes, bytes] = {}
    counts: dict[bytes, int] = {}
    for raw_key, data in txn.scan(Table.ENTRIES, b"", None):
        key = raw_key.decode("utf-8", errors="replace")
        try:
            entry = decode_entry(key, data)
        except CorruptRecord as exc:
            problems.append(str(exc))
            continue
        expected[layout.category_prefix(entry.category) + raw_key] = data
        if entry.session_id is not None:
            expected[layout.session_prefix(entry.session_id) + raw_key] = b""
            both = layout.category_session_prefix(entry.category, entry.session_id)
            expected[both + raw_key] = b""
        for count_key in layout.count_keys(entry.category, entry.session_id):
            counts[count_key] = counts.get(count_key, 0) + 1
    expected.update((key, layout.encode_count(count)) for key, count in counts.items())
    for index_key, value in txn.scan(Table.INDEX, b"", None):
        wanted = expected.pop(index_key, None)
        if wanted is None:
            problems.append(f"index key {index_key!r} belongs to no entry")
        elif wanted != value:
            problems.append(f"index key {index_key!r} holds {value!r:.60}, not {wanted!r:.60}")
    problems.extend(f"index key {key!r} is missing" for key in expected)
    return problems[:_MAX_PROBLEMS]
