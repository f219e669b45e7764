"""The views a function receives: `Reader` (the read operations, on one snapshot)
and `Transaction` (`Memory`'s operations inside one write transaction), and how a
transaction function runs, alone or in a group commit (`run_alone`, `GroupRun`).

A `Transaction` keeps the entry records, the category and session indexes and their
counts (see `memkv.layout`) in step, and tells the read cache what it wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, TypeVar

import msgspec

from memkv import layout
from memkv.backends.base import Outcome, ReadTxn, Table, WriteTxn
from memkv.cache import ABSENT, CachedValue, cached_value
from memkv.entry import (
    CORE,
    EntryHeader,
    MemoryEntry,
    clock,
    decode_entries,
    decode_entry,
    decode_header,
    encode_entry,
    entry_decoder,
    new_entry_id,
)
from memkv.errors import Conflict, CorruptRecord, InvalidArgument, InvalidKey, TransactionClosed
from memkv.keys import MAX_KEY_BYTES, check_name, encode_key, key_after, prefix_end

R = TypeVar("R")
# Aliases: inside the classes below, `list` names the method.
Entries = list[MemoryEntry[Any]]
KeyList = list[str]
Items = list[tuple[bytes, bytes]]

CountChanges = dict[tuple[str, str | None], int]  # (category, session) -> entries added
Reading = tuple[datetime, str]  # a clock reading: entry timestamp and id prefix

_ENTRIES: Final = Table.ENTRIES
_INDEX: Final = Table.INDEX
_EMPTY: Final = b""


class Reader:
    """The read operations, on one snapshot (or inside a write transaction)."""

    __slots__ = ("_txn",)

    def __init__(self, txn: ReadTxn) -> None:
        self._txn = txn

    def _snapshot(self) -> ReadTxn:
        return self._txn

    def get(self, key: str, type: Any = None) -> MemoryEntry[Any] | None:  # noqa: A002 - the API's name
        """The entry stored at ``key``, or ``None`` if absent.

        With ``type=``, the content is decoded into that type (a Struct, say).

        Raises:
            InvalidKey, InvalidArgument (a ``type`` msgspec cannot decode),
            TypeMismatch (the content does not fit ``type``), CorruptRecord.
        """
        raw_key = encode_key(key)
        if type is not None:
            entry_decoder(type)
        data = self._snapshot().get(_ENTRIES, raw_key)
        return None if data is None else decode_entry(key, data, type)

    def _previous(self, key: str, raw_key: bytes) -> EntryHeader | None:
        data = self._snapshot().get(_ENTRIES, raw_key)
        return None if data is None else decode_header(key, data)

    def list(
        self,
        category: str | None = None,
        session_id: str | None = None,
        *,
        prefix: str | None = None,
        limit: int | None = None,
        after: str | None = None,
        reverse: bool = False,
        type: Any = None,  # noqa: A002 - the API's name
    ) -> Entries:
        """Entries in key order (descending with ``reverse``), optionally filtered by
        category, session and key prefix; at most ``limit``, starting after the key
        ``after`` (the last key of the previous page).

        Served by a range scan of an index: the cost grows with what is returned,
        not with the size of the store.

        Raises:
            InvalidArgument: a bad category, session id, prefix, limit, cursor or type.
            TypeMismatch, CorruptRecord.
        """
        if type is not None:
            entry_decoder(type)
        scanned = self._scan(category, session_id, prefix, limit, after, reverse, keys_only=False)
        if scanned is None:
            return []
        base, items = scanned
        if base is None:
            return decode_entries(items, 0, type)
        skip = len(base)
        if session_id is None:  # the category index holds the records themselves
            return decode_entries(items, skip, type)
        txn = self._snapshot()
        entries = []
        for index_key, _ in items:
            raw_key = index_key[skip:]
            key = _key_text(raw_key)
            data = txn.get(_ENTRIES, raw_key)
            if data is None:
                raise CorruptRecord(f"the session index names {key!r}, which is absent", key=key)
            entries.append(decode_entry(key, data, type))
        return entries

    def keys(
        self,
        category: str | None = None,
        session_id: str | None = None,
        *,
        prefix: str | None = None,
        limit: int | None = None,
        after: str | None = None,
        reverse: bool = False,
    ) -> KeyList:
        """The keys `list` would return, without reading or decoding the entries.

        Raises:
            InvalidArgument: a bad category, session id, prefix, limit or cursor.
        """
        scanned = self._scan(category, session_id, prefix, limit, after, reverse, keys_only=True)
        if scanned is None:
            return []
        base, items = scanned
        skip = 0 if base is None else len(base)
        return [_key_text(storage_key[skip:]) for storage_key, _ in items]

    def _scan(
        self,
        category: str | None,
        session_id: str | None,
        prefix: str | None,
        limit: int | None,
        after: str | None,
        reverse: bool,
        *,
        keys_only: bool,
    ) -> tuple[bytes | None, Items] | None:
        """The range scan behind `list` and `keys`: the index prefix used (``None``:
        the entries table) and the items; ``None`` if the range is empty."""
        if category is not None:
            check_name(category, "category")
        if session_id is not None:
            check_name(session_id, "session_id")
        check_limit(limit)
        base = layout.index_prefix(category, session_id)
        start = (base or _EMPTY) + _encode_prefix(prefix)
        stop = prefix_end(start)
        if after is not None:
            cursor = (base or _EMPTY) + _encode_cursor(after)
            if reverse:
                stop = cursor if stop is None else min(stop, cursor)
            else:
                start = max(start, key_after(cursor))
        if stop is not None and start >= stop:
            return None
        table = _ENTRIES if base is None else _INDEX
        scan = self._snapshot().scan
        return base, scan(table, start, stop, reverse=reverse, limit=limit, keys_only=keys_only)

    def count(self, category: str | None = None, session_id: str | None = None) -> int:
        """How many entries there are (in a category, a session, or both). O(1).

        Raises:
            InvalidArgument: a bad category or session id.
        """
        if category is not None:
            check_name(category, "category")
        if session_id is not None:
            check_name(session_id, "session_id")
        count_key = layout.count_key(category, session_id)
        return layout.decode_count(self._snapshot().get(_INDEX, count_key))

    def categories(self) -> dict[str, int]:
        """The categories in use, with their entry counts, in name order."""
        return self._counted(layout.COUNT_CATEGORIES)

    def sessions(self) -> dict[str, int]:
        """The session ids in use, with their entry counts, in id order."""
        return self._counted(layout.COUNT_SESSIONS)

    def _counted(self, prefix: bytes) -> dict[str, int]:
        items = self._snapshot().scan(_INDEX, prefix, prefix_end(prefix))
        return {layout.counted_name(key): layout.decode_count(value) for key, value in items}


class Transaction(Reader):
    """The view a transaction function receives: `Memory`'s operations, all applied
    atomically when the function returns (and none of them if it raises).

    Valid only inside the function; using it afterwards raises `TransactionClosed`.
    """

    __slots__ = ("_clock", "_counts", "_group_counts", "_write_txn", "_written")

    def __init__(
        self,
        txn: WriteTxn,
        *,
        reading: Reading | None = None,
        group_counts: CountChanges | None = None,
    ) -> None:
        """``reading``: the clock reading to stamp entries with (default: one taken at
        the first write); ``group_counts``: the count changes of the transactions
        before this one in its group, not yet written (see `GroupRun`), which this
        one's join when it finishes."""
        super().__init__(txn)
        self._write_txn: WriteTxn | None = txn
        self._counts: CountChanges = {}  # written (or joined to the group's) at the end
        self._group_counts = group_counts
        self._written: dict[str, CachedValue] = {}  # for the read cache, after commit
        self._clock = reading  # one time for all its writes

    def _snapshot(self) -> ReadTxn:
        return self._live()

    def _live(self) -> WriteTxn:
        txn = self._write_txn
        if txn is None:
            raise TransactionClosed("this transaction has ended; use tx only inside its function")
        return txn

    def store(
        self, key: str, content: Any, category: str = CORE, session_id: str | None = None
    ) -> MemoryEntry[Any]:
        """Store ``content`` at ``key`` (insert or replace). A replaced entry keeps its
        ``id``; its category and session may change. Storing the same content twice
        leaves one entry.

        Raises:
            InvalidKey, InvalidArgument (category, session id), InvalidContent,
            CorruptRecord (the entry being replaced cannot be read).
        """
        raw_key = encode_key(key)
        _check_names(category, session_id)
        previous = self._previous(key, raw_key)
        entry = self._entry(key, content, category, session_id, previous)
        return self._write(raw_key, entry, encode_entry(entry), previous)

    def insert(
        self, key: str, content: Any, category: str = CORE, session_id: str | None = None
    ) -> MemoryEntry[Any]:
        """Store ``content`` at ``key`` only if the key is absent.

        Raises:
            Conflict: the key is present; the stored entry is left untouched.
            InvalidKey, InvalidArgument, InvalidContent.
        """
        raw_key = encode_key(key)
        _check_names(category, session_id)
        self._check_absent(key, raw_key)
        entry = self._entry(key, content, category, session_id, None)
        return self._write(raw_key, entry, encode_entry(entry), None)

    def _check_absent(self, key: str, raw_key: bytes) -> None:
        if self._live().get(_ENTRIES, raw_key) is not None:
            raise Conflict(f"key {key!r} is already stored", key=key)

    def _entry(
        self,
        key: str,
        content: Any,
        category: str,
        session_id: str | None,
        previous: EntryHeader | None,
    ) -> MemoryEntry[Any]:
        reading = self._clock
        if reading is None:
            reading = self._clock = clock()
        timestamp, id_prefix = reading
        return MemoryEntry(
            id=new_entry_id(id_prefix) if previous is None else previous.id,
            key=key,
            content=content,
            category=category,
            timestamp=timestamp,
            session_id=session_id,
        )

    def _store_prepared(self, prepared: PreparedStore) -> MemoryEntry[Any]:
        entry, raw_key, record = prepared.entry, prepared.raw_key, prepared.record
        if prepared.only_if_absent:
            self._check_absent(entry.key, raw_key)
            previous = None
        else:
            previous = self._previous(entry.key, raw_key)
            if previous is not None:  # a replaced entry keeps its id
                entry = msgspec.structs.replace(entry, id=previous.id)
                record = encode_entry(entry)
        return self._write(raw_key, entry, record, previous)

    def _write(
        self, raw_key: bytes, entry: MemoryEntry[Any], record: bytes, previous: EntryHeader | None
    ) -> MemoryEntry[Any]:
        """Write ``entry`` (encoded as ``record``) over ``previous`` (``None``: a new
        key), keeping the indexes and counts in step."""
        category, session_id = entry.category, entry.session_id
        txn = self._live()
        txn.put(_ENTRIES, raw_key, record)
        if previous is None:
            moved = True
        else:
            if previous.category != category:
                txn.delete(_INDEX, layout.category_prefix(previous.category) + raw_key)
            moved = previous.category != category or previous.session_id != session_id
            if moved:
                if previous.session_id is not None:
                    self._unindex_session(raw_key, previous.category, previous.session_id)
                self._count(previous.category, previous.session_id, -1)
        txn.put(_INDEX, layout.category_prefix(category) + raw_key, record)
        if moved:
            if session_id is not None:
                txn.put(_INDEX, layout.session_prefix(session_id) + raw_key, _EMPTY)
                both = layout.category_session_prefix(category, session_id)
                txn.put(_INDEX, both + raw_key, _EMPTY)
            self._count(category, session_id, +1)
        self._written[entry.key] = cached_value(entry, record)
        return entry

    def forget(self, key: str) -> bool:
        """Remove the entry at ``key``; ``True`` if it was there, ``False`` if absent.

        Raises:
            InvalidKey, CorruptRecord (the entry cannot be read to unindex it).
        """
        raw_key = encode_key(key)
        previous = self._previous(key, raw_key)
        if previous is None:
            return False
        txn = self._live()
        txn.delete(_ENTRIES, raw_key)
        txn.delete(_INDEX, layout.category_prefix(previous.category) + raw_key)
        if previous.session_id is not None:
            self._unindex_session(raw_key, previous.category, previous.session_id)
        self._count(previous.category, previous.session_id, -1)
        self._written[key] = ABSENT
        return True

    def count(self, category: str | None = None, session_id: str | None = None) -> int:
        pending = _pending(self._counts, category, session_id)
        if self._group_counts:
            pending += _pending(self._group_counts, category, session_id)
        return super().count(category, session_id) + pending

    def _unindex_session(self, raw_key: bytes, category: str, session_id: str) -> None:
        txn = self._live()
        txn.delete(_INDEX, layout.session_prefix(session_id) + raw_key)
        txn.delete(_INDEX, layout.category_session_prefix(category, session_id) + raw_key)

    def _count(self, category: str, session_id: str | None, delta: int) -> None:
        counts = self._counts
        group = (category, session_id)
        counts[group] = counts.get(group, 0) + delta

    def finish(self) -> dict[str, CachedValue]:
        """Write the pending counts (or join them to the group's) and end the view;
        return what the read cache should learn once the transaction commits."""
        txn = self._live()
        if self._group_counts is None:
            write_counts(txn, self._counts)
        else:
            _add_counts(self._group_counts, self._counts)
        self._write_txn = None
        return self._written

    def abandon(self) -> None:
        self._write_txn = None


