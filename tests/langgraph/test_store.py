"""`memkv.langgraph.MemkvStore` and `AsyncMemkvStore`: what is memkv's own in them
(key layout, errors, expiry, ranking, the reads cache), on every backend. LangGraph's
own store tests, ported, are in ``test_store_ported_*.py``."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from langgraph.store.base import (
    GetOp,
    IndexConfig,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchItem,
    SearchOp,
)

import memkv
from memkv import expiry, layout
from memkv.langgraph import AsyncMemkvStore, MemkvStore
from memkv.langgraph.items import item_key
from memkv.testing import ManualClock

DIMS = 4


def embed(texts: Sequence[str]) -> list[list[float]]:
    """A deterministic embedding: how often a text holds each of four letters."""
    return [[float(text.count(letter)) for letter in "abcd"] for text in texts]


@pytest.fixture
def memory(clocked_memory: memkv.Memory) -> memkv.Memory:
    return clocked_memory


@pytest.fixture
def store(memory: memkv.Memory) -> MemkvStore:
    return MemkvStore(memory)


def raw_get(store: MemkvStore, namespace: tuple[str, ...], key: str) -> Item | None:
    """A get straight through ``batch``, past LangGraph's label checks."""
    return cast("Item | None", store.batch([GetOp(namespace, key)])[0])


def raw_search(store: MemkvStore, prefix: tuple[str, ...]) -> list[SearchItem]:
    return cast("list[SearchItem]", store.batch([SearchOp(prefix, limit=100)])[0])


def raw_list(store: MemkvStore, *conditions: MatchCondition) -> list[tuple[str, ...]]:
    op = ListNamespacesOp(conditions or None, limit=100)
    return cast("list[tuple[str, ...]]", store.batch([op])[0])


AWKWARD_LABELS = ["a.b", "*", "%", "a\x00b", "line\nbreak", "é", "日本", "🙂", "a\x01", " "]


def test_labels_never_escape_their_namespace(store: MemkvStore) -> None:
    """Every label is one tuple component: no label matches or lists as another's."""
    namespaces = [("n", label) for label in AWKWARD_LABELS] + [("n", "a", "b"), ("n", "a")]
    store.batch([PutOp(ns, "k", {"ns": list(ns)}) for ns in namespaces])
    for ns in namespaces:
        item = raw_get(store, ns, "k")
        assert item is not None
        assert item.value == {"ns": list(ns)}
        under = [item.namespace for item in raw_search(store, ns)]
        assert under == [other for other in reversed(namespaces) if other[: len(ns)] == ns]
    assert raw_list(store) == sorted(namespaces)
    assert raw_list(store, MatchCondition("suffix", ("a.b",))) == [("n", "a.b")]
    assert raw_list(store, MatchCondition("prefix", ("n", "a"))) == [("n", "a"), ("n", "a", "b")]
    assert raw_get(store, ("n", "a.b", ""), "k") is None
    assert raw_get(store, ("n",), "a") is None  # the namespace ("n", "a") is no item


def test_an_item_keeps_created_at_and_moves_updated_at(
    store: MemkvStore, clock: ManualClock
) -> None:
    store.put(("u",), "k", {"v": 1})
    first = store.get(("u",), "k")
    assert first is not None
    assert first.created_at == first.updated_at == clock()
    clock.advance(5)
    store.put(("u",), "k", {"v": 2})
    second = store.get(("u",), "k")
    assert second is not None
    assert second.value == {"v": 2}
    assert second.created_at == first.created_at
    assert second.updated_at == first.updated_at + timedelta(seconds=5)
    store.delete(("u",), "k")
    clock.advance(5)
    store.put(("u",), "k", {"v": 3})
    third = store.get(("u",), "k")
    assert third is not None
    assert third.created_at == third.updated_at == clock()  # a new item after a delete


def test_search_is_newest_first_with_filters(store: MemkvStore, clock: ManualClock) -> None:
    for number in range(6):
        clock.advance(1)
        store.put(("docs", str(number % 2)), f"d{number}", {"n": number, "odd": number % 2 == 1})
    keys = [item.key for item in store.search(("docs",))]
    assert keys == ["d5", "d4", "d3", "d2", "d1", "d0"]
    assert [i.key for i in store.search(("docs",), filter={"odd": True})] == ["d5", "d3", "d1"]
    assert [i.key for i in store.search(("docs",), filter={"n": {"$gte": 2, "$lt": 5}})] == [
        "d4",
        "d3",
        "d2",
    ]
    assert [i.key for i in store.search(("docs",), filter={"n": {"$ne": 3}}, limit=2)] == [
        "d5",
        "d4",
    ]
    assert [i.key for i in store.search(("docs",), limit=2, offset=3)] == ["d2", "d1"]
    store.put(("docs", "0"), "d0", {"n": 0, "odd": False})  # updated: first now
    assert [item.key for item in store.search(("docs",), limit=1)] == ["d0"]


