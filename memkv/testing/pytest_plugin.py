"""The memkv pytest plugin, active wherever memkv is installed (the ``pytest11``
entry point ``memkv``; ``-p no:memkv`` turns it off).

Fixtures, each a fresh, empty store per test, closed and removed after the test
whether it passed or failed:

* ``memkv_memory``: a `memkv.Memory` on LMDB in the test's temporary directory (on
  every backend in turn for a test marked ``memkv_all_backends``, or for every test
  with ``--memkv-backend=all``);
* ``memkv_inmemory``: a `memkv.Memory` on the in-memory backend;
* ``memkv_async_memory``: a `memkv.aio.AsyncMemory` over ``memkv_memory`` (use it
  from the test's event loop, or from ``asyncio.run`` inside a plain test);
* ``memkv_open``: ``memkv_open(name="store", **options)`` opens (or reopens, after
  you close it) a store of that name: for tests of restarts, several stores or
  options;
* ``memkv_backend``: the name of the backend ``memkv_memory`` runs on.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import pytest

import memkv
from memkv.aio import AsyncMemory

BACKENDS: Final = ("lmdb", "in-memory")
MARKER: Final = "memkv_all_backends"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("memkv")
    group.addoption(
        "--memkv-backend",
        choices=[*BACKENDS, "all"],
        default="lmdb",
        help="the backend of the memkv_memory fixture; 'all' runs its tests on each",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: run the test once per memkv backend (the memkv_memory fixture)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "memkv_backend" not in metafunc.fixturenames:
        return
    every = metafunc.config.getoption("memkv_backend") == "all"
    if every or metafunc.definition.get_closest_marker(MARKER) is not None:
        metafunc.parametrize("memkv_backend", BACKENDS, indirect=True)


@pytest.fixture
def memkv_backend(request: pytest.FixtureRequest) -> str:
    """The backend ``memkv_memory`` runs on: "lmdb" or "in-memory"."""
    chosen = getattr(request, "param", None) or request.config.getoption("memkv_backend")
    return "lmdb" if chosen == "all" else str(chosen)


@pytest.fixture
def memkv_memory(memkv_backend: str, tmp_path: Path) -> Iterator[memkv.Memory]:
    """A fresh store on ``memkv_backend``; closed and removed after the test."""
    directory = tmp_path / "memkv-store"
    target: str | Path = memkv.IN_MEMORY if memkv_backend == "in-memory" else directory
    memory = memkv.open(target)
    try:
        yield memory
    finally:
        memory.close()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def memkv_inmemory() -> Iterator[memkv.Memory]:
    """A fresh in-memory store; closed after the test."""
    memory = memkv.open(memkv.IN_MEMORY)
    try:
        yield memory
    finally:
        memory.close()


@pytest.fixture
def memkv_async_memory(memkv_memory: memkv.Memory) -> AsyncMemory:
    """`memkv.aio.AsyncMemory` over ``memkv_memory`` (closed with it)."""
    return AsyncMemory(memkv_memory)


@pytest.fixture
def memkv_open(tmp_path: Path) -> Iterator[Callable[..., memkv.Memory]]:
    """``memkv_open(name="store", **options)``: an LMDB store named ``name`` in the
    test's directory, created on first open; every store it opened is closed and
    removed after the test."""
    root = tmp_path / "memkv-stores"
    opened: list[memkv.Memory] = []

    def open_store(name: str = "store", **options: Any) -> memkv.Memory:
        memory = memkv.open(root / name, **options)
        opened.append(memory)
        return memory

    try:
        yield open_store
    finally:
        for memory in opened:
            memory.close()
        shutil.rmtree(root, ignore_errors=True)