class PreparedStore:
    """``store`` (or, with ``only_if_absent``, ``insert``) of one entry as a
    transaction function, checked, stamped and encoded when it is made: in the
    caller's thread, before the write transaction, rather than inside it (where the
    writer of a group commit does each function in turn). Bad input raises here.

    Raises:
        InvalidKey, InvalidArgument, InvalidContent.
    """

    __slots__ = ("entry", "only_if_absent", "raw_key", "record")

    def __init__(
        self,
        key: str,
        content: Any,
        category: str = CORE,
        session_id: str | None = None,
        *,
        only_if_absent: bool = False,
    ) -> None:
        self.raw_key = encode_key(key)
        _check_names(category, session_id)
        timestamp, id_prefix = clock()
        self.entry = MemoryEntry(
            id=new_entry_id(id_prefix),
            key=key,
            content=content,
            category=category,
            timestamp=timestamp,
            session_id=session_id,
        )
        self.record = encode_entry(self.entry)
        self.only_if_absent = only_if_absent

    def __call__(self, tx: Transaction) -> MemoryEntry[Any]:
        return tx._store_prepared(self)


# -- running transaction functions --------------------------------------------------------

Written = dict[str, CachedValue]  # what the read cache learns once a transaction commits
BackendFunction = Callable[[WriteTxn], Any]
WriteGroup = Callable[[list[BackendFunction]], tuple[list[Outcome], int]]


