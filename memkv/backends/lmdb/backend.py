"""The LMDB backend (py-lmdb), the default.

Discipline (see DESIGN.md, "LMDB discipline"):

* Data lives in three named databases, never in the main DB.
* The on-disk format is pinned: py-lmdb 3 bundles LMDB 0.9 and 1.0, whose files
  differ; memkv always opens with ``lib_version=0`` (data format v1, readable by every
  LMDB 0.9 tool). A store in another format is refused with a clear error.
* The map grows by itself: a write that fills it is retried on a larger map, so users
  never see ``MapFullError``; a map grown by another process is adopted.
* LMDB forbids opening one environment twice in a process, so every `LmdbBackend`
  on the same directory shares one `_Environment` (reference counted).
* Fork: an environment must not be used in a child process (its reader slots carry
  the parent's pid and leak). A fork hook waits until no transaction is in flight,
  and the child closes the inherited environment and opens its own on first use.
* Every transaction ends inside the call that began it; scans return lists.
"""

from __future__ import annotations

import collections
import errno
import functools
import mmap
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final

import lmdb

from memkv.backends.base import Backend, Outcome, ReadTxn, T, Table, WriteTxn
from memkv.errors import (
    BackendError,
    InvalidArgument,
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

_DB_NAMES: Final = {Table.ENTRIES: b"entries", Table.INDEX: b"index", Table.META: b"meta"}
_ENTRIES: Final = Table.ENTRIES
_LIB_VERSION: Final = 0  # LMDB 0.9.x engine, data format v1 (see module docstring)
_MIN_MAP_SIZE: Final = 1 << 20  # LMDB needs a few pages for its named databases
_MAX_READERS: Final = 256  # reader slots: one per concurrent read transaction, all processes
_FORK_WAIT_SECONDS: Final = 5.0
# The lock file begins with LMDB's MDB_txbody: magic (u32), format (u32), the reader
# mutex (40 bytes with glibc on 64-bit), then the last committed txn id (u64): LMDB
# keeps it there for readers to pick their snapshot. Reading it costs a memory load
# where mdb_env_info() costs a C call and a dict; the layout is checked at open and
# env.info() is used instead if it does not match.
_LOCK_MAGIC: Final = 0xBEEFC0DE
_LOCK_TXNID_WORD: Final = 6  # byte offset 48, in u64 words


class _FunctionFailed(Exception):
    """Carries the exception of a transaction function out of its transaction, so
    that the transaction aborts."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


class _RetryWithLargerMap(BaseException):
    """Raised out of a transaction function when the map is full. A BaseException, so
    that a transaction function that catches ``Exception`` cannot swallow it."""


class _ReadTxn:
    __slots__ = ("_dbs", "_txn")

    def __init__(self, txn: lmdb.Transaction[bytes], dbs: dict[Table, Any]) -> None:
        self._txn = txn
        self._dbs = dbs

    @property
    def snapshot_id(self) -> int:
        return self._txn.id()

    def get(self, table: Table, key: bytes) -> bytes | None:
        return self._txn.get(key, db=self._dbs[table])

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
        items: list[tuple[bytes, bytes]] = []
        if limit is not None and limit <= 0:
            return items
        with self._txn.cursor(db=self._dbs[table]) as cursor:
            if reverse:
                # Position on the last key below `stop`.
                positioned = cursor.last() if stop is None else _seek_below(cursor, stop)
                in_range: Callable[[bytes], bool] = start.__le__
            else:
                positioned = cursor.set_range(start)
                in_range = (lambda key: True) if stop is None else stop.__gt__
            if not positioned:
                return items
            walk: Iterator[tuple[bytes, bytes]]
            if keys_only:  # values are not even copied out of the map
                keys = cursor.iterprev(values=False) if reverse else cursor.iternext(values=False)
                walk = ((key, b"") for key in keys)
            else:
                walk = cursor.iterprev() if reverse else cursor.iternext()
            for key, value in walk:
                if not in_range(key):
                    break
                items.append((key, value))
                if limit is not None and len(items) >= limit:
                    break
        return items


def _seek_below(cursor: lmdb.Cursor[bytes], stop: bytes) -> bool:
    if cursor.set_range(stop):
        return cursor.prev()
    return cursor.last()


class _WriteTxn(_ReadTxn):
    __slots__ = ()

    @property
    def snapshot_id(self) -> int:
        return self._txn.id() - 1

    @property
    def txn_id(self) -> int:
        return self._txn.id()

    def put(self, table: Table, key: bytes, value: bytes) -> None:
        try:
            self._txn.put(key, value, db=self._dbs[table])
        except lmdb.MapFullError as exc:
            raise _RetryWithLargerMap from exc

    def delete(self, table: Table, key: bytes) -> bool:
        try:
            return self._txn.delete(key, db=self._dbs[table])
        except lmdb.MapFullError as exc:
            raise _RetryWithLargerMap from exc


class _Environment:
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
    ) -> None:
        self.path = path
        self.identity = identity
        self.durability = durability
        self.readonly = readonly
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
        self._gate = threading.Lock()  # held while readers must wait (fork, close)
        self._gate_closed = False
        self._inflight: collections.deque[None] = collections.deque()  # reads in flight
        self._remaps = 0
        self._unusable_reason: str | None = None
        self._env: lmdb.Environment | None = None
        self._dbs: dict[Table, Any] = {}
        self._lock_file: BinaryIO | None = None  # see `_map_commit_id` before closing it
        self._lock_map: mmap.mmap | None = None
        self._txnid_words: memoryview | None = None
        self._open_engine()

    # -- opening ---------------------------------------------------------------

    def _open_engine(self) -> None:
        flags = self.durability.lmdb_flags()
        try:
            env = lmdb.open(
                str(self.path),
                map_size=self._initial_map_size,
                subdir=True,
                readonly=self.readonly,
                max_dbs=len(_DB_NAMES),
                max_readers=_MAX_READERS,
                mode=0o600,
                create=not self.readonly,
                lib_version=_LIB_VERSION,
                **flags,
            )
        except lmdb.Error as exc:
            raise _open_error(self.path, exc) from exc
        try:
            dbs = self._open_databases(env)
            self._dbs.clear()  # in place: `point_reader` closures hold this dict
            self._dbs.update(dbs)
            self.reaped_readers += env.reader_check()
        except BaseException:
            env.close()
            raise
        self._env = env
        if self._lock_file is None:
            self._map_commit_id()

    def _open_databases(self, env: lmdb.Environment) -> dict[Table, Any]:
        try:
            if self.readonly:
                # Opened without a transaction: handles opened in a read transaction
                # would die with it.
                dbs = {t: env.open_db(name, create=False) for t, name in _DB_NAMES.items()}
                with env.begin() as txn:
                    found = txn.get(FORMAT_KEY, db=dbs[Table.META])
            else:
                with env.begin(write=True) as txn:
                    foreign = [key for key, _ in txn.cursor() if key not in _DB_NAMES.values()]
                    if foreign:
                        raise StoreUnavailable(
                            f"{self.path} is not a memkv store (it holds other LMDB data, "
                            f"such as key {foreign[0]!r})"
                        )
                    dbs = {t: env.open_db(name, txn=txn) for t, name in _DB_NAMES.items()}
                    found = txn.get(FORMAT_KEY, db=dbs[Table.META])
                    if found is None and txn.stat(dbs[_ENTRIES])["entries"] == 0:
                        txn.put(FORMAT_KEY, FORMAT, db=dbs[Table.META])
                        found = FORMAT
        except lmdb.NotFoundError as exc:
            raise StoreUnavailable(f"{self.path} is not a memkv store (no memkv tables)") from exc
        except lmdb.Error as exc:
            raise _engine_error(f"cannot open the tables of {self.path}", exc) from exc
        if found != FORMAT:
            raise StoreUnavailable(
                f"{self.path} holds format {found!r}; this memkv reads {FORMAT!r}"
            )
        return dbs

    def _map_commit_id(self) -> None:
        """Map the lock file to read the last committed txn id (see `_LOCK_TXNID_WORD`).

        Closing any descriptor of ``lock.mdb`` drops all of this process's POSIX locks
        on it, and LMDB relies on those locks to know that it is not alone: a process
        that finds no lock resets the lock file (reader table, writer mutex) under the
        others. So the file and its map (which holds a descriptor of its own) stay
        open until after the environment is closed (`_release_lock_file`).
        """
        try:
            lock_file = open(self.path / "lock.mdb", "rb")  # noqa: SIM115 - kept open, see above
        except OSError:
            return
        self._lock_file = lock_file
        try:
            self._lock_map = mmap.mmap(lock_file.fileno(), 0, prot=mmap.PROT_READ)
        except (OSError, ValueError):
            return
        words = memoryview(self._lock_map).cast("Q")
        with memoryview(self._lock_map).cast("I") as header:
            magic = header[0]
        for _attempt in range(3):  # a writer in another process may commit in between
            if magic == _LOCK_MAGIC and words[_LOCK_TXNID_WORD] == self._last_txnid_slow():
                self._txnid_words = words
                return
        words.release()

    def _last_txnid_slow(self) -> int:
        return int(self._live_env().info()["last_txnid"])

    def commit_id(self) -> int:
        words = self._txnid_words
        if words is not None:
            return int(words[_LOCK_TXNID_WORD])
        return self._last_txnid_slow()

    def commit_id_reader(self) -> Callable[[], int]:
        words = self._txnid_words
        if words is not None:
            return functools.partial(words.__getitem__, _LOCK_TXNID_WORD)
        return self.commit_id

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
            env = self._live_env()
            inflight.append(None)
            if self._gate_closed or self._env is not env:
                inflight.pop()
                with self._gate:  # a fork or close is under way: wait for it
                    continue
            remaps = self._remaps
            try:
                with env.begin() as txn:
                    return fn(_ReadTxn(txn, self._dbs))
            except lmdb.MapResizedError:
                failure: lmdb.Error | None = None
            except lmdb.Error as exc:
                failure = exc
            finally:
                inflight.pop()
            # Out of the in-flight region, so that a fork or close can proceed.
            if failure is None:
                self._adopt_map_size()
            elif isinstance(failure, lmdb.ReadersFullError) and self.reap_stale_readers():
                continue
            elif self._remaps == remaps:
                with self._write_lock:  # a remap (which invalidates readers) may be under way
                    pass
                if self._remaps == remaps and self._env is env:
                    raise _engine_error(f"read from {self.path} failed", failure) from failure

    def point_reader(self) -> Callable[[Table, bytes], bytes | None]:
        """`read` of one key, without the general path's function calls (the cache
        miss path of `Memory.get`): the same in-flight registration and fallbacks."""
        inflight_add, inflight_done = self._inflight.append, self._inflight.pop
        dbs = self._dbs  # updated in place when the environment is reopened

        def get_one(table: Table, key: bytes) -> bytes | None:
            inflight_add(None)
            try:
                env = self._env
                if env is not None and not self._gate_closed:
                    with env.begin(db=dbs[table]) as txn:
                        return txn.get(key)
            except lmdb.Error:
                pass  # a remap, a resize, a closing store: the general path sorts it out
            finally:
                inflight_done()
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
            except (_RetryWithLargerMap, lmdb.MapFullError):
                self._grow_map()
            except lmdb.MapResizedError:
                self._set_map_size(0)
            except lmdb.Error as exc:
                raise _engine_error(f"write to {self.path} failed", exc) from exc

    def _run_together(
        self, txn: lmdb.Transaction[bytes], fns: list[Callable[[WriteTxn], Any]]
    ) -> list[Outcome]:
        """Every function in ``txn`` itself; the first that raises aborts them all
        (`_FunctionFailed`). Functions seldom raise, and a savepoint costs a nested
        transaction each."""
        view = _WriteTxn(txn, self._dbs)
        outcomes: list[Outcome] = []
        for fn in fns:
            try:
                outcomes.append((True, fn(view)))
            except _RetryWithLargerMap:
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
                    result = fn(_WriteTxn(child, self._dbs))
                outcomes.append((True, result))
            except _RetryWithLargerMap:
                raise
            except lmdb.MapFullError as exc:  # from the nested commit: grow, run all again
                raise _RetryWithLargerMap from exc
            except Exception as exc:
                outcomes.append((False, self._function_error(exc)))
        return outcomes

    def _function_error(self, exc: Exception) -> Exception:
        if isinstance(exc, lmdb.Error):
            return _engine_error(f"write to {self.path} failed", exc)
        return exc

    def flush(self, txn_id: int) -> None:
        if not self._flushes_after_commit or txn_id <= self._flushed_through:
            return
        with self._flush_lock:  # one flush at a time; the next may find itself covered
            if txn_id <= self._flushed_through:
                return
            covered = self.commit_id()  # the meta pages of these are written already
            inflight = self._inflight
            while True:  # in flight like a read, so that close and fork wait for it
                env = self._live_env()
                inflight.append(None)
                if self._gate_closed or self._env is not env:
                    inflight.pop()
                    with self._gate:
                        continue
                try:
                    env.sync(True)
                except lmdb.Error as exc:
                    raise _engine_error(f"cannot flush {self.path} to disk", exc) from exc
                finally:
                    inflight.pop()
                break
            self._flushed_through = max(self._flushed_through, covered)

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
            raise _engine_error(f"cannot resize the map of {self.path}", exc) from exc
        finally:
            self._remaps += 1

    # -- fork and close ------------------------------------------------------------

    def _quiesce(self) -> bool:
        """Take the write lock and close the read gate; wait for reads in flight.
        Returns ``False`` if reads were still in flight after a bounded wait."""
        self._write_lock.acquire()
        self._gate.acquire()
        self._gate_closed = True
        deadline = time.monotonic() + _FORK_WAIT_SECONDS
        while self._inflight and time.monotonic() < deadline:
            time.sleep(0.0002)
        return not self._inflight

    def _resume(self) -> None:
        self._gate_closed = False
        self._gate.release()
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
                self._release_lock_file()
            else:
                # A read is stuck in flight: leave the environment (and the lock file,
                # see `_map_commit_id`) open rather than pull them from under it, and
                # keep them referenced: collecting them would close them.
                _abandoned.append((self._env, self._lock_file, self._lock_map))
            self._env = None
        finally:
            self._resume()

    def _release_lock_file(self) -> None:
        """Only once the environment is closed (see `_map_commit_id`)."""
        if self._txnid_words is not None:
            self._txnid_words.release()
            self._txnid_words = None
        if self._lock_map is not None:
            self._lock_map.close()
            self._lock_map = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    # -- figures ---------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        env = self._live_env()
        info = env.info()
        with env.begin() as txn:
            records = {t.name.lower(): txn.stat(db)["entries"] for t, db in self._dbs.items()}
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
        """Clear the reader slots of dead processes (they pin old pages); the count."""
        try:
            reaped = int(self._live_env().reader_check())
        except lmdb.Error as exc:
            raise _engine_error(f"cannot check the readers of {self.path}", exc) from exc
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


_environments: dict[tuple[int, int], _Environment] = {}
_abandoned: list[object] = []  # environments closed while a read was stuck in them
_environments_lock = threading.Lock()
_live_environments: weakref.WeakSet[_Environment] = weakref.WeakSet()


def _before_fork() -> None:
    _environments_lock.acquire()
    for environment in list(_live_environments):
        environment.before_fork()


def _after_fork_in_parent() -> None:
    for environment in list(_live_environments):
        environment.after_fork_in_parent()
    _environments_lock.release()


def _after_fork_in_child() -> None:
    for environment in list(_live_environments):
        environment.after_fork_in_child()
    _environments_lock.release()


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)


class LmdbBackend(Backend):
    """A handle on the LMDB store in one directory (created if absent, mode 0700)."""

    name = "lmdb"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        map_size: int,
        max_map_size: int,
        durability: Durability,
        readonly: bool,
    ) -> None:
        self.location = str(path)
        self.readonly = readonly
        self._closed = False
        directory = _prepare_directory(Path(path), readonly=readonly)
        identity = _identity(directory)
        with _environments_lock:
            environment = _environments.get(identity)
            if environment is None or environment.handles <= 0:
                environment = _Environment(
                    directory,
                    identity,
                    map_size=map_size,
                    max_map_size=max_map_size,
                    durability=durability,
                    readonly=readonly,
                )
                _environments[identity] = environment
                _live_environments.add(environment)
            else:
                _check_compatible(
                    environment, durability=durability, readonly=readonly, max_map_size=max_map_size
                )
            environment.handles += 1
        self._environment = environment

    @property
    def reaped_readers(self) -> int:
        """Stale reader slots (of crashed processes) cleared since the store was opened."""
        return self._environment.reaped_readers

    def _live(self) -> _Environment:
        if self._closed:
            raise StoreClosed(f"the store at {self.location} is closed")
        return self._environment

    def read(self, fn: Callable[[ReadTxn], T], *, several_reads: bool = False) -> T:
        return self._live().read(fn)

    def check_writable(self) -> None:
        if self.readonly:
            raise ReadOnlyStore(f"the store at {self.location} was opened read-only")
        self._live().check_writable()

    def write_group(self, fns: list[Callable[[WriteTxn], Any]]) -> tuple[list[Outcome], int]:
        self.check_writable()
        return self._environment.write_group(fns)

    def flush(self, txn_id: int) -> None:
        self._live().flush(txn_id)

    def commit_id(self) -> int:
        return self._live().commit_id()

    def commit_id_reader(self) -> Callable[[], int]:
        return self._live().commit_id_reader()

    def point_reader(self) -> Callable[[Table, bytes], bytes | None]:
        return self._live().point_reader()

    def stats(self) -> dict[str, Any]:
        return self._live().stats()

    def health_check(self) -> bool:
        return not self._closed and self._environment.health_check()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        environment = self._environment
        with _environments_lock:
            environment.handles -= 1
            if environment.handles > 0:
                return
            if _environments.get(environment.identity) is environment:
                del _environments[environment.identity]
        environment.close()

    @property
    def closed(self) -> bool:
        return self._closed


def _prepare_directory(path: Path, *, readonly: bool) -> Path:
    """Create the store directory private to its owner (0700) if absent."""
    try:
        if path.exists() and not path.is_dir():
            raise StoreUnavailable(f"{path} is not a directory; a memkv store is a directory")
        if not path.exists():
            if readonly:
                raise StoreUnavailable(f"no store at {path} (and readonly=True creates none)")
            path.mkdir(mode=0o700, parents=True)
        return path.resolve()
    except OSError as exc:
        raise StoreUnavailable(f"cannot create or open the store directory {path}: {exc}") from exc


def _identity(directory: Path) -> tuple[int, int]:
    status = directory.stat()
    return status.st_dev, status.st_ino


def _check_compatible(
    environment: _Environment, *, durability: Durability, readonly: bool, max_map_size: int
) -> None:
    conflicts = []
    if environment.durability is not durability:
        conflicts.append(f"durability={environment.durability.value!r}")
    if environment.readonly and not readonly:
        conflicts.append("readonly=True")
    if environment.max_map_size != max_map_size:
        conflicts.append(f"max_map_size={environment.max_map_size}")
    if conflicts:
        raise InvalidArgument(
            f"the store at {environment.path} is already open in this process with "
            f"{', '.join(conflicts)}; open it again with the same options"
        )


def _open_error(path: Path, exc: lmdb.Error) -> MemkvError:
    code = getattr(exc, "code", None)
    if code in (errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR, errno.EROFS):
        return StoreUnavailable(f"cannot open the store at {path}: {os.strerror(code)}")
    if isinstance(exc, lmdb.InvalidError | lmdb.VersionMismatchError):
        return StoreUnavailable(
            f"{path} is not an LMDB store in the format memkv uses (LMDB 0.9, data format v1)"
        )
    return _engine_error(f"cannot open the store at {path}", exc)


def _engine_error(context: str, exc: lmdb.Error) -> MemkvError:
    code = getattr(exc, "code", None)
    if code == errno.ENOSPC:
        return StorageFull(f"{context}: the disk is full")
    if isinstance(exc, lmdb.ReadonlyError) or code == errno.EACCES:
        return ReadOnlyStore(f"{context}: the store is read-only ({exc})")
    return BackendError(f"{context}: {exc}", code=code)
