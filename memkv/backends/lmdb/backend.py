"""`LmdbBackend`, a handle on the store in one directory, and the registry that
shares environments: LMDB forbids opening one environment twice in a process, so
every handle on a directory uses the same `Environment` (reference counted)."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from memkv.backends.base import Backend, Outcome, ReadTxn, T, Table, WriteTxn
from memkv.backends.lmdb.environment import Environment
from memkv.errors import InvalidArgument, ReadOnlyStore, StoreClosed, StoreUnavailable
from memkv.settings import Durability

_environments: dict[tuple[int, int], Environment] = {}
_environments_lock = threading.Lock()
_live_environments: weakref.WeakSet[Environment] = weakref.WeakSet()


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
                environment = Environment(
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
    environment: Environment, *, durability: Durability, readonly: bool, max_map_size: int
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
