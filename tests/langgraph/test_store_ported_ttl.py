"""langgraph-checkpoint-sqlite's TTL tests (``libs/checkpoint-sqlite/tests/test_ttl.py``,
and the two TTL tests of ``libs/checkpoint-postgres/tests/test_store.py``), ported:
run against `MemkvStore` and `AsyncMemkvStore` on every backend, the sync and async
upstream tests once each (each runs on both classes).

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
from tests.langgraph.fake_embeddings import CharacterEmbeddings
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


# -- from langgraph-checkpoint-postgres's store tests (the same contract) -------------


def test_store_ttl(stores: StoreOpener) -> None:
    """(PostgresStore's ``test_store_ttl``) A get and a keyword search (no index:
    memkv ranks the query by recall) with ``refresh_ttl`` each start the item's
    time again; a read without it does not."""
    store = stores.open(ttl={"default_ttl": 6 * SECOND, "refresh_on_read": True})
    namespace = ("foo",)
    store.put(namespace, key="item1", value={"foo": "bar"}, ttl=6 * SECOND)  # until 6 s
    stores.clock.advance(4)
    assert store.get(namespace, key="item1", refresh_ttl=True) is not None  # until 10 s
    stores.clock.advance(4)  # 8 s
    found = store.search(namespace, query="foo", refresh_ttl=True)  # until 14 s
    assert [r.key for r in found] == ["item1"]
    assert found[0].score is not None  # ranked: "foo" is a field of the value
    stores.clock.advance(4)  # 12 s
    assert store.get(namespace, key="item1", refresh_ttl=False) is not None
    stores.clock.advance(5)  # 17 s
    assert store.search(namespace, query="bar", refresh_ttl=False) == []


def test_vector_search_with_filters_refresh_ttl(stores: StoreOpener) -> None:
    """(PostgresStore's ``test_vector_search_with_filters``, with ``refresh_ttl`` and a
    store TTL) A vector search ranks alike with or without refreshing; the items it
    returned with ``refresh_ttl`` keep their vectors past their first expiry, the
    others expire."""
    embeddings = CharacterEmbeddings(dims=500)
    store = stores.open(
        index={"dims": embeddings.dims, "embed": embeddings},
        ttl={"default_ttl": 2, "refresh_on_read": True},
    )
    for key, value in [
        ("doc1", {"text": "red apple", "color": "red", "score": 4.5}),
        ("doc2", {"text": "red car", "color": "red", "score": 3.0}),
        ("doc3", {"text": "green apple", "color": "green", "score": 4.0}),
        ("doc4", {"text": "blue car", "color": "blue", "score": 3.5}),
    ]:
        store.put(("test",), key, value)
    for refresh in (False, True):
        apples = store.search(
            ("test",), query="apple", filter={"color": "red"}, refresh_ttl=refresh
        )
        assert [r.key for r in apples] == ["doc1", "doc2"]
        cars = store.search(("test",), query="car", filter={"color": "red"}, refresh_ttl=refresh)
        assert [r.key for r in cars] == ["doc2", "doc1"]
        blue = store.search(
            ("test",), query="bbbbluuu", filter={"score": {"$gt": 3.2}}, refresh_ttl=refresh
        )
        assert [r.key for r in blue][:1] == ["doc4"]
    stores.clock.advance(90)  # 1.5 min: refresh the red items only (now until 3.5 min)
    assert {r.key for r in store.search(("test",), filter={"color": "red"}, refresh_ttl=True)} == {
        "doc1",
        "doc2",
    }
    stores.clock.advance(60)  # 2.5 min: the others expired
    ranked = store.search(("test",), query="apple", refresh_ttl=False)
    assert [r.key for r in ranked] == ["doc1", "doc2"]
    assert all(r.score is not None for r in ranked)  # their vectors were kept too
    store.sweep_ttl()
    assert expired_still_stored(stores.memories[0], stores.clock()) == 0
    assert [r.key for r in store.search(("test",), query="apple", refresh_ttl=False)] == [
        "doc1",
        "doc2",
    ]
