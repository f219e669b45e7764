"""`Memory`: the one interface every package uses, written once above the backends.

It validates keys and arguments, decodes content, serves reads from the read cache,
and commits transaction functions (`memkv.views.Transaction`), in groups when many
wait at once (`memkv.group_commit`). A backend only stores ordered bytes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar

import msgspec

from memkv.backends.base import Backend, Outcome, Table
from memkv.cache import ABSENT, CachedValue, ReadCache
from memkv.entry import CORE, MemoryEntry, convert_content, decode_entry, entry_decoder
from memkv.errors import StoreClosed
from memkv.group_commit import GroupCommitter, Pending, WriterCallback
from memkv.keys import MAX_KEY_BYTES, encode_key
from memkv.verify import verify_snapshot
from memkv.views import (
    Entries,
    GroupRun,
    KeyList,
    PreparedStore,
    Reader,
    Transaction,
    check_limit,
    run_alone,
)

R = TypeVar("R")
Problems = list[str]  # `list` names a method inside Memory

_ENTRIES: Final = Table.ENTRIES
_decode_entry: Final = msgspec.msgpack.Decoder(MemoryEntry).decode

__all__ = ["Entries", "KeyList", "Memory", "Problems", "Reader", "Transaction", "check_limit"]


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
        it must have no side effects outside ``tx``. While another thread is
        committing, ``fn`` waits and then commits in one group with the others that
        waited (possibly run by another thread): it sees their writes, made before
        its own, and returns once the group is durable.

        Raises:
            Whatever ``fn`` raises; StoreClosed, ReadOnlyStore, NestedTransaction,
            StorageFull, BackendError.
        """
        self._check_open()
        self._backend.check_writable()
        return self._committer.run(fn)  # type: ignore[no-any-return]

    def submit(self, fn: Callable[[Transaction], Any], on_done: WriterCallback) -> Pending:
        """Queue ``fn`` for the next group commit and return at once; the writer
        thread calls ``on_done((True, result))`` or ``on_done((False, exception))``
        once the commit holding it is durable. `memkv.aio` is built on this.

        Raises (at once):
            StoreClosed, ReadOnlyStore, NestedTransaction.
        """
        self._check_open()
        self._backend.check_writable()
        return self._committer.submit(fn, on_done)

    def withdraw(self, pending: Pending) -> bool:
        """Take a submitted function back if no commit has taken it yet (``True``:
        it will never run); ``False`` if it is being committed or is done."""
        return self._committer.withdraw(pending)

    def _commit_group(
        self, fns: list[Callable[[Transaction], Any]]
    ) -> tuple[list[Outcome], int | None]:
        """Commit transaction functions together (see `GroupRun`); teach the read
        cache what those that succeeded wrote, in commit order. Returns their
        outcomes and the commit to flush (``None``: nothing was written)."""
        if len(fns) == 1:
            outcomes, txn_id = self._backend.write_group([run_alone(fns[0])])
        else:
            outcomes, txn_id = GroupRun(fns).commit(self._backend.write_group)
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
        return self._read(fn, several_reads=True)

    # -- writes ----------------------------------------------------------------------

    def store(
        self, key: str, content: Any, category: str = CORE, session_id: str | None = None
    ) -> MemoryEntry[Any]:
        """Store ``content`` at ``key`` (insert or replace); see `Transaction.store`.
        Returns once the write is as durable as the store's ``durability`` promises."""
        return self.transact(PreparedStore(key, content, category, session_id))

    def insert(
        self, key: str, content: Any, category: str = CORE, session_id: str | None = None
    ) -> MemoryEntry[Any]:
        """Store ``content`` at ``key`` only if absent; see `Transaction.insert`.

        Raises:
            Conflict: the key is present; the stored entry is left untouched.
        """
        return self.transact(PreparedStore(key, content, category, session_id, only_if_absent=True))

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
            ),
            # with a session but no category: a scan of the session index, then the
            # entries it names (the category index holds the records themselves)
            several_reads=session_id is not None,
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
        return self._backend.read(verify_snapshot, several_reads=True)

    def _read(self, fn: Callable[[Reader], R], *, several_reads: bool = False) -> R:
        self._check_open()
        return self._backend.read(lambda txn: fn(Reader(txn)), several_reads=several_reads)
