"""`Memory`: the one interface every package uses, written once above the backends.

It validates keys and arguments, decodes content, serves reads from the read cache,
and commits transaction functions (`memkv.views.Transaction`), in groups when many
wait at once (`memkv.group_commit`). A backend only stores ordered bytes.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from types import FunctionType
from typing import Any, Final, NoReturn, TypeVar

from memkv import layout, recall, transfer
from memkv.backends.base import Backend, Outcome, ReadTxn, Table, WriteTxn
from memkv.cache import CachedValue, EntryReads, ReadCache, Uncached
from memkv.clock import SYSTEM_CLOCK, Clock
from memkv.entry import CORE, MemoryEntry
from memkv.errors import InvalidArgument, StoreClosed, TransactionClosed
from memkv.expiry import Ttl, check_ttl
from memkv.group_commit import GroupCommitter, Pending, WriterCallback
from memkv.purge import PurgeFilter, purge
from memkv.query import check_limit
from memkv.runs import (
    DEFERRED_BODY,
    PLAIN_RESULT_TYPES,
    SYNC_CALLABLE_TYPES,
    GroupRun,
    PreparedStore,
    check_result,
    check_runs_now,
    outcome,
    run_alone,
)
from memkv.transfer import ImportReport, PathOrFile
from memkv.verify import repair_store, verify_snapshot
from memkv.views import Entries, KeyList, OnConflict, Reader, ReadOperations, Transaction

R = TypeVar("R")
Problems = list[str]  # `list` names a method inside Memory

SWEEP_BATCH: Final = 32  # expired entries one transaction of `Memory.sweep` removes at most
SWEEP_BUDGET: Final = 0.005  # seconds of work after which it commits what it removed

__all__ = ["Entries", "InternalSpace", "KeyList", "Memory", "Problems", "Reader", "Transaction"]


class Memory(ReadOperations):
    """A durable key-value memory. Open one with `memkv.open`.

    Thread-safe; usable as a context manager (closed on exit). The read operations
    (`get`, `list`, `keys`, `count`, `categories`, `sessions`) each read one
    snapshot; every method that writes is one transaction; `transact` runs several
    operations as one. Writes
    from many threads at once are group-committed (`memkv.group_commit`): each
    returns once its own write is durable, having shared the flush with the others.

    A store has two key spaces: the user's memories, which these operations read
    and write, and an internal one, `internal`, where the packages built on memkv
    keep their records out of the user's categories, counts and lists.
    """

    _space = layout.USER_SPACE

    def __init__(
        self,
        backend: Backend,
        *,
        cache_size: int = 4096,
        recall: bool | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """A `Memory` over an open ``backend`` (`memkv.open` makes both); ``recall``:
        see `memkv.Options.recall`; ``clock``: what it reads the time from
        (`memkv.clock`). Closes ``backend`` if it raises.

        Raises:
            InvalidArgument: ``recall`` differs from the store's choice.
        """
        self._backend = backend
        self._clock = clock
        read_record = backend.point_reader(Table.ENTRIES)
        self._cache = (
            ReadCache(cache_size, read_record, backend.commit_id_reader(), clock.now)
            if cache_size > 0
            else None
        )
        self._reads: EntryReads = (
            Uncached(read_record, clock.now) if self._cache is None else self._cache
        )
        if type(self).get is Memory.get:  # a subclass's own `get` stays its own
            # The hottest call of the library goes straight to the cache's method,
            # bound here on the instance (a call through `Memory.get` below costs
            # about 90 ns, a third of a cache hit); `Memory.get` documents it.
            self.get = self._reads.get  # type: ignore[method-assign]
        self._closed = False
        self._close_lock = threading.Lock()
        self._committer = GroupCommitter(self._commit_group, backend.flush)
        self._internal: InternalSpace | None = None
        try:
            self._settle_recall(recall, readonly=backend.readonly)
        except BaseException:
            self.close()
            raise

    # -- lifecycle -----------------------------------------------------------------

    @property
    def backend(self) -> Backend:
        return self._backend

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def clock(self) -> Clock:
        """What the store reads the time from: for timestamps and expiry."""
        return self._clock

    @property
    def internal(self) -> Memory:
        """The same store's internal key space, with the same operations: for the
        packages built on memkv (sequence logs, domain records and their indexes),
        whose records must not show among the user's memories. Its transactions
        are this store's (``tx.internal`` is the same view inside a transaction)."""
        internal = self._internal
        if internal is None:
            internal = self._internal = InternalSpace(self)
        return internal

    def close(self) -> None:
        """Close the store; later calls raise `StoreClosed`. Repeated calls do nothing."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._committer.close()  # lets the writes already queued commit
        self._reads.close(self._closed_message())  # `get` raises StoreClosed from now on
        if self._internal is not None:
            self._internal._reads.close(self._closed_message())
        self._backend.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<memkv.Memory {self._backend.name} {self._backend.location!r} {state}>"

    def health_check(self) -> bool:
        """``True`` if the store can be read and holds a format this memkv reads."""
        return not self.closed and self._backend.health_check()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed(self._closed_message())

    _check_usable = _check_open

    def _closed_message(self) -> str:
        return f"the store at {self._backend.location} is closed"

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

        ``fn`` must be a plain function: an ``async def`` (whose body would not run)
        is refused before anything runs, and a function that returns an awaitable
        fails (its transaction rolled back, a coroutine closed).

        Raises:
            Whatever ``fn`` raises; InvalidArgument (``fn`` is async: see
            `memkv.runs.check_runs_now`), StoreClosed, ReadOnlyStore,
            NestedTransaction, StorageFull, BackendError.
        """
        self._check_open()
        self._backend.check_writable()
        if type(fn) not in SYNC_CALLABLE_TYPES:
            check_runs_now(fn)
        return self._committer.run(fn)  # type: ignore[no-any-return]

    def submit(self, fn: Callable[[Transaction], Any], on_done: WriterCallback) -> Pending:
        """Queue ``fn`` for the next group commit and return at once; the writer
        thread calls ``on_done((True, result))`` or ``on_done((False, exception))``
        once the commit holding it is durable. `memkv.aio` is built on this.

        Raises (at once):
            InvalidArgument (``fn`` is async, as in `transact`), StoreClosed,
            ReadOnlyStore, NestedTransaction.
        """
        self._check_open()
        self._backend.check_writable()
        if type(fn) not in SYNC_CALLABLE_TYPES:
            check_runs_now(fn)
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
            outcomes, txn_id = self._backend.write_group([run_alone(fns[0], self._clock)])
        else:
            outcomes, txn_id = GroupRun(fns, self._clock).commit(self._backend.write_group)
        results: list[Outcome] = []
        written: dict[str, CachedValue] = {}
        for ok, value in outcomes:
            if ok:
                result, wrote = value
                written.update(wrote)
                results.append((True, result))
            else:
                results.append(outcome(ok, value))
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

        Raises:
            Whatever ``fn`` raises; TransactionClosed (``view`` used after ``fn``
            returned), InvalidArgument (``fn`` is async, as in `transact`),
            StoreClosed, BackendError.
        """
        self._check_open()
        if type(fn) is not FunctionType or fn.__code__.co_flags & DEFERRED_BODY:
            check_runs_now(fn, "a snapshot function")

        space = self._space
        now = self._clock.now()

        def run(txn: ReadTxn) -> R:
            view = _SnapshotView(txn, space, now)
            try:
                result = fn(view)
            finally:
                view._end()  # see `_SnapshotView`
            if type(result) not in PLAIN_RESULT_TYPES:
                check_result(result, "a snapshot function")
            return result

        return self._backend.read(run, several_reads=True)

    # -- writes ----------------------------------------------------------------------

    def store(
        self,
        key: str,
        content: Any,
        category: str = CORE,
        session_id: str | None = None,
        *,
        ttl: Ttl | None = None,
    ) -> MemoryEntry[Any]:
        """Store ``content`` at ``key`` (insert or replace), expiring ``ttl`` after
        (seconds or a `timedelta`; ``None``: never); see `Transaction.store`.
        Returns once the write is as durable as the store's ``durability`` promises."""
        return self.transact(self._prepare(key, content, category, session_id, ttl))

    def insert(
        self,
        key: str,
        content: Any,
        category: str = CORE,
        session_id: str | None = None,
        *,
        ttl: Ttl | None = None,
    ) -> MemoryEntry[Any]:
        """Store ``content`` at ``key`` only if absent (or expired); see
        `Transaction.insert`.

        Raises:
            Conflict: the key is present; the stored entry is left untouched.
        """
        return self.transact(
            self._prepare(key, content, category, session_id, ttl, only_if_absent=True)
        )

    def _prepare(
        self,
        key: str,
        content: Any,
        category: str = CORE,
        session_id: str | None = None,
        ttl: Ttl | None = None,
        *,
        only_if_absent: bool = False,
    ) -> PreparedStore:
        """A `store` (or, with ``only_if_absent``, `insert`) as a transaction function,
        checked, stamped by this store's clock and encoded now (`memkv.runs.PreparedStore`).

        Raises:
            InvalidKey, InvalidArgument, InvalidContent.
        """
        return PreparedStore(
            key,
            content,
            category,
            session_id,
            only_if_absent=only_if_absent,
            ttl=ttl,
            clock=self._clock,
        )

    def forget(self, key: str) -> bool:
        """Remove ``key``; ``True`` if it was there. See `Transaction.forget`."""
        return self.transact(lambda tx: tx.forget(key))

    def touch(self, key: str, ttl: Ttl | None) -> MemoryEntry[Any]:
        """Make the entry at ``key`` expire ``ttl`` from now (``None``: never); see
        `Transaction.touch`.

        Raises:
            NotFound: the key is absent or has expired.
        """
        check_ttl(ttl)  # before the transaction: bad input never waits for the writer
        return self.transact(lambda tx: tx.touch(key, ttl))

    def sweep(self, limit: int | None = None) -> int:
        """Remove the expired entries of this key space (at most ``limit``), soonest
        expired first, in short transactions (`SWEEP_BUDGET` each) so that other
        writers wait little; return how many were removed. Its cost is what it
        removes: on a store with nothing expired, one range scan.

        Raises:
            InvalidArgument (``limit``), StoreClosed, ReadOnlyStore, BackendError.
        """
        check_limit(limit)
        removed = 0
        while limit is None or removed < limit:
            batch = SWEEP_BATCH if limit is None else min(SWEEP_BATCH, limit - removed)
            swept = self.transact(functools.partial(_sweep, batch))
            removed += swept
            if not swept:
                break
        return removed

    def purge(
        self,
        *,
        category: str | None = None,
        session_id: str | None = None,
        prefix: str | None = None,
    ) -> int:
        """Remove every entry that matches all the filters given (at least one: a
        category, a session id, a key prefix); return how many were removed (0 if
        none matched: purging twice is harmless).

        Runs in transactions of a few hundred entries (`memkv.purge`), each removing
        them as `forget` does, so other writers wait little behind it; a crash
        midway leaves a consistent store, and the same purge run again finishes it.
        Reads only the index serving the filter: costs what it removes. The
        internal space's ``purge`` (``mem.internal.purge``) purges only that space;
        this one, only the user's.

        Raises:
            InvalidArgument: no filter, or a bad one (as `list` refuses it), or an
                empty prefix (which would match every key).
            StoreClosed, ReadOnlyStore, StorageFull, BackendError (what the batches
            before committed stays removed).
        """
        return purge(self.transact, PurgeFilter.of(category, session_id, prefix))

    # -- reads -------------------------------------------------------------------------

    def get(self, key: str, type: Any = None) -> MemoryEntry[Any] | None:  # noqa: A002
        """The entry at ``key``, or ``None`` if absent; see `ReadOperations.get`.

        Served from the read cache while the store has not changed (in any process)
        since the entry was cached: `memkv.cache.ReadCache.get`, which each instance
        binds as its ``get``.
        """
        return self._reads.get(key, type)

    def verify(self) -> Problems:
        """Check that every record can be read and that the indexes and counts agree
        with the entries (in both key spaces), in one snapshot; return the problems
        found, a sentence each (empty: consistent). Reads the whole store."""
        self._check_open()
        return self._backend.read(verify_snapshot, several_reads=True)

    def repair(self) -> Problems:
        """Make the store consistent, in one transaction: remove the records that
        cannot be read, and rebuild the indexes and counts from the entries. Returns
        what it did, a sentence each (empty: nothing to do). Reads the whole store;
        a maintenance operation (``memkv verify --repair``).

        Raises:
            StoreClosed, ReadOnlyStore, StorageFull, BackendError.
        """
        self._check_open()
        self._backend.check_writable()
        # Like a write of another process, the read cache sees it by its commit id.
        return self._backend.write(repair_store)

    def backup(self, dest: str | os.PathLike[str], *, compact: bool = True) -> Path:
        """Write a consistent copy of the store (both key spaces, as of one snapshot,
        while writers go on) to the new directory ``dest``, which `memkv.open` opens
        as a store; return its absolute path. ``compact`` leaves out free pages (the
        copy is then no larger than the data it holds). It is written to a temporary
        directory beside ``dest`` and renamed into place: ``dest`` holds a whole store
        or nothing. LMDB only: see `memkv.backup`.

        Raises:
            Unsupported: a PostgreSQL or in-memory store (export_jsonl and
                import_jsonl copy its entries).
            InvalidArgument: ``dest`` is not a path, exists, or is inside the store's
                directory; nothing written.
            NotFound: ``dest``'s parent directory does not exist; nothing written.
            StoreClosed, StorageFull, BackendError.
        """
        self._check_open()
        return self._backend.backup(dest, compact=compact)

    # -- export and import -------------------------------------------------------------

    def export_jsonl(
        self,
        path_or_file: PathOrFile,
        *,
        category: str | None = None,
        session_id: str | None = None,
        prefix: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        """Write the entries that pass the filters to ``path_or_file`` as JSON Lines,
        one object per entry with every field, from one snapshot while writers go on;
        return how many. A path is written under a temporary name and renamed. See
        `memkv.transfer.export_jsonl` (the format, the errors)."""
        self._check_open()
        return transfer.export_jsonl(
            self,
            path_or_file,
            category=category,
            session_id=session_id,
            prefix=prefix,
            since=since,
            until=until,
        )

    def import_jsonl(
        self, path_or_file: PathOrFile, *, on_conflict: OnConflict = "error"
    ) -> ImportReport:
        """Store the entries of a file `export_jsonl` wrote, with their ids, timestamps
        and expiry; the whole file is checked first, and a file with a bad line (or,
        under ``on_conflict="error"``, a key already present) changes nothing. See
        `memkv.transfer.import_jsonl`.

        Raises:
            BadImportFile, ImportConflict: naming the lines; InvalidArgument (in the
            internal key space, too), NotFound, ReadOnlyStore, StoreClosed...
        """
        self._check_open()
        self._backend.check_writable()
        if self._space != layout.USER_SPACE:
            raise InvalidArgument("import_jsonl writes the user's key space only")
        return transfer.import_jsonl(self, path_or_file, on_conflict=on_conflict)

    def _settle_recall(self, wanted: bool | None, *, readonly: bool) -> None:
        """Make the store's recall choice (`memkv.Options.recall`) what ``wanted`` asks:
        a new store records it (default: keep the index); a store made before recall
        gets its index built now, once, if it is opened for writing.

        Raises:
            InvalidArgument: ``wanted`` differs from the choice of a store that holds
                entries.
        """
        current = self._backend.read(recall.setting)
        if current is None:
            if not readonly:
                keep = True if wanted is None else wanted
                self._backend.write(lambda txn: _first_choice(txn, keep))
            return
        if wanted is None or wanted == current:
            return
        state = "keeps a recall index" if current else "keeps no recall index"
        if readonly:
            raise InvalidArgument(
                f"the store at {self._backend.location} {state}; a read-only open cannot "
                f"change that (recall={wanted})"
            )
        if self.count():
            raise InvalidArgument(
                f"the store at {self._backend.location} {state}, chosen when it was "
                f"created; recall={wanted} cannot change that for a store that holds "
                "entries (copy its entries into a new store instead)"
            )
        self._backend.write(lambda txn: recall.choose(txn, wanted))

    def _read(self, fn: Callable[[Reader], R], *, several_reads: bool = False) -> R:
        """``fn`` on a `Reader` of a snapshot of its own."""
        self._check_open()
        space = self._space
        now = self._clock.now()
        return self._backend.read(
            lambda txn: fn(Reader(txn, space, now)), several_reads=several_reads
        )


class InternalSpace(Memory):
    """`Memory`'s operations on the internal key space of a store (`Memory.internal`).

    It shares its store's backend, group commits and lifecycle: its transactions
    are the store's, run on ``tx.internal``; closing it closes the store. Its reads
    are not cached (the read cache holds the user's keys).
    """

    _space = layout.INTERNAL_SPACE

    def __init__(self, owner: Memory) -> None:
        self._owner = owner
        self._backend = owner.backend
        self._clock = owner._clock
        self._cache = None
        read_record = owner.backend.point_reader(Table.ENTRIES)
        self._reads = Uncached(
            lambda raw_key: read_record(layout.INTERNAL_SPACE + raw_key), self._clock.now
        )
        self.get = self._reads.get  # type: ignore[method-assign]
        self._committer = owner._committer
        self._internal = self

    @property
    def closed(self) -> bool:
        return self._owner.closed

    def close(self) -> None:
        """Close the store (see `Memory.close`)."""
        self._owner.close()

    def __repr__(self) -> str:
        return f"<memkv.Memory internal space of {self._owner!r}>"

    def _check_open(self) -> None:
        self._owner._check_open()

    _check_usable = _check_open

    def transact(self, fn: Callable[[Transaction], R]) -> R:
        """See `Memory.transact`; ``fn`` receives the internal view."""
        return self._owner.transact(_in_internal_space(fn))

    def submit(self, fn: Callable[[Transaction], Any], on_done: WriterCallback) -> Pending:
        """See `Memory.submit`; ``fn`` receives the internal view."""
        return self._owner.submit(_in_internal_space(fn), on_done)


def _sweep(limit: int, tx: Transaction) -> int:
    """One transaction of `Memory.sweep`."""
    return tx._sweep(limit, SWEEP_BUDGET)


def _in_internal_space(fn: Callable[[Transaction], R]) -> Callable[[Transaction], R]:
    """``fn`` run on the internal view of the transaction it is given (refused now
    if it is async, as `Memory.transact` would)."""
    if type(fn) not in SYNC_CALLABLE_TYPES:
        check_runs_now(fn)
    return lambda tx: fn(tx.internal)


class _SnapshotView(Reader):
    """The view `Memory.snapshot` hands its function: ended when the function
    returns (with its internal view), so that a view kept past its snapshot raises
    `TransactionClosed` on every backend (rather than an engine error, or a read of
    whatever the connection or transaction does next)."""

    __slots__ = ("_other",)

    def __init__(self, txn: ReadTxn, space: layout.Space, now: datetime) -> None:
        super().__init__(txn, space, now)
        self._other: _SnapshotView | None = None

    @property
    def internal(self) -> Reader:
        if self._space == layout.INTERNAL_SPACE:
            return self
        if self._other is None:
            self._other = _SnapshotView(self._txn, layout.INTERNAL_SPACE, self._moment())
        return self._other

    def _end(self) -> None:
        self._txn = _ENDED
        if self._other is not None:
            self._other._txn = _ENDED


class _EndedSnapshot:
    """The snapshot of an ended view: every read raises `TransactionClosed`."""

    __slots__ = ()

    @staticmethod
    def _ended() -> NoReturn:
        raise TransactionClosed(
            "this snapshot has ended; use its view only inside the snapshot function "
            "(return values from it, not the view)"
        )

    @property
    def snapshot_id(self) -> int:
        self._ended()

    def get(self, table: Table, key: bytes) -> bytes | None:
        self._ended()

    def scan(
        self,
        table: Table,
        start: bytes,
        stop: bytes | None,
        *,
        reverse: bool = False,
        limit: int | None = None,
        keys_only: bool = False,
    ) -> list[tuple[bytes, bytes]]:
        self._ended()


_ENDED: Final = _EndedSnapshot()


def _first_choice(txn: WriteTxn, keep: bool) -> None:
    """Record a store's first recall choice; for a store made before recall that
    keeps it, build the index from its entries (`memkv.verify.repair_store`)."""
    if recall.setting(txn) is not None:
        return  # another process chose meanwhile
    recall.choose(txn, keep)
    if keep:
        repair_store(txn)
