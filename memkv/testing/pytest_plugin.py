"""The memkv pytest plugin, active wherever memkv is installed (the ``pytest11``
entry point ``memkv``; ``-p no:memkv`` turns it off).

Fixtures, each a fresh, empty store per test, closed and removed after the test
whether it passed or failed:

* ``memkv_memory``: a `memkv.Memory` on LMDB in the test's temporary directory (on
  every backend in turn for a test marked ``memkv_all_backends``, or for every test
  with ``--memkv-backend=all``);
* ``memkv_inmemory``: a `memkv.Memory` on the in-memory backend;
* ``memkv_async_memory``: a `memkv.aio.AsyncMemory` over ``memkv_memory``, for
  ``async def`` tests (marked ``@pytest.mark.anyio``: anyio's plugin, in memkv's
  ``test`` extra, runs them; pytest-asyncio's mark works too) or for ``asyncio.run``
  inside a plain test;
* ``memkv_open``: ``memkv_open(name="store", **options)`` opens (or reopens, after
  you close it) a store of that name: for tests of restarts, several stores or
  options;
* ``memkv_backend``: the name of the backend ``memkv_memory`` runs on.

And one fixture for hypothesis tests, which refuse function-scoped fixtures (one
value would serve every example): ``memkv_fresh_memory``, session-scoped, a factory
of fresh stores on the same backend as ``memkv_memory``: ``with
memkv_fresh_memory(**options) as mem:`` inside the test, once per example
(`memkv.testing.fresh_memory`).
"""

from __future__ import annotations

import contextlib
import functools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import pytest

import memkv
from memkv.aio import AsyncMemory
from memkv.testing.stores import BACKENDS, Backend, fresh_memory

MARKER: Final = "memkv_all_backends"
# The fixtures that follow the chosen backend, parametrised together by the marker.
BACKEND_FIXTURES: Final = ("memkv_backend", "memkv_fresh_memory")


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
    used = [name for name in BACKEND_FIXTURES if name in metafunc.fixturenames]
    if not used:
        return
    every = metafunc.config.getoption("memkv_backend") == "all"
    if every or metafunc.definition.get_closest_marker(MARKER) is not None:
        values = [backend if len(used) == 1 else (backend,) * len(used) for backend in BACKENDS]
        metafunc.parametrize(",".join(used), values, indirect=True, ids=BACKENDS)


def _chosen_backend(request: pytest.FixtureRequest) -> Backend:
    """The marker's parameter, else ``--memkv-backend`` (LMDB for "all" unmarked)."""
    chosen = getattr(request, "param", None) or request.config.getoption("memkv_backend")
    return "in-memory" if chosen == "in-memory" else "lmdb"


@pytest.fixture
def memkv_backend(request: pytest.FixtureRequest) -> str:
    """The backend ``memkv_memory`` runs on: "lmdb" or "in-memory"."""
    return _chosen_backend(request)


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


@pytest.fixture(scope="session")
def memkv_fresh_memory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., contextlib.AbstractContextManager[memkv.Memory]]:
    """``memkv_fresh_memory(**options)``: a context manager giving a new, empty store on
    ``memkv_memory``'s backend each time it is entered, closed and removed when its
    block ends (`memkv.testing.fresh_memory`). Session-scoped, so that hypothesis
    accepts it in a ``@given`` test: the factory holds no store between examples."""
    parent = tmp_path_factory.mktemp("memkv-fresh")
    return functools.partial(fresh_memory, _chosen_backend(request), parent=parent)
