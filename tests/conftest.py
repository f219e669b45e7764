"""Shared fixtures: hypothesis profiles and the backend parametrisation of the
conformance suite (adding a backend means adding it to `BACKENDS`)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import memkv
from memkv.testing.hypothesis_db import MemkvExampleDatabase
from tests import postgres

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(  # locally, failing examples are kept in a memkv store
    "default", deadline=None, database=MemkvExampleDatabase(".hypothesis/memkv")
)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "default")

BACKENDS = ("in-memory", "lmdb", "postgres")


def open_backend(name: str, directory: Path, **options: object) -> memkv.Memory:
    """A fresh store of the named backend, or the same one again for the same
    ``directory`` (LMDB in a subdirectory of it; PostgreSQL in a schema named after
    it, on the session's server: `tests.postgres`)."""
    if name == "in-memory":
        return memkv.open(memkv.IN_MEMORY, **options)  # type: ignore[arg-type]
    if name == "postgres":
        return postgres.open_store(directory, **options)
    return memkv.open(directory / "store", **options)  # type: ignore[arg-type]


def pytest_sessionfinish() -> None:
    postgres.stop_server()


@pytest.fixture(params=BACKENDS)
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def memory(backend_name: str, tmp_path: Path) -> Iterator[memkv.Memory]:
    """A fresh, empty store on each backend in turn."""
    mem = open_backend(backend_name, tmp_path)
    yield mem
    mem.close()


@pytest.fixture(params=("sync", "async"))
def flavour(request: pytest.FixtureRequest) -> str:
    """A domain class, or its async twin driven by `tests.twins.Blocking`."""
    return str(request.param)


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    """An event loop for `tests.twins.Blocking`."""
    with asyncio.Runner() as loop_runner:
        yield loop_runner
