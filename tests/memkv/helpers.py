"""Helpers shared by the memkv tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

import memkv
from memkv.backends.base import Table

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


def run_worker(*args: str, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``tests/memkv/workers.py`` with ``args`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, str(WORKERS), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )


def start_worker(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKERS), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def child_env() -> dict[str, str]:
    environment = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    environment["PYTHONPATH"] = root + os.pathsep + environment.get("PYTHONPATH", "")
    return environment


def raises_naming(exc_type: type[E], needle: str, fn: Callable[[], object]) -> E:
    """Call ``fn``; assert it raises ``exc_type`` with ``needle`` in the message."""
    with pytest.raises(exc_type) as raised:
        fn()
    assert needle in str(raised.value), f"{needle!r} not named in {str(raised.value)!r}"
    return raised.value
