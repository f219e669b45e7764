"""One LMDB environment (`Environment`): opening it and checking its format, read
and write transactions, growing its map, flushing, fork and close. It keeps the
rules of docs/design.md, "LMDB discipline".

Reads and flushes are in flight while they use the environment; a fork or a close
closes a gate to new ones and waits (a bounded wait) for those in flight to end. A
forked child closes the inherited LMDB environment, whose reader slots carry the
parent's pid, and opens its own on first use.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import lmdb

from memkv.backends.base import Outcome, ReadTxn, T, Table, WriteTxn
from memkv.backends.lmdb.commit_id import LockFileCommitId
from memkv.backends.lmdb.errors import engine_error, file_error, open_error, write_error
from memkv.backends.lmdb.reader_table import reap_dead_readers
from memkv.backends.lmdb.store_files import (
    allocate_lock_file,
    check_store_files,
    remove_failed_creation,
)
from memkv.backends.lmdb.txn import LmdbReadTxn, LmdbWriteTxn, RetryWithLargerMap
from memkv.errors import (
    MemkvError,
    NestedTransaction,
    ReadOnlyStore,
    StorageFull,
    StoreClosed,
    StoreUnavailable,
)
from memkv.options import Durability

FORMAT_KEY: Final = b"format"
FORMAT: Final = b"memkv/1"

DB_NAMES: Final = {Table.ENTRIES: b"entries", Table.INDEX: b"index", Table.META: b"meta"}
_ENTRIES: Final = Table.ENTRIES
# LMDB 0.9 and data format v1: py-lmdb 3 also bundles LMDB 1.0, whose files differ.
LIB_VERSION: Final = 0
_MIN_MAP_SIZE: Final = 1 << 20  # LMDB needs a few pages for its named databases
_MAX_READERS: Final = 256  # reader slots: one per concurrent read transaction, all processes
_FORK_WAIT_SECONDS: Final = 5.0
_OPEN_ATTEMPTS: Final = 100  # opens that find the map grown by another process meanwhile
# Stale reader slots (of processes that died in a read) are cleared at open, and then
# by a writing process every so many commits or seconds, whichever comes first: each
# pins the pages of its snapshot, so that the file grows instead of reusing them, and
# their slots lock new processes out.
_REAP_INTERVAL_SECONDS: Final = 1.0
_REAP_INTERVAL_WRITES: Final = 64

_abandoned: list[object] = []  # environments closed while a read was stuck in them


class _FunctionFailed(Exception):
    """Carries the exception of a transaction function out of its transaction, so
    that the transaction aborts."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


class InFlight:
    """The reads and flushes in flight on one environment, and the gate that holds
    new ones back while a fork or a close waits for those in flight to end.

    In flight means one item in a deque, whose append and pop are atomic: the read
    path takes no lock. ``register`` and ``leave`` are the deque's own methods, for
    `Environment.point_reader` to call with no Python layer between; after
    ``register(None)`` it must check ``gate_closed`` (`enter` does all that).
    """

    __slots__ = ("_calls", "_gate", "gate_closed", "leave", "register")

    def __init__(self) -> None:
        calls: collections.deque[None] = collections.deque()
        self._calls = calls
        self.register: Callable[[None], None] = calls.append
        self.leave: Callable[[], None] = calls.pop
        self._gate = threading.Lock()  # held while new ones must wait (fork, close)
        self.gate_closed = False

    def enter(self, environment: Environment) -> lmdb.Environment:
        """Register one in flight on ``environment`` and return its live LMDB
        environment (opening it in a forked child); while a fork or close is under
        way, wait for it first. Each `enter` is followed by one `leave`."""
        while True:
            env = environment._env
            if env is None:  # closed, or not yet opened in a forked child
                env = environment._live_env()
            self._calls.append(None)
            if not self.gate_closed and environment._env is env:
                return env
            self._calls.pop()
            with self._gate:  # a fork or close is under way: wait for it
                pass

    def close_gate(self, timeout: float) -> bool:
        """Hold new ones back, and wait up to ``timeout`` seconds for those in flight
        to leave: ``False`` if some are left. `open_gate` follows in any case."""
        self._gate.acquire()
        self.gate_closed = True
        deadline = time.monotonic() + timeout
        while self._calls and time.monotonic() < deadline:
            time.sleep(0.0002)
        return not self._calls

    def open_gate(self) -> None:
        self.gate_closed = False
        self._gate.release()


