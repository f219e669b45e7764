"""Helpers shared by the memkv tests."""

from __future__ import annotations

import contextlib
import os
import pwd
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

import memkv
from memkv.aio import AsyncMemory
from memkv.backends.base import Backend, Outcome, ReadTxn, T, Table, WriteTxn
from memkv.views import ReadOperations

E = TypeVar("E", bound=BaseException)

WORKERS = Path(__file__).with_name("workers.py")


def snapshot(mem: memkv.Memory) -> tuple[Any, ...]:
    """Everything a user can observe of a store, for "unchanged" assertions."""
    return (
        [(e.id, e.key, e.content, e.category, e.timestamp, e.session_id) for e in mem.list()],
        mem.count(),
        mem.categories(),
        mem.sessions(),
    )


def put_raw(mem: memkv.Memory, key: bytes, value: bytes, table: Table = Table.ENTRIES) -> None:
    """Write bytes under the Memory layer (to plant corrupt records)."""
    mem.backend.write(lambda txn: txn.put(table, key, value))


def run_worker(
    *args: str, timeout: float = 120, script: Path = WORKERS, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (``tests/memkv/workers.py``) with ``args`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


def start_worker(*args: str, script: Path = WORKERS, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def run_then_kill(*args: str, seconds: float, script: Path = WORKERS) -> list[str]:
    """Start a worker, read what it prints for ``seconds``, SIGKILL it; return the
    complete lines it printed (a line cut by the kill was not acknowledged). The
    worker must print "ready" first."""
    child = start_worker(*args, script=script, env=child_env())
    assert child.stdout is not None
    first = child.stdout.readline()
    assert first == "ready\n", child.stderr.read() if child.stderr else first
    deadline = time.monotonic() + seconds
    lines: list[str] = []
    while time.monotonic() < deadline:  # read while it writes, so it never blocks on the pipe
        ready, _, _ = select.select([child.stdout], [], [], 0.005)
        if ready:
            lines.append(child.stdout.readline())
    os.kill(child.pid, signal.SIGKILL)
    rest, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    lines += rest.splitlines(keepends=True)
    return [line.rstrip("\n") for line in lines if line.endswith("\n")]


def child_env() -> dict[str, str]:
    environment = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    environment["PYTHONPATH"] = root + os.pathsep + environment.get("PYTHONPATH", "")
    return environment


def recall(
    view: ReadOperations, query: str, limit: int | None = None, **filters: Any
) -> list[memkv.MemoryEntry[Any]]:
    """``view.recall(query, limit, **filters)``, with recall's default limit (10) where
    ``limit`` is ``None``."""
    return view.recall(query, _DEFAULT_LIMIT if limit is None else limit, **filters)


def recall_async(
    view: AsyncMemory, query: str, limit: int | None = None, **filters: Any
) -> Awaitable[list[memkv.MemoryEntry[Any]]]:
    """`recall` of a `memkv.aio.AsyncMemory`: the awaitable it returns."""
    return view.recall(query, _DEFAULT_LIMIT if limit is None else limit, **filters)


_DEFAULT_LIMIT = 10


def raises_naming(exc_type: type[E], needle: str, fn: Callable[[], object]) -> E:
    """Call ``fn``; assert it raises ``exc_type`` with ``needle`` in the message."""
    with pytest.raises(exc_type) as raised:
        fn()
    assert needle in str(raised.value), f"{needle!r} not named in {str(raised.value)!r}"
    return raised.value


class DelegatingBackend(Backend):
    """Another backend, every call passed on: subclasses override what they watch."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name, self.location, self.readonly = inner.name, inner.location, inner.readonly
        self.local_reads = inner.local_reads

    def read(self, fn: Callable[[ReadTxn], T], *, several_reads: bool = False) -> T:
        return self.inner.read(fn, several_reads=several_reads)

    def write_group(self, fns: list[Callable[[WriteTxn], Any]]) -> tuple[list[Outcome], int]:
        return self.inner.write_group(fns)

    def check_writable(self) -> None:
        self.inner.check_writable()

    def flush(self, txn_id: int) -> None:
        self.inner.flush(txn_id)

    def commit_id(self) -> int:
        return self.inner.commit_id()

    def stats(self) -> dict[str, Any]:
        return self.inner.stats()

    def health_check(self) -> bool:
        return self.inner.health_check()

    def close(self) -> None:
        self.inner.close()

    @property
    def closed(self) -> bool:
        return self.inner.closed


@contextlib.contextmanager
def lock_file_unwritable(*, keep_lock_file: bool = True) -> Iterator[tuple[Path, list[str]]]:
    """A store holding ``k`` = 42 that its reader may read but whose lock file (or,
    without ``keep_lock_file``, whose directory) it cannot write: a backup, another
    user's store. Yields its path and the ``[gid, uid]`` to run the reader as (root
    writes anything, so then an unprivileged user), or ``["-", "-"]``: as this user."""
    base = Path(tempfile.mkdtemp(prefix="memkv-readonly-"))
    path = base / "store"
    try:
        with memkv.open(path) as mem:
            mem.store("k", 42)
        if not keep_lock_file:
            (path / "lock.mdb").unlink()
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            user = [str(nobody.pw_gid), str(nobody.pw_uid)]
            modes = {base: 0o755, path: 0o755, path / "data.mdb": 0o644}
            if keep_lock_file:
                modes[path / "lock.mdb"] = 0o644  # readable, not writable, by nobody
        else:
            user = ["-", "-"]
            modes = {path: 0o555, path / "data.mdb": 0o444}
            if keep_lock_file:
                modes = {path / "lock.mdb": 0o444}
        for file, mode in modes.items():
            file.chmod(mode)
        yield path, user
    finally:
        path.chmod(0o700)
        shutil.rmtree(base, ignore_errors=True)
