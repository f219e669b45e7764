"""Bugs of `memkv.langgraph` that the ported LangGraph store tests exposed, each
pinned by a small test of its own (on every backend, through `MemkvStore` and
`AsyncMemkvStore`)."""

from __future__ import annotations

import asyncio

from langgraph.store.base import GetOp, Item, PutOp, SearchItem, SearchOp

import memkv
from memkv.langgraph import AsyncMemkvStore, MemkvStore


def test_a_namespace_given_as_a_list_is_taken(memory: memkv.Memory) -> None:
    """A namespace or prefix given as a list of labels works as the tuple would, as
    in ``SqliteStore`` (its tests search ``["test"]``). (It was refused with
    InvalidNamespaceError.)"""
    store = MemkvStore(memory)
    store.put(["users", "ada"], "name", {"text": "Ada"})  # type: ignore[arg-type]
    store.batch([PutOp(["users", "bob"], "name", {"text": "Bob"})])  # type: ignore[arg-type]
    found = store.search(["users"])  # type: ignore[arg-type]
    assert sorted((r.namespace, r.value["text"]) for r in found) == [
        (("users", "ada"), "Ada"),
        (("users", "bob"), "Bob"),
    ]
    item = store.get(["users", "ada"], "name")  # type: ignore[arg-type]
    assert item is not None
    assert (item.namespace, item.value) == (("users", "ada"), {"text": "Ada"})
    got, searched = store.batch(
        [GetOp(["users", "bob"], "name"), SearchOp(["users", "bob"])]  # type: ignore[arg-type]
    )
    assert isinstance(got, Item)
    assert got.value == {"text": "Bob"}
    assert [r.key for r in searched] == ["name"]  # type: ignore[union-attr]
    listed = store.list_namespaces(prefix=["users"])  # type: ignore[arg-type]
    assert listed == [("users", "ada"), ("users", "bob")]
    store.delete(["users", "ada"], "name")  # type: ignore[arg-type]
    assert store.get(("users", "ada"), "name") is None


def test_a_namespace_given_as_a_list_is_taken_by_the_async_store(memory: memkv.Memory) -> None:
    """The same through `AsyncMemkvStore`'s coroutines."""

    async def scenario() -> tuple[Item | None, list[SearchItem], Item | None]:
        store = AsyncMemkvStore(memory)
        await store.aput(["users", "ada"], "name", {"text": "Ada"})  # type: ignore[arg-type]
        got = await store.aget(["users", "ada"], "name")  # type: ignore[arg-type]
        found = await store.asearch(["users"])  # type: ignore[arg-type]
        await store.adelete(["users", "ada"], "name")  # type: ignore[arg-type]
        return got, found, await store.aget(("users", "ada"), "name")

    got, found, gone = asyncio.run(scenario())
    assert got is not None
    assert (got.namespace, got.value) == (("users", "ada"), {"text": "Ada"})
    assert [(r.namespace, r.key) for r in found] == [(("users", "ada"), "name")]
    assert gone is None
