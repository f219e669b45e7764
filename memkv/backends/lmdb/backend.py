"""`LmdbBackend`, a handle on the store in one directory, and the registry that
shares environments: LMDB forbids opening one environment twice in a process, so
every handle on a directory uses the same `Environment` (reference counted)."""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from memkv import forking
from memkv.backends.base import Backend, Outcome, ReadTxn, T, Table, WriteTxn
from memkv.backends.lmdb import copying
from memkv.backends.lmdb.environment import Environment
from memkv.backends.lmdb.options import LmdbOptions
from memkv.errors import (
    InvalidArgument,
    ReadOnlyStore,
    StoreClosed,
    StoreInUse,
    StoreUnavailable,
)
from memkv.options import Durability, check_location


class _SharedEnvironments:
    """The environments open in this process, one per directory (by device and
    inode), each counting the handles that use it.

    Around a fork, the registry's lock is held from before the fork until after it,
    in the parent and in the child alike, so that the registry does not change
    meanwhile; each environment waits for its transactions in flight before the
    fork (`Environment.before_fork`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[tuple[int, int], Environment] = {}
        self._reserved: set[tuple[int, int]] = set()  # directories being compacted
        # Every environment still referenced, for the fork hooks: those open, and
        # those a handle is closing (out of `_open` already, not yet closed).
        self._live: weakref.WeakSet[Environment] = weakref.WeakSet()

    def attach(
        self,
        directory: Path,
        *,
        map_size: int,
        max_map_size: int,
        durability: Durability,
        readonly: bool,
        lock: bool,
    ) -> Environment:
        """The environment of ``directory``, opened if no handle uses it yet; one
        more handle uses it.

        Raises:
            InvalidArgument: it is open already with other options.
            StoreInUse: it is being compacted (`reserved`).
        """
        identity = _identity(directory)
        with self._lock:
            if identity in self._reserved:
                raise StoreInUse(
                    f"the store at {directory} is being compacted in this process; "
                    "open it once that is done"
                )
            environment = self._open.get(identity)
            if environment is None or environment.handles <= 0:
                environment = Environment(
                    directory,
                    identity,
                    map_size=map_size,
                    max_map_size=max_map_size,
                    durability=durability,
                    readonly=readonly,
                    lock=lock,
                )
                self._open[identity] = environment
                self._live.add(environment)
            else:
                _check_compatible(
                    environment,
                    durability=durability,
                    readonly=readonly,
                    max_map_size=max_map_size,
                    lock=lock,
                )
            environment.handles += 1
        return environment

    @contextlib.contextmanager
    def reserved(self, directory: Path) -> Iterator[tuple[int, int]]:
        """Keep every handle of this process off ``directory`` while the block runs
        (`attach` refuses it); yields its identity.

        Raises:
            StoreInUse: a handle of this process has it open, or it is reserved.
        """
        identity = _identity(directory)
        with self._lock:
            environment = self._open.get(identity)
            if identity in self._reserved or (environment is not None and environment.handles):
                raise StoreInUse(
                    f"the store at {directory} is open in this process; close it first"
                )
            self._reserved.add(identity)
        try:
            yield identity
        finally:
            with self._lock:
                self._reserved.discard(identity)

    def detach(self, environment: Environment) -> None:
        """One handle fewer uses ``environment``: closed after the last."""
        with self._lock:
            environment.handles -= 1
            if environment.handles > 0:
                return
            if self._open.get(environment.identity) is environment:
                del self._open[environment.identity]
        environment.close()

    def before_fork(self) -> None:
        self._lock.acquire()
        for environment in list(self._live):
            environment.before_fork()

    def after_fork_in_parent(self) -> None:
        for environment in list(self._live):
            environment.after_fork_in_parent()
        self._lock.release()

    def after_fork_in_child(self) -> None:
        for environment in list(self._live):
            environment.after_fork_in_child()
        self._lock.release()


_environments = _SharedEnvironments()
forking.register(_environments)


class LmdbBackend(Backend):
    """A handle on the LMDB store in one directory (created if absent, mode 0700);
    ``~`` in ``path`` is expanded.

    Raises:
        InvalidArgument: ``path`` is not a path, or is empty (see
            `memkv.options.check_location`); ``lock=False`` without ``readonly``;
            options that conflict with those of a handle already open on the directory.
        StoreUnavailable: the directory cannot hold or does not hold a memkv store.
    """

    name = "lmdb"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        map_size: int,
        max_map_size: int,
        durability: Durability,
        readonly: bool,
        lock: bool = True,
    ) -> None:
        if not lock and not readonly:
            raise InvalidArgument("lock=False is for read-only inspection: it needs readonly=True")
        path = Path(os.path.expanduser(check_location(path)))
        self.location = str(path)
        self.readonly = readonly
        self._closed = False
        directory = _prepare_directory(path, readonly=readonly)
        self._environment = _environments.attach(
            directory,
            map_size=map_size,
            max_map_size=max_map_size,
            durability=durability,
            readonly=readonly,
            lock=lock,
        )

    @property
    def reaped_readers(self) -> int:
        """Stale reader slots (of crashed processes) cleared since the store was opened."""
        return self._environment.reaped_readers

    def _live(self) -> Environment:
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

    def point_reader(self, table: Table) -> Callable[[bytes], bytes | None]:
        return self._live().point_reader(table)

    def backup(self, destination: str | os.PathLike[str], *, compact: bool = True) -> Path:
        """See `Backend.backup` and `memkv.backends.lmdb.copying`."""
        return copying.backup(self._live(), destination, compact=compact)

    def stats(self) -> dict[str, Any]:
        return self._live().stats()

    def health_check(self) -> bool:
        return not self._closed and self._environment.health_check()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        _environments.detach(self._environment)

    @property
    def closed(self) -> bool:
        return self._closed


def compact(path: Path) -> tuple[int, int]:
    """Rewrite the store in the directory ``path`` into its compacted copy, crash-safe
    (`memkv.backends.lmdb.copying`); the data file's sizes before and after, in bytes.

    Raises:
        StoreUnavailable: ``path`` is not a directory holding a memkv store.
        StoreInUse: a process, this one or another, has the store open (nothing
            changed).
        StorageFull, BackendError: the copy failed (nothing changed).
    """
    directory = _prepare_directory(path, readonly=True)
    defaults = LmdbOptions()
    with _environments.reserved(directory) as identity:
        environment = Environment(
            directory,
            identity,
            map_size=defaults.map_size,
            max_map_size=defaults.max_map_size,
            durability=defaults.durability,
            readonly=True,
        )
        return copying.compact(environment)


def _prepare_directory(path: Path, *, readonly: bool) -> Path:
    """Create the store directory private to its owner (0700) if absent, and any
    missing parent directories as well (0700 too, whatever the umask)."""
    try:
        if path.exists() and not path.is_dir():
            raise StoreUnavailable(f"{path} is not a directory; a memkv store is a directory")
        if not path.exists():
            if readonly:
                raise StoreUnavailable(f"no store at {path} (and readonly=True creates none)")
            missing = [path, *(p for p in path.parents if not p.exists())]
            for directory in reversed(missing):  # the outermost first
                directory.mkdir(mode=0o700, exist_ok=True)  # another process may race us
        return path.resolve()
    except OSError as exc:
        raise StoreUnavailable(f"cannot create or open the store directory {path}: {exc}") from exc


def _identity(directory: Path) -> tuple[int, int]:
    try:
        status = directory.stat()
    except OSError as exc:  # removed since it was prepared, say
        raise StoreUnavailable(f"cannot open the store directory {directory}: {exc}") from exc
    return status.st_dev, status.st_ino


def _check_compatible(
    environment: Environment,
    *,
    durability: Durability,
    readonly: bool,
    max_map_size: int,
    lock: bool,
) -> None:
    conflicts = []
    if environment.durability is not durability:
        conflicts.append(f"durability={environment.durability.value!r}")
    if environment.readonly and not readonly:
        conflicts.append("readonly=True")
    if environment.max_map_size != max_map_size:
        conflicts.append(f"max_map_size={environment.max_map_size}")
    if environment.lock != lock:
        conflicts.append(f"lock={environment.lock}")
    if conflicts:
        raise InvalidArgument(
            f"the store at {environment.path} is already open in this process with "
            f"{', '.join(conflicts)}; open it again with the same options"
        )