def test_a_bad_batch_writes_nothing(store: MemkvStore, memory: memkv.Memory) -> None:
    store.put(("keep",), "k", {"v": 1})
    bad_ops: list[tuple[Any, type[Exception], str]] = [
        (PutOp(("x", 1), "k", {"v": 1}), InvalidNamespaceError, "tuple of str"),  # type: ignore[arg-type]
        (PutOp((), "k", {"v": 1}), InvalidNamespaceError, "cannot be empty"),
        (PutOp(("langgraph",), "k", {"v": 1}), InvalidNamespaceError, "langgraph"),
        (PutOp(("x",), "k" * 300, {"v": 1}), memkv.InvalidKey, "256"),
        (PutOp(("x",), 7, {"v": 1}), memkv.InvalidKey, "str"),  # type: ignore[arg-type]
        (PutOp(("x",), "k", [1, 2]), memkv.InvalidArgument, "must be a dict"),  # type: ignore[arg-type]
        (PutOp(("x",), "k", {"v": 1}, ttl=0), memkv.InvalidArgument, "minutes > 0"),
        (PutOp(("x",), "k", {"v": 1}, ttl=math.nan), memkv.InvalidArgument, "minutes > 0"),
        (SearchOp(("x",), {"v": {"$near": 1}}), memkv.InvalidArgument, "$near"),
        (SearchOp(("x",), None, -1), memkv.InvalidArgument, "limit"),
        (ListNamespacesOp(max_depth=-1), memkv.InvalidArgument, "max_depth"),
    ]
    for bad, error, says in bad_ops:
        with pytest.raises(error, match=repr(says)[1:-1].replace("$", r"\$")):
            store.batch([PutOp(("new",), "k", {"v": 2}), bad])
    assert store.get(("new",), "k") is None
    assert memory.count() == 1


def test_a_key_of_another_category_is_not_replaced(store: MemkvStore, memory: memkv.Memory) -> None:
    key = item_key(("users",), "ada")
    memory.store(key, "a memory the user stored", "core")
    assert store.get(("users",), "ada") is None  # not one of the store's items
    with pytest.raises(memkv.Conflict, match="category 'core'"):
        store.batch([PutOp(("users",), "other", {"v": 1}), PutOp(("users",), "ada", {"v": 1})])
    assert store.get(("users",), "other") is None  # the batch is one transaction
    entry = memory.get(key)
    assert entry is not None
    assert entry.content == "a memory the user stored"
    store.delete(("users",), "ada")  # a delete leaves it too
    assert memory.get(key) is not None


def test_stores_of_two_categories_are_separate(memory: memkv.Memory) -> None:
    first, second = MemkvStore(memory), MemkvStore(memory, category="other-agent")
    first.put(("u",), "k", {"who": "first"})
    second.put(("v",), "k", {"who": "second"})
    assert first.list_namespaces() == [("u",)]
    assert second.list_namespaces() == [("v",)]
    assert [item.value for item in second.search(())] == [{"who": "second"}]


def test_items_expire_and_reads_refresh_them(memory: memkv.Memory, clock: ManualClock) -> None:
    store = MemkvStore(memory, ttl={"default_ttl": 1, "refresh_on_read": True})
    store.put(("t",), "read", {"v": 1})
    store.put(("t",), "unread", {"v": 2})
    store.put(("t",), "forever", {"v": 3}, ttl=None)
    clock.advance(50)
    assert store.get(("t",), "read") is not None  # starts its minute again
    assert store.get(("t",), "unread", refresh_ttl=False) is not None
    clock.advance(20)  # 70 s after the puts, 20 s after the read
    assert store.get(("t",), "unread") is None
    assert store.get(("t",), "read") is not None
    assert [item.key for item in store.search(("t",))] == ["forever", "read"]  # ties: keys
    assert store.list_namespaces() == [("t",)]
    clock.advance(120)
    assert [item.key for item in store.search(("t",))] == ["forever"]
    left = expired_still_stored(memory, clock())  # writes sweep a few themselves
    assert left >= 1
    assert store.sweep_ttl() == left
    assert expired_still_stored(memory, clock()) == 0
    assert memory.count() == 1


