"""langgraph-checkpoint-sqlite's TTL tests (``libs/checkpoint-sqlite/tests/test_ttl.py``),
ported: run against `MemkvStore` and `AsyncMemkvStore` on every backend, the sync
and async upstream tests once each (each runs on both classes).

Upstream sleeps through each time to live; here the stores' time is a
`ManualClock`, moved by the seconds upstream sleeps. Only the sweeper test waits in
real time, for the sweeper to run (its interval shortened to 0.05 s). memkv hides an
expired item from every read at once; the tests also check what ``sweep_ttl``
removes, and when.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Final

from langgraph.store.base import TTLConfig

import memkv
from memkv import expiry, layout
from tests.langgraph.store_harness import StoreOpener

SECOND: Final = 1 / 60
"""One second, in minutes (LangGraph's unit of a time to live)."""


def expired_still_stored(memory: memkv.Memory, now: datetime) -> int:
    """How many expired entries (items and vectors) no sweep has removed yet."""
    return sum(
        len(memory.backend.read(lambda txn: expiry.expired_keys(txn, space, now)))  # noqa: B023
        for space in (layout.USER_SPACE, layout.INTERNAL_SPACE)
    )


def test_ttl_basic(stores: StoreOpener) -> None:
    store = stores.open(ttl={"default_ttl": SECOND})
    store.put(("test",), "item1", {"value": "test"})
    item = store.get(("test",), "item1")
    assert item is not None
    assert item.value["value"] == "test"

    stores.clock.advance(2)
    assert store.get(("test",), "item1") is None  # hidden before any sweep
    assert expired_still_stored(stores.memories[0], stores.clock()) == 1
    assert store.sweep_ttl() == 1
    assert expired_still_stored(stores.memories[0], stores.clock()) == 0
    assert store.get(("test",), "item1") is None


def test_ttl_refresh(stores: StoreOpener) -> None:
    store = stores.open(ttl={"default_ttl": SECOND, "refresh_on_read": True})
    store.put(("test",), "item1", {"value": "test"})  # expires at 1 s

    stores.clock.advance(0.5)
    assert store.sweep_ttl() == 0
    assert store.get(("test",), "item1", refresh_ttl=True) is not None  # now 1.5 s

    stores.clock.advance(0.5)
    assert store.sweep_ttl() == 0
    item = store.get(("test",), "item1")  # refresh_on_read: now 2 s
    assert item is not None
    assert item.value["value"] == "test"

    stores.clock.advance(0.75)  # 1.75 s
    assert store.get(("test",), "item1", refresh_ttl=False) is not None
    stores.clock.advance(0.5)  # 2.25 s: expired, unread
    assert store.sweep_ttl() == 1
    assert store.get(("test",), "item1") is None


def test_ttl_sweeper(stores: StoreOpener) -> None:
    """The sweeper removes what expired without ``sweep_ttl`` being called. (Its
    interval is 0.05 s here, upstream's half the time to live.)"""
    config: TTLConfig = {
        "default_ttl": 2 * SECOND,
        "sweep_interval_minutes": 0.05 * SECOND,  # type: ignore[typeddict-item] # (an int)
    }
    store = stores.open(ttl=config)
    memory = stores.memories[0]
    store.start_ttl_sweeper()
    store.put(("test",), "item1", {"value": "test"})
    assert store.get(("test",), "item1") is not None

    stores.clock.advance(3.5)
    assert expired_still_stored(memory, stores.clock()) == 1
    deadline = time.monotonic() + 10
    while expired_still_stored(memory, stores.clock()) and time.monotonic() < deadline:
        stores.wait(0.02)  # the loop runs (an AsyncMemkvStore's sweeper is a task of it)
    assert expired_still_stored(memory, stores.clock()) == 0
    assert store.get(("test",), "item1") is None
    assert store.stop_ttl_sweeper(timeout=5) is True


def test_ttl_custom_value(stores: StoreOpener) -> None:
    store = stores.open()
    store.put(("test",), "item1", {"value": "short"}, ttl=SECOND)
    store.put(("test",), "item2", {"value": "long"}, ttl=3 * SECOND)

    stores.clock.advance(2)
    assert store.sweep_ttl() == 1
    assert store.get(("test",), "item1") is None
    assert store.get(("test",), "item2") is not None  # (reads refresh: until 5 s)

    stores.clock.advance(4)
    assert store.sweep_ttl() == 1
    assert store.get(("test",), "item2") is None


def test_ttl_override_default(stores: StoreOpener) -> None:
    """Upstream reads item2 at 2 s with the default refresh, which (refresh_on_read
    is true unless set) starts its 5 s again, then expects it gone at 6 s; here it
    is read without refreshing, which keeps upstream's timeline, and a refreshing
    read is shown to extend it."""
    store = stores.open(ttl={"default_ttl": 5 * SECOND})
    store.put(("test",), "item1", {"value": "override"}, ttl=SECOND)
    store.put(("test",), "item2", {"value": "default"})
    store.put(("test",), "item3", {"value": "permanent"}, ttl=None)
    store.put(("test",), "item4", {"value": "default, read"})

    stores.clock.advance(2)
    assert store.sweep_ttl() == 1
    assert store.get(("test",), "item1", refresh_ttl=False) is None
    assert store.get(("test",), "item2", refresh_ttl=False) is not None
    assert store.get(("test",), "item3", refresh_ttl=False) is not None
    assert store.get(("test",), "item4") is not None  # refreshed: until 7 s

    stores.clock.advance(4)
    assert store.sweep_ttl() == 1
    assert store.get(("test",), "item2", refresh_ttl=False) is None
    assert store.get(("test",), "item3", refresh_ttl=False) is not None
    assert store.get(("test",), "item4", refresh_ttl=False) is not None
    stores.clock.advance(1.5)
    assert store.sweep_ttl() == 1
    assert [r.key for r in store.search(("test",))] == ["item3"]


def test_search_with_ttl(stores: StoreOpener) -> None:
    store = stores.open(ttl={"default_ttl": SECOND})
    store.put(("test",), "item1", {"value": "apple"})
    store.put(("test",), "item2", {"value": "banana"})
    assert [r.key for r in store.search(("test",), filter={"value": "apple"})] == ["item1"]

    stores.clock.advance(2)
    assert store.search(("test",), filter={"value": "apple"}) == []  # hidden at once
    assert store.sweep_ttl() == 2
    assert store.search(("test",), filter={"value": "apple"}) == []
    assert store.search(("test",)) == []


def test_async_asearch_refresh_ttl(stores: StoreOpener) -> None:
    """A search with ``refresh_ttl`` starts the time to live of what it returns, and
    only of that."""
    store: Any = stores.open(ttl={"default_ttl": 4 * SECOND, "refresh_on_read": True})
    namespace = ("docs", "user1")
    store.put(namespace, "item1", {"text": "content1", "id": 1})  # expire at 4 s
    store.put(namespace, "item2", {"text": "content2", "id": 2})

    stores.clock.advance(3)
    found = store.search(namespace, filter={"id": 1}, refresh_ttl=True)  # item1: 7 s
    assert [r.key for r in found] == ["item1"]

    stores.clock.advance(2)  # 5 s
    assert store.sweep_ttl() == 1
    first = store.get(namespace, "item1", refresh_ttl=False)
    assert first is not None
    assert first.value["text"] == "content1"
    assert store.get(namespace, "item2", refresh_ttl=False) is None

    stores.clock.advance(2.5)  # 7.5 s
    assert store.sweep_ttl() == 1
    assert store.get(namespace, "item1", refresh_ttl=False) is None