class Environment:
    """One open LMDB environment, shared by every `LmdbBackend` on its directory in
    this process."""

    def __init__(
        self,
        path: Path,
        identity: tuple[int, int],
        *,
        map_size: int,
        max_map_size: int,
        durability: Durability,
        readonly: bool,
        lock: bool = True,
    ) -> None:
        """``lock=False`` (with ``readonly``): open without LMDB's lock file (see
        `memkv.LmdbOptions.lock`); the commit id then comes from the data file."""
        self.path = path
        self.identity = identity
        self.durability = durability
        self.readonly = readonly
        self.lock = lock
        self.max_map_size = max_map_size
        self.handles = 0
        self.reaped_readers = 0
        self._initial_map_size = max(map_size, _MIN_MAP_SIZE)
        self._write_lock = threading.Lock()  # writers, map resizes, close, fork
        self._reopen_lock = threading.Lock()
        self._writer_thread: int | None = None
        self._flushes_after_commit = durability.flushes_after_commit and not readonly
        self._flush_lock = threading.Lock()
        self._flushed_through = 0  # every commit up to this id is known flushed
        self._inflight = InFlight()  # reads and flushes, held back by a fork or close
        self._remaps = 0
        self._next_reap = 0.0  # a writer clears stale reader slots at this time,
        self._writes_until_reap = _REAP_INTERVAL_WRITES  # or after so many writes
        self._unusable_reason: str | None = None
        self._env: lmdb.Environment | None = None
        self._dbs: dict[Table, Any] = {}
        self._lock_file = LockFileCommitId(path)  # closed only after the environment
        self._open_engine()

    # -- opening ---------------------------------------------------------------

    def _open_engine(self) -> None:
        """Open the environment and its tables. Another process may grow the map
        meanwhile (LMDB's MDB_MAP_RESIZED): the open then adopts the new size and
        tries again, up to `_OPEN_ATTEMPTS` times. Every reader slot taken by dead
        processes (MDB_READERS_FULL) is cleared, and the open tried again. The store's
        files are checked first (`memkv.backends.lmdb.store_files`)."""
        new = check_store_files(self.path, readonly=self.readonly, lock=self.lock)
        if self.lock:
            allocate_lock_file(self.path, max_readers=_MAX_READERS)
        for attempt in range(1, _OPEN_ATTEMPTS + 1):
            try:
                env = self._open_environment(new=new)
            except lmdb.MapResizedError as exc:  # the map grew between open and first read
                if attempt == _OPEN_ATTEMPTS:
                    raise engine_error(f"cannot open the store at {self.path}", exc) from exc
                continue
            except lmdb.ReadersFullError as exc:  # py-lmdb takes a slot while it opens
                reaped = reap_dead_readers(self.path) if attempt < _OPEN_ATTEMPTS else 0
                if not reaped:
                    raise open_error(
                        self.path, exc, readonly=self.readonly, lock=self.lock
                    ) from exc
                self.reaped_readers += reaped
                continue
            try:
                # Before the tables are opened, which takes a slot in a read-only open.
                self.reaped_readers += env.reader_check()
                dbs = self._open_databases_adopting_map_size(env)
                self._dbs.clear()  # in place: `point_reader` closures hold this dict
                self._dbs.update(dbs)
            except BaseException:
                env.close()
                raise
            self._env = env
            self._next_reap = time.monotonic() + _REAP_INTERVAL_SECONDS
            break
        if self.lock and not self._lock_file.opened:  # without the lock, it may be stale
            self._lock_file.map_file(self._last_txnid_slow)

    def _open_environment(self, *, new: bool) -> lmdb.Environment:
        """`lmdb.open` with memkv's settings (``new``: it creates the store, whose
        files are removed if the disk is too full for them).

        Raises:
            lmdb.MapResizedError: another process grew the map meanwhile.
            lmdb.ReadersFullError: every reader slot is taken (LMDB reads while opening).
            StoreUnavailable, BackendError: see `open_error`.
        """
        try:
            return lmdb.open(
                str(self.path),
                map_size=self._initial_map_size,
                subdir=True,
                readonly=self.readonly,
                max_dbs=len(DB_NAMES),
                max_readers=_MAX_READERS,
                mode=0o600,
                create=not self.readonly,
                lock=self.lock,
                lib_version=LIB_VERSION,
                **self.durability.lmdb_flags(),
            )
        except (lmdb.MapResizedError, lmdb.ReadersFullError):
            raise
        except lmdb.Error as exc:
            error = open_error(self.path, exc, readonly=self.readonly, lock=self.lock)
            if new and isinstance(error, StorageFull):
                remove_failed_creation(self.path)
            raise error from exc

    def _open_databases_adopting_map_size(self, env: lmdb.Environment) -> dict[Table, Any]:
        """`_open_databases`, taking the map size of the file whenever another
        process grew it meanwhile (up to `_OPEN_ATTEMPTS` times)."""
        for attempt in range(1, _OPEN_ATTEMPTS + 1):
            try:
                return self._open_databases(env)
            except lmdb.MapResizedError as exc:
                if attempt == _OPEN_ATTEMPTS:
                    raise engine_error(f"cannot open the tables of {self.path}", exc) from exc
                try:
                    env.set_mapsize(0)  # 0: the size the other process set
                except lmdb.Error as resize_exc:
                    raise engine_error(
                        f"cannot resize the map of {self.path}", resize_exc
                    ) from resize_exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _open_databases(self, env: lmdb.Environment) -> dict[Table, Any]:
        """The tables of ``env``, created (with the format record) in a new store.

        Raises:
            lmdb.MapResizedError: another process grew the map meanwhile.
            StoreUnavailable: not a memkv store, or another format.
            BackendError: LMDB failed.
        """
        try:
            if self.readonly:
                # Opened without a transaction: handles opened in a read transaction
                # would die with it.
                dbs = {t: env.open_db(name, create=False) for t, name in DB_NAMES.items()}
                with env.begin() as txn:
                    found = txn.get(FORMAT_KEY, db=dbs[Table.META])
            else:
                with env.begin(write=True) as txn:
                    foreign = [key for key, _ in txn.cursor() if key not in DB_NAMES.values()]
                    if foreign:
                        raise StoreUnavailable(
                            f"{self.path} is not a memkv store (it holds other LMDB data, "
                            f"such as key {foreign[0]!r})"
                        )
                    dbs = {t: env.open_db(name, txn=txn) for t, name in DB_NAMES.items()}
                    found = txn.get(FORMAT_KEY, db=dbs[Table.META])
                    if found is None and txn.stat(dbs[_ENTRIES])["entries"] == 0:
                        txn.put(FORMAT_KEY, FORMAT, db=dbs[Table.META])
                        found = FORMAT
        except lmdb.NotFoundError as exc:
            raise StoreUnavailable(f"{self.path} is not a memkv store (no memkv tables)") from exc
        except lmdb.MapResizedError:
            raise
        except lmdb.Error as exc:
            raise engine_error(f"cannot open the tables of {self.path}", exc) from exc
        if found != FORMAT:
            raise StoreUnavailable(
                f"{self.path} holds format {found!r}; this memkv reads {FORMAT!r}"
            )
        return dbs

    def _last_txnid_slow(self) -> int:
        return int(self._live_env().info()["last_txnid"])

    def commit_id(self) -> int:
        found = self._lock_file.commit_id()
        return self._last_txnid_slow() if found is None else found

    def commit_id_reader(self) -> Callable[[], int]:
        return self._lock_file.commit_id_reader() or self.commit_id

    # -- transactions ----------------------------------------------------------

    def _live_env(self) -> lmdb.Environment:
        env = self._env
        if env is not None:
            return env
        if self._unusable_reason is not None:
            raise StoreUnavailable(self._unusable_reason)
        if self.handles <= 0:
            raise StoreClosed(f"the store at {self.path} is closed")
        with self._reopen_lock:  # first use in a forked child (see `after_fork_in_child`)
            if self._env is None:
                self._open_engine()
            assert self._env is not None
            return self._env

    def read(self, fn: Callable[[ReadTxn], T], *, several_reads: bool = False) -> T:
        inflight = self._inflight
        while True:
            env = inflight.enter(self)
            remaps = self._remaps
            try:
                with env.begin() as txn:
                    return fn(LmdbReadTxn(txn, self._dbs))
            except lmdb.MapResizedError:
                failure: lmdb.Error | None = None
            except lmdb.Error as exc:
                failure = exc
            finally:
                inflight.leave()
            # Out of the in-flight region, so that a fork or close can proceed.
            if failure is None:
                self._adopt_map_size()
            elif isinstance(failure, lmdb.ReadersFullError) and self.reap_stale_readers():
                continue
            elif self._remaps == remaps:
                with self._write_lock:  # a remap (which invalidates readers) may be under way
                    pass
                if self._remaps == remaps and self._env is env:
                    raise engine_error(f"read from {self.path} failed", failure) from failure

    def point_reader(self, table: Table) -> Callable[[bytes], bytes | None]:
        """`read` of one key, without the general path's function calls (the cache
        miss path of `Memory.get`): registered in flight the same way (`InFlight`),
        falling back to `read` whenever the environment is not there to use."""
        inflight = self._inflight
        register, leave = inflight.register, inflight.leave
        dbs = self._dbs  # updated in place when the environment is reopened

        def get_one(key: bytes) -> bytes | None:
            register(None)
            try:
                env = self._env
                if env is not None and not inflight.gate_closed:
                    with env.begin(db=dbs[table]) as txn:
                        return txn.get(key)
            except lmdb.Error:
                pass  # a remap, a resize, a closing store: the general path sorts it out
            finally:
                leave()
            return self.read(lambda txn: txn.get(table, key))

        return get_one

    def check_writable(self) -> None:
        if self.readonly:
            raise ReadOnlyStore(f"the store at {self.path} was opened read-only")
        if self._writer_thread == threading.get_ident():
            raise NestedTransaction(
                f"a write transaction on {self.path} is already open on this thread; use its tx"
            )

    def write_group(self, fns: list[Callable[[WriteTxn], Any]]) -> tuple[list[Outcome], int]:
        self.check_writable()
        thread = threading.get_ident()
        with self._write_lock:
            self._writer_thread = thread
            try:
                return self._write_group_locked(fns)
            finally:
                self._writer_thread = None

    def _write_group_locked(
        self, fns: list[Callable[[WriteTxn], Any]]
    ) -> tuple[list[Outcome], int]:
        self._writes_until_reap -= 1
        if self._writes_until_reap <= 0 or time.monotonic() >= self._next_reap:
            self.reap_stale_readers()
        savepoints = False  # first try: all in the transaction itself, the cheap way
        while True:
            env = self._live_env()
            try:
                with env.begin(write=True) as txn:
                    if savepoints:
                        outcomes = self._run_in_savepoints(env, txn, fns)
                    else:
                        outcomes = self._run_together(txn, fns)
                    txn_id = txn.id()
                return outcomes, txn_id
            except _FunctionFailed as failed:  # aborted: nothing committed
                if len(fns) == 1:
                    return [(False, failed.error)], 0
                savepoints = True  # run them all again, each able to roll back alone
            except (RetryWithLargerMap, lmdb.MapFullError):
                self._grow_map()
            except lmdb.MapResizedError:
                self._set_map_size(0)
            except lmdb.Error as exc:
                raise write_error(self.path, f"write to {self.path} failed", exc) from exc

    def _run_together(
        self, txn: lmdb.Transaction[bytes], fns: list[Callable[[WriteTxn], Any]]
    ) -> list[Outcome]:
        """Every function in ``txn`` itself; the first that raises aborts them all
        (`_FunctionFailed`). Functions seldom raise, and a savepoint costs a nested
        transaction each."""
        view = LmdbWriteTxn(txn, self._dbs)
        outcomes: list[Outcome] = []
        for fn in fns:
            try:
                outcomes.append((True, fn(view)))
            except RetryWithLargerMap:
                raise
            except Exception as exc:
                raise _FunctionFailed(self._function_error(exc)) from None
        return outcomes

    def _run_in_savepoints(
        self,
        env: lmdb.Environment,
        txn: lmdb.Transaction[bytes],
        fns: list[Callable[[WriteTxn], Any]],
    ) -> list[Outcome]:
        """Each function in a nested transaction of its own, so that one that raises
        rolls back alone."""
        outcomes: list[Outcome] = []
        for fn in fns:
            try:
                with env.begin(write=True, parent=txn) as child:
                    result = fn(LmdbWriteTxn(child, self._dbs))
                outcomes.append((True, result))
            except RetryWithLargerMap:
                raise
            except lmdb.MapFullError as exc:  # from the nested commit: grow, run all again
                raise RetryWithLargerMap from exc
            except Exception as exc:
                outcomes.append((False, self._function_error(exc)))
        return outcomes

    def _function_error(self, exc: Exception) -> Exception:
        if isinstance(exc, lmdb.Error):
            return write_error(self.path, f"write to {self.path} failed", exc)
        return exc

    def flush(self, txn_id: int) -> None:
        if not self._flushes_after_commit or txn_id <= self._flushed_through:
            return
        with self._flush_lock:  # one flush at a time; the next may find itself covered
            if txn_id <= self._flushed_through:
                return
            covered = self.commit_id()  # the meta pages of these are written already
            env = self._inflight.enter(self)  # like a read, so that close and fork wait
            try:
                env.sync(True)
            except lmdb.Error as exc:
                raise engine_error(f"cannot flush {self.path} to disk", exc) from exc
            finally:
                self._inflight.leave()
            self._flushed_through = max(self._flushed_through, covered)

    def copy_to(self, fd: int, *, compact: bool) -> None:
        """Write a copy of the store, as of one snapshot, to the empty file open for
        writing at ``fd`` (LMDB's own copy: ``compact`` leaves out free pages and
        renumbers the others). Writers go on meanwhile; a close or fork waits for it
        like a read. Flushing the file is the caller's.

        Raises:
            StorageFull: the disk is full. BackendError: LMDB failed.
        """
        inflight = self._inflight
        while True:
            env = inflight.enter(self)
            try:
                env.copyfd(fd, compact=compact)
                return
            except lmdb.MapResizedError:
                failure: lmdb.Error | None = None
            except lmdb.Error as exc:
                failure = exc
            finally:
                inflight.leave()
            try:  # start again from an empty file
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
            except OSError as exc:
                raise file_error(f"cannot copy {self.path}", exc) from exc
            if failure is None:  # another process grew the map
                self._adopt_map_size()
            elif not (isinstance(failure, lmdb.ReadersFullError) and self.reap_stale_readers()):
                raise engine_error(f"cannot copy {self.path}", failure) from failure

    # -- the map -----------------------------------------------------------------

    def _grow_map(self) -> None:
        """Called with the write lock held and no write transaction open."""
        env = self._live_env()
        self.reap_stale_readers()  # stale readers pin old pages: reaping may free some
        current = int(env.info()["map_size"])
        if current >= self.max_map_size:
            raise StorageFull(
                f"the store at {self.path} reached its max_map_size of {self.max_map_size} bytes"
            )
        self._set_map_size(min(current * 2, self.max_map_size))

    def _adopt_map_size(self) -> None:
        """Another process grew the map: take its size (0 means "the file's")."""
        with self._write_lock:
            self._set_map_size(0)

    def _set_map_size(self, size: int) -> None:
        env = self._live_env()
        self._remaps += 1
        try:
            env.set_mapsize(size)
        except lmdb.Error as exc:
            raise engine_error(f"cannot resize the map of {self.path}", exc) from exc
        finally:
            self._remaps += 1

    # -- fork and close ------------------------------------------------------------

    def _quiesce(self) -> bool:
        """Take the write lock and close the read gate; wait for reads in flight.
        Returns ``False`` if reads were still in flight after a bounded wait."""
        self._write_lock.acquire()
        return self._inflight.close_gate(_FORK_WAIT_SECONDS)

    def _resume(self) -> None:
        self._inflight.open_gate()
        self._write_lock.release()

    def before_fork(self) -> None:
        if not self._quiesce():
            self._unusable_reason = (
                f"the store at {self.path} was in use by another thread when this process "
                "forked, so the child cannot use it: open stores after forking, or use the "
                "'spawn' start method"
            )

    def after_fork_in_parent(self) -> None:
        self._unusable_reason = None
        self._resume()

    def after_fork_in_child(self) -> None:
        """Drop the parent's environment; the child opens its own on first use."""
        if self._unusable_reason is None and self._env is not None:
            # No transaction is in flight (see before_fork), so closing releases
            # nothing of the parent's: LMDB clears only reader slots with our pid.
            self._env.close()
            self._env = None
        self._writer_thread = None
        self._resume()

    def close(self) -> None:
        quiet = self._quiesce()
        try:
            if quiet:
                if self._env is not None:
                    self._env.close()
                self._lock_file.close()
            else:
                # A read is stuck in flight: leave the environment (and the lock file,
                # see `LockFileCommitId`) open rather than pull them from under it, and
                # keep them referenced: collecting them would close them.
                _abandoned.append((self._env, self._lock_file))
            self._env = None
        finally:
            self._resume()

    # -- figures ---------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        while True:
            env = self._live_env()
            try:
                with env.begin() as txn:
                    records = {
                        t.name.lower(): txn.stat(db)["entries"] for t, db in self._dbs.items()
                    }
                break
            except lmdb.MapResizedError:  # another process grew the map
                self._adopt_map_size()
            except lmdb.Error as exc:
                raise engine_error(f"cannot read the figures of {self.path}", exc) from exc
        info = env.info()
        files = [self.path / "data.mdb", self.path / "lock.mdb"]
        return {
            "backend": "lmdb",
            "location": str(self.path),
            "records": records,
            "size_on_disk": sum(f.stat().st_blocks * 512 for f in files if f.exists()),
            "data_file_size": files[0].stat().st_size if files[0].exists() else 0,
            "map_size": int(info["map_size"]),
            "max_map_size": self.max_map_size,
            "page_size": int(env.stat()["psize"]),
            "last_commit": int(info["last_txnid"]),
            "readers_in_use": _count_readers(env.readers()),
            "reader_slots": int(info["max_readers"]),
            "durability": self.durability.value,
            "lmdb_version": ".".join(map(str, env.lib_version())),
        }

    def reap_stale_readers(self) -> int:
        """Clear the reader slots of dead processes (they pin old pages); the count.
        Writers call it at most every `_REAP_INTERVAL_SECONDS` by themselves."""
        self._next_reap = time.monotonic() + _REAP_INTERVAL_SECONDS
        self._writes_until_reap = _REAP_INTERVAL_WRITES
        try:
            reaped = int(self._live_env().reader_check())
        except lmdb.Error as exc:
            raise engine_error(f"cannot check the readers of {self.path}", exc) from exc
        self.reaped_readers += reaped
        return reaped

    def health_check(self) -> bool:
        try:
            self.reap_stale_readers()
            return self.read(lambda txn: txn.get(Table.META, FORMAT_KEY)) == FORMAT
        except MemkvError:
            return False


def _count_readers(table: str) -> int:
    return sum(
        1 for line in table.splitlines()[1:] if line.strip() and not line.rstrip().endswith("-")
    )