def run_alone(fn: Callable[[Transaction], R]) -> Callable[[WriteTxn], tuple[R, Written]]:
    """``fn`` as the one function of a backend write transaction: run on a
    `Transaction`; returns its result and what the read cache should learn."""

    def run(txn: WriteTxn) -> tuple[R, Written]:
        return _run(fn, Transaction(txn))

    return run


def _run(fn: Callable[[Transaction], R], tx: Transaction) -> tuple[R, Written]:
    try:
        result = fn(tx)
        written = tx.finish()
    finally:
        tx.abandon()
    return result, written


class GroupAborted(BaseException):
    """Carries an engine error out of a group's last function: the backend aborts
    the whole transaction (a BaseException, so that no savepoint catches it)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


class GroupRun:
    """The transaction functions of one group commit, as backend write functions.

    `functions` is ``[start, one per transaction function, finish]``. ``start``
    begins an attempt (a backend may run the group more than once): one clock
    reading for the whole group, no count changes yet. Each transaction function runs
    on a `Transaction` of its own, whose count changes join the group's; ``finish``
    writes them, summed: two or four count writes per group rather than per
    function. When the backend runs a function in a savepoint of its own (it does
    once a function of the group raised), that function writes its own counts
    instead, so that rolling it back takes them back too.
    """

    def __init__(self, fns: list[Callable[[Transaction], Any]]) -> None:
        self.functions: list[BackendFunction] = [
            self._start,
            *(self._member(fn) for fn in fns),
            self._finish,
        ]
        self._txn: WriteTxn | None = None
        self._reading: Reading | None = None
        self._counts: CountChanges = {}

    def _start(self, txn: WriteTxn) -> None:
        self._txn = txn
        self._reading = clock()
        self._counts = {}

    def _member(self, fn: Callable[[Transaction], R]) -> Callable[[WriteTxn], tuple[R, Written]]:
        def run(txn: WriteTxn) -> tuple[R, Written]:
            together = txn is self._txn  # no savepoint of its own: counts join the group's
            group_counts = self._counts if together else None
            return _run(fn, Transaction(txn, reading=self._reading, group_counts=group_counts))

        return run

    def _finish(self, txn: WriteTxn) -> None:
        try:
            write_counts(txn, self._counts)
        except Exception as exc:
            raise GroupAborted(exc) from exc

    def commit(
        self, write_group: Callable[[list[BackendFunction]], tuple[list[Outcome], int]]
    ) -> tuple[list[Outcome], int]:
        """Run the group with ``write_group`` (a backend's); the outcomes of the
        transaction functions, in order, and the commit id.

        Raises:
            the engine error that made ``finish`` fail (nothing committed).
        """
        try:
            outcomes, txn_id = write_group(self.functions)
        except GroupAborted as aborted:
            raise aborted.error from None
        return outcomes[1:-1], txn_id


def write_counts(txn: WriteTxn, changes: CountChanges) -> None:
    """Apply count changes per (category, session) to the stored counts."""
    deltas: dict[bytes, int] = {}
    for (category, session_id), delta in changes.items():
        if delta:
            for count_key in layout.count_keys(category, session_id):
                deltas[count_key] = deltas.get(count_key, 0) + delta
    for count_key, delta in deltas.items():
        if delta:
            total = layout.decode_count(txn.get(_INDEX, count_key)) + delta
            if total:
                txn.put(_INDEX, count_key, layout.encode_count(total))
            else:
                txn.delete(_INDEX, count_key)


def _add_counts(into: CountChanges, changes: CountChanges) -> None:
    for group, delta in changes.items():
        into[group] = into.get(group, 0) + delta


def _pending(changes: CountChanges, category: str | None, session_id: str | None) -> int:
    return sum(
        delta
        for (entry_category, entry_session), delta in changes.items()
        if category in (None, entry_category) and session_id in (None, entry_session)
    )


def _check_names(category: object, session_id: object) -> None:
    check_name(category, "category")
    if session_id is not None:
        check_name(session_id, "session_id")


def check_limit(limit: object) -> None:
    """Raises InvalidArgument unless ``limit`` is None or an int >= 1."""
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise InvalidArgument(f"limit must be a positive integer or None, not {limit!r}")


def _encode_prefix(prefix: object) -> bytes:
    if prefix is None:
        return _EMPTY
    if not isinstance(prefix, str):
        raise InvalidArgument(f"prefix must be a str, not {type(prefix).__name__}: {prefix!r:.80}")
    try:
        raw = prefix.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgument(f"prefix {prefix!r:.80} is not encodable as UTF-8") from exc
    if len(raw) > MAX_KEY_BYTES:
        raise InvalidArgument(f"prefix {prefix!r:.80} is longer than a key can be")
    return raw


def _encode_cursor(after: object) -> bytes:
    try:
        return encode_key(after)
    except InvalidKey as exc:
        raise InvalidArgument(f"after= must be a key (the last key of a page): {exc}") from exc


def _key_text(raw_key: bytes) -> str:
    try:
        return raw_key.decode("utf-8")
    except UnicodeDecodeError as exc:
        key = raw_key.decode("utf-8", errors="replace")
        raise CorruptRecord(f"stored key {key!r} is not UTF-8", key=key) from exc
