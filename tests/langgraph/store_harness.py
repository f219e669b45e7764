"""Running one store test against `MemkvStore` and `AsyncMemkvStore` on each backend.

A test is written against the sync interface (``store.put``, ``store.search``, ...,
as LangGraph's ``SqliteStore`` tests are); for `AsyncMemkvStore`, `BlockingStore`
runs the coroutine twin of each call (``aput``, ``asearch``, ...) on the test's
event loop, so the same test drives the async class's own code. Tests about
concurrency use `StoreOpener.run` and the store's coroutines directly.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Final, TypeVar

from langgraph.store.base import IndexConfig, TTLConfig

import memkv
from memkv.langgraph import CATEGORY, AsyncMemkvStore, MemkvStore
from memkv.testing import ManualClock
from tests.conftest import open_backend

STORE_CLASSES: Final = ("MemkvStore", "AsyncMemkvStore")

T = TypeVar("T")

# The sync method of BaseStore -> the coroutine an AsyncMemkvStore runs for it.
_ASYNC_TWINS: Final = {
    "batch": "abatch",
    "get": "aget",
    "put": "aput",
    "delete": "adelete",
    "search": "asearch",
    "list_namespaces": "alist_namespaces",
}


class BlockingStore:
    """An `AsyncMemkvStore` behind `MemkvStore`'s interface: each sync call runs its
    coroutine twin on ``runner``'s loop; ``sweep_ttl``, ``start_ttl_sweeper`` and
    ``stop_ttl_sweeper`` (coroutines on the async class) are awaited the same way.
    ``native`` is the `AsyncMemkvStore` itself."""

    def __init__(self, native: AsyncMemkvStore, runner: asyncio.Runner) -> None:
        self.native = native
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.native, _ASYNC_TWINS.get(name, name))
        if not inspect.iscoroutinefunction(attribute):
            return attribute
        return self._blocking(attribute)

    def _blocking(self, method: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
        def call(*args: Any, **kwargs: Any) -> T:
            return self._runner.run(method(*args, **kwargs))

        return call

    def __repr__(self) -> str:
        return f"BlockingStore({self.native!r})"


class StoreOpener:
    """Opens the stores of one test, each on a fresh memkv store of the test's
    backend whose time is ``clock``, as the test's store class; closes them all."""

    def __init__(
        self,
        backend_name: str,
        store_class: str,
        directory: Path,
        runner: asyncio.Runner,
        clock: ManualClock,
    ) -> None:
        self.backend_name = backend_name
        self.store_class = store_class
        self.directory = directory
        self.runner = runner
        self.clock = clock
        self.memories: list[memkv.Memory] = []
        self.natives: list[MemkvStore | AsyncMemkvStore] = []

    @property
    def is_async(self) -> bool:
        return self.store_class == "AsyncMemkvStore"

    def open(
        self,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        category: str = CATEGORY,
        memory: memkv.Memory | None = None,
    ) -> Any:
        """A store (`MemkvStore`, or `BlockingStore` over an `AsyncMemkvStore`) on a
        new memkv store, or on ``memory`` if given."""
        if memory is None:
            memory = open_backend(
                self.backend_name, self.directory / f"store{len(self.memories)}", clock=self.clock
            )
            self.memories.append(memory)
        if not self.is_async:
            store = MemkvStore(memory, index=index, ttl=ttl, category=category)
            self.natives.append(store)
            return store
        native = AsyncMemkvStore(memory, index=index, ttl=ttl, category=category)
        self.natives.append(native)
        return BlockingStore(native, self.runner)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the test's event loop (the loop of the async stores)."""
        return self.runner.run(coroutine)

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` of real time pass with the event loop running (a sweeper
        task of an `AsyncMemkvStore` runs only then; a sweeper thread runs anyway)."""
        self.runner.run(asyncio.sleep(seconds))

    def close(self) -> None:
        for native in self.natives:
            if isinstance(native, AsyncMemkvStore):
                self.runner.run(native.stop_ttl_sweeper(timeout=5))
            else:
                native.stop_ttl_sweeper(timeout=5)
        for memory in self.memories:
            memory.close()


def native(store: Any) -> MemkvStore | AsyncMemkvStore:
    """The store class under test behind ``store`` (a `BlockingStore` or not)."""
    found = store.native if isinstance(store, BlockingStore) else store
    assert isinstance(found, MemkvStore | AsyncMemkvStore)
    return found