def expired_still_stored(memory: memkv.Memory, now: datetime) -> int:
    """How many expired entries (of both key spaces) a sweep has yet to remove."""
    return sum(
        len(memory.backend.read(lambda txn: expiry.expired_keys(txn, space, now)))  # noqa: B023
        for space in (layout.USER_SPACE, layout.INTERNAL_SPACE)
    )


def test_the_sweeper_thread_sweeps_until_stopped(memory: memkv.Memory, clock: ManualClock) -> None:
    store = MemkvStore(memory, index=IndexConfig(dims=DIMS, embed=embed))
    store.put(("t",), "k", {"text": "abc"}, ttl=1)  # an item and its vectors
    clock.advance(61)
    assert expired_still_stored(memory, clock()) == 2
    done = store.start_ttl_sweeper(sweep_interval_minutes=0.0005)  # type: ignore[arg-type]
    assert store.start_ttl_sweeper() is done  # the one running
    deadline = time.monotonic() + 10
    while expired_still_stored(memory, clock()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert expired_still_stored(memory, clock()) == 0
    assert not done.done()
    assert store.stop_ttl_sweeper(timeout=5)
    assert done.result(timeout=5) is None
    assert store.stop_ttl_sweeper() is True  # none running
    again = store.start_ttl_sweeper(sweep_interval_minutes=0.0005)  # type: ignore[arg-type]
    assert again.cancel() or again.done()
    assert again.cancelled() or again.done()
    deadline = time.monotonic() + 10
    while not store.stop_ttl_sweeper(timeout=0.1) and time.monotonic() < deadline:
        pass
    assert store.stop_ttl_sweeper(timeout=0)


def vector_store(memory: memkv.Memory, **options: Any) -> MemkvStore:
    index: IndexConfig = {"dims": DIMS, "embed": embed, "fields": ["text", "tags[*]"]}
    return MemkvStore(memory, index=index, **options)


def cosine(one: list[float], other: list[float]) -> float:
    norms = math.hypot(*one) * math.hypot(*other)
    return 0.0 if not norms else sum(a * b for a, b in zip(one, other, strict=True)) / norms


def test_vector_search_ranks_by_the_closest_vector(memory: memkv.Memory) -> None:
    store = vector_store(memory)
    store.put(("d",), "aaa", {"text": "aaa"})
    store.put(("d",), "bbb", {"text": "bbb", "kind": "x"})
    store.put(("d",), "tags", {"text": "ddd", "tags": ["ccc", "abab"]})  # max over 3 vectors
    store.put(("d",), "unindexed", {"text": "aaaa"}, index=False)
    store.put(("d",), "fields", {"text": "dddd", "other": "aaaa"}, index=["other"])
    store.put(("e",), "elsewhere", {"text": "aaa"})
    query = [1.0, 0.0, 0.0, 0.0]  # "a"
    found = store.search(("d",), query="a", limit=10)
    scores = {item.key: item.score for item in found}
    assert scores["aaa"] == pytest.approx(1.0)
    assert scores["fields"] == pytest.approx(1.0)  # "other" was embedded, "text" not
    assert scores["tags"] == pytest.approx(cosine(query, embed(["abab"])[0]))
    assert scores["bbb"] == pytest.approx(0.0)
    assert scores["unindexed"] is None  # no vector: after the ranked ones
    assert [item.key for item in found][-1] == "unindexed"
    assert "elsewhere" not in scores
    ranked = [item.score for item in found if item.score is not None]
    assert ranked == sorted(ranked, reverse=True)
    assert [item.key for item in store.search(("d",), query="b", filter={"kind": "x"})] == ["bbb"]
    assert [item.key for item in store.search(("d",), query="a", limit=1, offset=2)] == ["tags"]
    store.delete(("d",), "aaa")
    assert "aaa" not in {item.key for item in store.search(("d",), query="a")}
    store.put(("d",), "fields", {"text": "dddd", "other": "aaaa"}, index=False)  # vectors gone
    assert {i.key: i.score for i in store.search(("d",), query="a")}["fields"] is None


def test_vectors_of_a_bad_embedding_are_refused(memory: memkv.Memory) -> None:
    store = MemkvStore(memory, index=IndexConfig(dims=3, embed=embed))  # embed gives 4
    with pytest.raises(memkv.InvalidArgument, match="must be 3 finite numbers"):
        store.put(("d",), "k", {"text": "abc"})
    assert store.get(("d",), "k") is None
    with pytest.raises(memkv.InvalidArgument, match="dims"):
        MemkvStore(memory, index=IndexConfig(dims=0, embed=embed))


def test_a_query_without_an_index_is_ranked_by_recall(memory: memkv.Memory) -> None:
    store = MemkvStore(memory)
    store.put(("notes",), "n1", {"text": "the cat sat on the mat"})
    store.put(("notes",), "n2", {"text": "a cat and another cat"})
    store.put(("notes",), "n3", {"text": "dogs only", "tag": "pets"})
    store.put(("other",), "n4", {"text": "cat cat cat"})
    found = store.search(("notes",), query="cat")
    assert [item.key for item in found] == ["n2", "n1", "n3"]
    first, second, last = (item.score for item in found)
    assert first is not None
    assert second is not None
    assert first > second > 0
    assert last is None  # matches no term: after the ranked ones
    assert [item.key for item in store.search(("notes",), query="cat", limit=1)] == ["n2"]
    assert [i.key for i in store.search(("notes",), query="cat", filter={"tag": "pets"})] == ["n3"]


def test_a_store_without_recall_ignores_a_query(tmp_path: Path) -> None:
    with MemkvStore.from_path(tmp_path / "store", recall=False) as store:
        store.put(("notes",), "n1", {"text": "cat"})
        store.put(("notes",), "n2", {"text": "dog"})
        found = store.search(("notes",), query="cat")
        assert [(item.key, item.score) for item in found] == [("n2", None), ("n1", None)]


def test_cached_reads_follow_other_handles_and_processes(tmp_path: Path) -> None:
    """Listings and searches are kept as of one commit: a write by another handle
    or process, or an expiry, is seen at once."""
    clock = ManualClock()
    with (
        MemkvStore.from_path(tmp_path / "store", clock=clock) as reader,
        MemkvStore.from_path(tmp_path / "store", clock=clock) as writer,
    ):
        writer.put(("a",), "k", {"v": 1})
        for _ in range(2):  # the second answer comes from the cache
            assert reader.list_namespaces() == [("a",)]
            assert [item.value for item in reader.search(("a",))] == [{"v": 1}]
        clock.advance(1)
        writer.put(("b",), "k", {"v": 2}, ttl=1)
        assert reader.list_namespaces() == [("a",), ("b",)]
        found = reader.search(())
        assert [item.value for item in found] == [{"v": 2}, {"v": 1}]
        found[0].value["v"] = 99  # the caller's copy
        assert [item.value for item in reader.search(())] == [{"v": 2}, {"v": 1}]
        clock.advance(60)  # ("b",) expires: no commit, the cache sees it
        assert reader.list_namespaces() == [("a",)]
        assert [item.value for item in reader.search(())] == [{"v": 1}]
        script = (
            "import sys; from memkv.langgraph import MemkvStore\n"
            "with MemkvStore.from_path(sys.argv[1]) as store:\n"
            "    store.put(('c',), 'k', {'v': 3})\n"
        )
        subprocess.run([sys.executable, "-c", script, str(tmp_path / "store")], check=True)
        assert reader.list_namespaces() == [("a",), ("c",)]
        assert [item.value for item in reader.search(("c",))] == [{"v": 3}]


@pytest.mark.anyio
async def test_async_store_shares_commits(tmp_path: Path) -> None:
    async with AsyncMemkvStore.from_path(tmp_path / "store", durability="durable") as store:
        before = store.memory.backend.commit_id()
        await asyncio.gather(*(store.aput(("u", str(n % 4)), f"k{n}", {"n": n}) for n in range(64)))
        commits = store.memory.backend.commit_id() - before
        assert commits < 64  # concurrent puts shared commits (group commit)
        assert len(await store.asearch(("u",), limit=100)) == 64
        assert await store.alist_namespaces() == [("u", str(n)) for n in range(4)]
        item = await store.aget(("u", "1"), "k5")
        assert item is not None
        assert item.value == {"n": 5}
        await store.adelete(("u", "1"), "k5")
        assert await store.aget(("u", "1"), "k5") is None
        assert store.get(("u", "2"), "k6") is not None  # the sync methods, off the loop
