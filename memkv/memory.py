"""`Memory`: the one interface every package uses, written once above the backends.

It validates keys and arguments, keeps the entry records, the category and session
indexes and their counts (see `memkv.layout`), decodes content, serves reads from the
read cache, and runs transaction functions. A backend only stores ordered bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, TypeVar

import msgspec

from memkv import layout
from memkv.backends.base import Backend, Outcome, ReadTxn, Table, WriteTxn
from memkv.cache import ABSENT, CachedValue, ReadCache, cached_value
from memkv.entry import (
    CORE,
    EntryHeader,
    MemoryEntry,
    clock,
    convert_content,
    decode_entries,
    decode_entry,
    decode_header,
    encode_entry,
    entry_decoder,
    new_entry_id,
)
from memkv.errors import (
    Conflict,
    CorruptRecord,
    InvalidArgument,
    InvalidKey,
    StoreClosed,
    TransactionClosed,
)
from memkv.group_commit import GroupCommitter, Pending, WriterCallback
from memkv.keys import MAX_KEY_BYTES, check_name, encode_key, key_after, prefix_end
from memkv.verify import verify_snapshot

R = TypeVar("R")
# Aliases: inside the classes below, `list` names the method.
Entries = list[MemoryEntry[Any]]
KeyList = list[str]
Items = list[tuple[bytes, bytes]]
Problems = list[str]

_ENTRIES: Final = Table.ENTRIES
_decode_entry: Final = msgspec.msgpack.Decoder(MemoryEntry).decode
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

    __slots__ = ("_clock", "_counts", "_write_txn", "_written")

    def __init__(self, txn: WriteTxn) -> None:
        super().__init__(txn)
        self._write_txn: WriteTxn | None = txn
        # pending count changes per (category, session), written at the end
        self._counts: dict[tuple[str, str | None], int] = {}
        self._written: dict[str, CachedValue] = {}  # for the read cache, after commit
        self._clock: tuple[datetime, str] | None = None  # one time for all its writes

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
        return self._put(key, raw_key, content, category, session_id, previous)

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
        if self._live().get(_ENTRIES, raw_key) is not None:
            raise Conflict(f"key {key!r} is already stored", key=key)
        return self._put(key, raw_key, content, category, session_id, None)

    def _put(
        self,
        key: str,
        raw_key: bytes,
        content: Any,
        category: str,
        session_id: str | None,
        previous: EntryHeader | None,
    ) -> MemoryEntry[Any]:
        reading = self._clock
        if reading is None:
            reading = self._clock = clock()
        timestamp, id_prefix = reading
        entry = MemoryEntry(
            id=new_entry_id(id_prefix) if previous is None else previous.id,
            key=key,
            content=content,
            category=category,
            timestamp=timestamp,
            session_id=session_id,
        )
        record = encode_entry(entry)  # before any write: InvalidContent changes nothing
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
        self._written[key] = cached_value(entry, record)
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
        pending = sum(
            delta
            for (entry_category, entry_session), delta in self._counts.items()
            if category in (None, entry_category) and session_id in (None, entry_session)
        )
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
        """Write the pending counts and end the view; return what the read cache
        should learn once the transaction commits."""
        txn = self._live()
        deltas: dict[bytes, int] = {}
        for (category, session_id), delta in self._counts.items():
            for count_key in layout.count_keys(category, session_id):
                deltas[count_key] = deltas.get(count_key, 0) + delta
        for count_key, delta in deltas.items():
            if delta:
                total = layout.decode_count(txn.get(_INDEX, count_key)) + delta
                if total:
                    txn.put(_INDEX, count_key, layout.encode_count(total))
                else:
                    txn.delete(_INDEX, count_key)
        self._write_txn = None
        return self._written

    def abandon(self) -> None:
        self._write_txn = None


class Memory:
    """A durable key-value memory. Open one with `memkv.open`.

    Thread-safe; usable as a context manager (closed on exit). Every method that
    writes is one transaction; `transact` runs several operations as one. Writes
    from many threads at once are group-committed (`memkv.group_commit`): each
    returns once its own write is durable, having shared the flush with the others.
    """

    def __init__(self, backend: Backend, *, cache_size: int = 4096) -> None:
        self._backend = backend
        self._cache = ReadCache(cache_size) if cache_size > 0 else None
        self._closed = False
        self._close_lock = threading.Lock()
        # The read cache asks for the commit id on every hit; after close this
        # raises StoreClosed, so the hit path needs no closed check of its own.
        self._commit_id: Callable[[], int] = backend.commit_id_reader()
        self._point_read = backend.point_reader()
        self._committer = GroupCommitter(self._commit_group, backend.flush)

    # -- lifecycle -----------------------------------------------------------------

    @property
    def backend(self) -> Backend:
        return self._backend

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the store; later calls raise `StoreClosed`. Repeated calls do nothing."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._committer.close()  # lets the writes already queued commit
        self._commit_id = self._raise_closed
        self._backend.close()
        if self._cache is not None:
            self._cache.clear()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<memkv.Memory {self._backend.name} {self._backend.location!r} {state}>"

    def health_check(self) -> bool:
        """``True`` if the store can be read and holds a format this memkv reads."""
        return not self._closed and self._backend.health_check()

    def _raise_closed(self) -> int:
        raise StoreClosed(f"the store at {self._backend.location} is closed")

    def _check_open(self) -> None:
        if self._closed:
            self._raise_closed()

    # -- transactions ------------------------------------------------------------------

    def transact(self, fn: Callable[[Transaction], R]) -> R:
        """Run ``fn(tx)`` atomically and return its result.

        ``tx`` offers this class's operations. Everything ``fn`` writes commits
        together when it returns, or not at all if it raises (the exception
        propagates). ``fn`` may be called more than once (a backend may retry), so
        it must have no side effects outside ``tx``.

        Raises:
            Whatever ``fn`` raises; StoreClosed, ReadOnlyStore, NestedTransaction,
            StorageFull, BackendError.
        """
        self._check_open()
        self._backend.check_writable()
        return self._committer.run(_in_transaction(fn))  # type: ignore[no-any-return]

    def submit(self, fn: Callable[[Transaction], Any], on_done: WriterCallback) -> Pending:
        """Queue ``fn`` for the next group commit and return at once; the writer
        thread calls ``on_done((True, result))`` or ``on_done((False, exception))``
        once the commit holding it is durable. `memkv.aio` is built on this.

        Raises (at once):
            StoreClosed, ReadOnlyStore, NestedTransaction.
        """
        self._check_open()
        self._backend.check_writable()
        return self._committer.submit(_in_transaction(fn), on_done)

    def withdraw(self, pending: Pending) -> bool:
        """Take a submitted function back if no commit has taken it yet (``True``:
        it will never run); ``False`` if it is being committed or is done."""
        return self._committer.withdraw(pending)

    def _commit_group(
        self, fns: list[Callable[[WriteTxn], Any]]
    ) -> tuple[list[Outcome], int | None]:
        """Commit functions made by `_in_transaction` together; teach the read cache
        what those that succeeded wrote, in commit order. Returns their outcomes and
        the commit to flush (``None``: nothing was written)."""
        outcomes, txn_id = self._backend.write_group(fns)
        results: list[Outcome] = []
        written: dict[str, CachedValue] = {}
        for ok, value in outcomes:
            if ok:
                result, wrote = value
                written.update(wrote)
                results.append((True, result))
            else:
                results.append((False, value))
        if not written:
            return results, None
        if self._cache is not None:
            self._cache.apply_commit(txn_id, written)
        return results, txn_id

    def snapshot(self, fn: Callable[[Reader], R]) -> R:
        """Run ``fn(view)`` on one consistent snapshot and return its result.

        ``view`` offers the read operations (`get`, `list`, `count`, `categories`,
        `sessions`); they all see the store as of one moment, whatever is written
        meanwhile. ``fn`` may be called again (after a remap of the LMDB map, say),
        so it must only read. Reads never wait for writers. ``view`` is valid only
        inside ``fn``: return values, not the view.
        """
        return self._read(fn)

    # -- writes ----------------------------------------------------------------------

    def store(
        self, key: str, content: Any, category: str = CORE, session_id: str | None = None
    ) -> MemoryEntry[Any]:
        """Store ``content`` at ``key`` (insert or replace); see `Transaction.store`.
        Returns once the write is as durable as the store's ``durability`` promises."""
        return self.transact(lambda tx: tx.store(key, content, category, session_id))

    def insert(
        self, key: str, content: Any, category: str = CORE, session_id: str | None = None
    ) -> MemoryEntry[Any]:
        """Store ``content`` at ``key`` only if absent; see `Transaction.insert`.

        Raises:
            Conflict: the key is present; the stored entry is left untouched.
        """
        return self.transact(lambda tx: tx.insert(key, content, category, session_id))

    def forget(self, key: str) -> bool:
        """Remove ``key``; ``True`` if it was there. See `Transaction.forget`."""
        return self.transact(lambda tx: tx.forget(key))

    # -- reads -------------------------------------------------------------------------

    def get(self, key: str, type: Any = None) -> MemoryEntry[Any] | None:  # noqa: A002, PLR0912
        """The entry at ``key``, or ``None`` if absent; see `Reader.get`.

        Served from the read cache when the store has not changed (in any process)
        since the entry was cached.
        """
        # The hot path of the whole library, kept flat: a cache hit, or one read of
        # a plain key; anything unusual (type=, a bad key) takes `_get_general`.
        cache = self._cache
        current = -1
        if cache is not None:
            current = self._commit_id()
            if cache.stamp == current:
                try:
                    hit = key in cache.present
                except TypeError:  # unhashable, so not a key: the general path says why
                    hit = False
                if hit:
                    cached = cache.entries[key]
                    if type is None and cached.__class__ is MemoryEntry:
                        return cached
                    if cached is not None:
                        return self._from_cache(key, cached, type)
        if type is not None or key.__class__ is not str or self._closed:
            return self._get_general(key, type)
        try:
            raw_key = key.encode()
        except UnicodeEncodeError:
            return self._get_general(key, type)
        if not raw_key or len(raw_key) > MAX_KEY_BYTES:
            return self._get_general(key, type)
        # The snapshot read below is at least `current`: labelling what it returns
        # with `current` is safe (the cache only ever serves at stamp == commit id).
        record = self._point_read(_ENTRIES, raw_key)
        if record is None:
            entry = None
        else:
            try:
                entry = _decode_entry(record)
            except ValueError:
                entry = decode_entry(key, record)  # raises CorruptRecord, naming the key
            if entry.key != key:
                decode_entry(key, record)  # raises CorruptRecord: another key's record
        if cache is not None:
            doorkeeper = cache.doorkeeper
            if current == cache.stamp and key not in doorkeeper:
                doorkeeper.add(key)  # see `ReadCache.fill`: admitted on a second miss
            else:
                cache.fill(key, entry, record, current)
        return entry

    def _from_cache(self, key: str, cached: CachedValue, type: Any) -> MemoryEntry[Any] | None:  # noqa: A002
        if cached is ABSENT:
            return None
        if isinstance(cached, bytes):
            return decode_entry(key, cached, type)
        assert isinstance(cached, MemoryEntry)
        return convert_content(cached, type)

    def _get_general(self, key: str, type: Any) -> MemoryEntry[Any] | None:  # noqa: A002
        raw_key = encode_key(key)
        if type is not None:
            entry_decoder(type)
        self._check_open()
        current = self._commit_id()
        record = self._point_read(_ENTRIES, raw_key)
        entry = None if record is None else decode_entry(key, record, type)
        if self._cache is not None:
            self._cache.fill(key, entry if type is None else None, record, current)
        return entry

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
        """Entries in key order, filtered and paged; see `Reader.list`."""
        return self._read(
            lambda reader: reader.list(
                category,
                session_id,
                prefix=prefix,
                limit=limit,
                after=after,
                reverse=reverse,
                type=type,
            )
        )

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
        """Keys in key order, filtered and paged as `list`, without the entries."""
        return self._read(
            lambda reader: reader.keys(
                category, session_id, prefix=prefix, limit=limit, after=after, reverse=reverse
            )
        )

    def count(self, category: str | None = None, session_id: str | None = None) -> int:
        """How many entries there are; see `Reader.count`."""
        return self._read(lambda reader: reader.count(category, session_id))

    def categories(self) -> dict[str, int]:
        """The categories in use with their entry counts."""
        return self._read(Reader.categories)

    def sessions(self) -> dict[str, int]:
        """The session ids in use with their entry counts."""
        return self._read(Reader.sessions)

    def verify(self) -> Problems:
        """Check that the indexes and counts agree with the entries, in one snapshot;
        return the problems found, a sentence each (empty: consistent). Reads the
        whole store."""
        self._check_open()
        return self._backend.read(verify_snapshot)

    def _read(self, fn: Callable[[Reader], R]) -> R:
        self._check_open()
        return self._backend.read(lambda txn: fn(Reader(txn)))


def _in_transaction(
    fn: Callable[[Transaction], R],
) -> Callable[[WriteTxn], tuple[R, dict[str, CachedValue]]]:
    """``fn`` as a backend write function: run on a `Transaction` view, returning its
    result and what the read cache should learn once it commits."""

    def run(txn: WriteTxn) -> tuple[R, dict[str, CachedValue]]:
        tx = Transaction(txn)
        try:
            result = fn(tx)
            written = tx.finish()
        finally:
            tx.abandon()
        return result, written

    return run


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
