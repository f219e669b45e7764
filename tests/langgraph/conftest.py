"""Fixtures of the LangGraph store tests: each runs against `MemkvStore` and
`AsyncMemkvStore` (`tests.langgraph.store_harness`) on every backend of
`tests.conftest.BACKENDS`, with the stores' time on a `ManualClock`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import memkv
from memkv.testing import ManualClock
from tests.conftest import open_backend
from tests.langgraph.fake_embeddings import CharacterEmbeddings
from tests.langgraph.store_harness import STORE_CLASSES, StoreOpener


@pytest.fixture(params=STORE_CLASSES)
def store_class(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def clocked_memory(backend_name: str, tmp_path: Path, clock: ManualClock) -> Iterator[memkv.Memory]:
    """A fresh store of each backend, its time on the test's `clock`."""
    memory = open_backend(backend_name, tmp_path, clock=clock)
    yield memory
    memory.close()


@pytest.fixture
def stores(
    backend_name: str,
    store_class: str,
    tmp_path: Path,
    runner: asyncio.Runner,
    clock: ManualClock,
) -> Iterator[StoreOpener]:
    opener = StoreOpener(backend_name, store_class, tmp_path, runner, clock)
    yield opener
    opener.close()


@pytest.fixture
def store(stores: StoreOpener) -> Any:
    """A store of the test's class and backend, without index or TTL."""
    return stores.open()


@pytest.fixture
def fake_embeddings() -> CharacterEmbeddings:
    return CharacterEmbeddings(dims=500)
