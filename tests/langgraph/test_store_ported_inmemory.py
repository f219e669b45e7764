"""LangGraph's ``InMemoryStore`` tests (``libs/checkpoint/tests/test_store.py`` and
the namespace and filter tests beside it), ported: behaviour and names kept, run
against `MemkvStore` and `AsyncMemkvStore` on every backend (`tests.langgraph.conftest`).

Where memkv differs by design the test says so in a comment; what was not ported,
and why, is listed in docs/langgraph.md ("LangGraph's tests, ported").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from langgraph.store.base import GetOp, IndexConfig, InvalidNamespaceError, PutOp

from tests.langgraph.fake_embeddings import CharacterEmbeddings
from tests.langgraph.store_harness import StoreOpener, native

# -- list_namespaces ---------------------------------------------------------------


def put_namespaces(store: Any, namespaces: list[tuple[str, ...]]) -> None:
    for number, namespace in enumerate(namespaces):
        store.put(namespace, f"id_{number}", {"data": f"value_{number:02d}"})


def test_list_namespaces_basic(store: Any) -> None:
    put_namespaces(
        store,
        [
            ("a", "b", "c"),
            ("a", "b", "d", "e"),
            ("a", "b", "d", "i"),
            ("a", "b", "f"),
            ("a", "c", "f"),
            ("b", "a", "f"),
            ("users", "123"),
            ("users", "456", "settings"),
            ("admin", "users", "789"),
        ],
    )
    under_a_b = [("a", "b", "c"), ("a", "b", "d", "e"), ("a", "b", "d", "i"), ("a", "b", "f")]
    # memkv lists in tuple order, as InMemoryStore does (it sorts): the exact lists
    # are asserted where upstream compares them sorted.
    assert store.list_namespaces(prefix=("a", "b")) == under_a_b
    assert store.list_namespaces(suffix=("f",)) == [
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("b", "a", "f"),
    ]
    assert store.list_namespaces(prefix=("a",), suffix=("f",)) == [("a", "b", "f"), ("a", "c", "f")]
    assert store.list_namespaces(prefix=("a", "b"), max_depth=3) == [
        ("a", "b", "c"),
        ("a", "b", "d"),
        ("a", "b", "f"),
    ]
    assert store.list_namespaces(prefix=("a", "b"), limit=2) == under_a_b[:2]
    assert store.list_namespaces(prefix=("a", "b"), offset=2) == under_a_b[2:]
    assert store.list_namespaces(prefix=("a", "*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
    assert store.list_namespaces(suffix=("*", "f")) == [
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("b", "a", "f"),
    ]
    assert store.list_namespaces(prefix=("nonexistent",)) == []
    assert store.list_namespaces(prefix=("users", "123")) == [("users", "123")]


def test_list_namespaces_with_wildcards(store: Any) -> None:
    put_namespaces(
        store,
        [
            ("users", "123"),
            ("users", "456"),
            ("users", "789", "settings"),
            ("admin", "users", "789"),
            ("guests", "123"),
            ("guests", "456", "preferences"),
        ],
    )
    assert store.list_namespaces(prefix=("users", "*")) == [
        ("users", "123"),
        ("users", "456"),
        ("users", "789", "settings"),
    ]
    assert store.list_namespaces(suffix=("*", "preferences")) == [("guests", "456", "preferences")]
    assert store.list_namespaces(prefix=("*", "users"), suffix=("*", "settings")) == []
    # Upstream puts this namespace and stops; here the listing is asserted too.
    store.put(("admin", "users", "settings", "789"), "foo", {"data": "some_val"})
    assert store.list_namespaces(prefix=("*", "users"), suffix=("settings", "*")) == [
        ("admin", "users", "settings", "789")
    ]


def test_list_namespaces_pagination(store: Any) -> None:
    for number in range(20):
        store.put(("namespace", f"sub_{number:02d}"), f"id_{number:02d}", {"n": number})
    pages = [
        store.list_namespaces(prefix=("namespace",), limit=5, offset=offset)
        for offset in (0, 5, 15)
    ]
    assert pages == [
        [("namespace", f"sub_{number:02d}") for number in range(first, first + 5)]
        for first in (0, 5, 15)
    ]


def test_list_namespaces_max_depth(store: Any) -> None:
    put_namespaces(
        store,
        [
            ("a", "b", "c", "d"),
            ("a", "b", "c", "e"),
            ("a", "b", "f"),
            ("a", "g"),
            ("h", "i", "j", "k"),
        ],
    )
    assert store.list_namespaces(max_depth=2) == [("a", "b"), ("a", "g"), ("h", "i")]


def test_list_namespaces_no_conditions(store: Any) -> None:
    namespaces = [("a", "b"), ("c", "d"), ("e", "f", "g")]
    put_namespaces(store, namespaces)
    assert store.list_namespaces() == namespaces


def test_list_namespaces_empty_store(store: Any) -> None:
    assert store.list_namespaces() == []


# -- namespaces refused --------------------------------------------------------------


def test_cannot_put_empty_namespace(store: Any) -> None:
    doc = {"foo": "bar"}
    for namespace in [(), ("the", "thing.about"), ("some", "fun", ""), ("langgraph", "foo")]:
        with pytest.raises(InvalidNamespaceError):
            store.put(namespace, "foo", doc)
    assert store.search(()) == []

    # "langgraph" below the root is an ordinary label.
    namespace = ("foo", "langgraph", "foo")
    store.put(namespace, "bar", doc)
    assert store.get(namespace, "bar").value == doc
    assert store.search(namespace)[0].value == doc
    assert store.search(namespace, query="bar")[0].value == doc
    store.delete(namespace, "bar")
    assert store.get(namespace, "bar") is None

    # Upstream, InMemoryStore takes a PutOp under the root "langgraph" given to batch
    # directly (only BaseStore.put checks). memkv refuses it there too, by design: the
    # root is reserved whichever way an item arrives, and the batch writes nothing.
    with pytest.raises(InvalidNamespaceError):
        store.batch(
            [PutOp(("valid", "namespace"), "key", doc), PutOp(("langgraph", "foo"), "bar", doc)]
        )
    assert store.get(("valid", "namespace"), "key") is None
    assert store.get(("langgraph", "foo"), "bar") is None

    store.batch([PutOp(("valid", "namespace"), "key", doc)])
    assert store.get(("valid", "namespace"), "key").value == doc
    assert store.search(("valid", "namespace"))[0].value == doc
    store.delete(("valid", "namespace"), "key")
    assert store.get(("valid", "namespace"), "key") is None


INVALID_NAMESPACES: list[tuple[Any, ...]] = [("foo.bar",), ("foo", ""), ("foo", "\x00"), (123,)]


def test_base_rejects_invalid_labels(store: Any) -> None:
    """(test_store_namespace_validation.py) The public methods refuse a bad label
    before anything runs. (Each namespace and method in one test, not one test each.)"""
    store.put(("foo", "bar"), "key", {"original": True})
    for namespace in INVALID_NAMESPACES:
        calls: dict[str, Callable[[], object]] = {
            "get": lambda: store.get(namespace, "key"),  # noqa: B023 - called at once
            "delete": lambda: store.delete(namespace, "key"),  # noqa: B023
            "search": lambda: store.search(namespace),  # noqa: B023
            "prefix": lambda: store.list_namespaces(prefix=namespace),  # noqa: B023
            "suffix": lambda: store.list_namespaces(suffix=namespace),  # noqa: B023
        }
        for method, call in calls.items():
            with pytest.raises(InvalidNamespaceError):
                call()
            assert store.get(("foo", "bar"), "key").value == {"original": True}, method
    assert store.list_namespaces() == [("foo", "bar")]


def test_search_and_listing_preserve_prefixes(store: Any) -> None:
    """(test_store_namespace_validation.py) An empty prefix searches everything; ``_``
    and ``%`` are ordinary characters of a label; wildcards list."""
    for namespace in [("tenant", "a_%"), ("tenant", "ab"), ("tenant", "a_%", "x")]:
        store.put(namespace, "key", {"namespace": list(namespace)})
    assert {item.namespace for item in store.search(())} == {
        ("tenant", "a_%"),
        ("tenant", "ab"),
        ("tenant", "a_%", "x"),
    }
    assert {item.namespace for item in store.search(("tenant", "a_%"))} == {
        ("tenant", "a_%"),
        ("tenant", "a_%", "x"),
    }
    assert store.list_namespaces(prefix=("tenant", "*"), suffix=("*",)) == [
        ("tenant", "a_%"),
        ("tenant", "a_%", "x"),
        ("tenant", "ab"),
    ]


def test_inmemory_store_search_supports_dotted_filter_keys(store: Any) -> None:
    """(test_inmemory_store_dotted_filters.py) Adapted: memkv compares a filter key
    with the value's top-level fields, as the installed InMemoryStore (LangGraph 1.2)
    does; a nested field is reached with a nested filter, and a dotted key matches
    only a field of that very name."""
    store.put(("docs",), "hyphen", {"user": {"access-level": "nested"}})
    store.put(("docs",), "flat", {"user.access-level": "nested"})
    assert [
        r.key for r in store.search(("docs",), filter={"user": {"access-level": "nested"}})
    ] == ["hyphen"]
    assert [r.key for r in store.search(("docs",), filter={"user.access-level": "nested"})] == [
        "flat"
    ]


# -- the async store: concurrent calls -----------------------------------------------


def test_async_batch_store_handles_cancellation(stores: StoreOpener) -> None:
    """Cancelling one caller's ``aget`` leaves the store working for the others."""
    store = native(stores.open())

    async def scenario() -> Any:
        await store.aput(("c",), "d", {"v": 1})
        task = asyncio.create_task(store.aget(("a",), "b"))
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.sleep(0)
        return await store.aget(("c",), "d")

    item = stores.run(scenario())
    assert item is not None
    assert item.value == {"v": 1}


def test_async_batch_store_deduplication(stores: StoreOpener) -> None:
    """Adapted: upstream spies on AsyncBatchedBaseStore merging concurrent ops into
    one batch (memkv's stores do not use it: their writes share commits instead).
    Kept: concurrent reads agree, and of two concurrent puts of one item exactly one
    value stays, the later one on `AsyncMemkvStore` (its group commit keeps call
    order; `MemkvStore.aput` runs each call in a worker thread, in any order)."""
    store = native(stores.open())
    same, different = {"value": "same"}, {"value": "different"}

    async def scenario() -> tuple[list[Any], Any, list[Any]]:
        await asyncio.gather(
            store.aput(("test",), "same", same), store.aput(("test",), "different", different)
        )
        got = await asyncio.gather(
            store.aget(("test",), "same"),
            store.aget(("test",), "same"),
            store.aget(("test",), "different"),
        )
        await asyncio.gather(
            store.aput(("test",), "key", {"value": 1}), store.aput(("test",), "key", {"value": 2})
        )
        last = await store.aget(("test",), "key")
        assert last is not None
        searched = await asyncio.gather(
            store.asearch(("test",), filter={"value": last.value["value"]}),
            store.asearch(("test",), filter={"value": last.value["value"]}),
        )
        return list(got), last, list(searched)

    got, last, searched = stores.run(scenario())
    assert got[0] == got[1] != got[2]
    assert (got[0].value, got[2].value) == (same, different)
    assert last.value in ({"value": 1}, {"value": 2})
    if stores.is_async:
        assert last.value == {"value": 2}
    assert searched[0] == searched[1]
    assert [item.key for item in searched[0]] == ["key"]


# -- vector search -------------------------------------------------------------------


def vector_store(stores: StoreOpener, embeddings: CharacterEmbeddings, **index: Any) -> Any:
    config: IndexConfig = {"dims": embeddings.dims, "embed": embeddings, **index}  # type: ignore[typeddict-item]
    return stores.open(index=config)


def test_vector_store_initialization(
    stores: StoreOpener, fake_embeddings: CharacterEmbeddings
) -> None:
    store = native(vector_store(stores, fake_embeddings))
    assert store.index_config is not None
    assert store.index_config["dims"] == fake_embeddings.dims
    assert store.index_config["embed"] is fake_embeddings
    assert store.embeddings is fake_embeddings
    fielded = native(vector_store(stores, fake_embeddings, fields=["content", "title"]))
    assert fielded.index_config is not None
    assert fielded.index_config["fields"] == ["content", "title"]


AUTO_EMBEDDED = [
    ("doc1", {"text": "short text"}),
    ("doc2", {"text": "longer text document"}),
    ("doc3", {"text": "longest text document here"}),
    ("doc4", {"description": "text in description field"}),
    ("doc5", {"content": "text in content field"}),
    ("doc6", {"body": "text in body field"}),
]


def test_vector_insert_with_auto_embedding(
    stores: StoreOpener, fake_embeddings: CharacterEmbeddings
) -> None:
    store = vector_store(stores, fake_embeddings)
    for key, value in AUTO_EMBEDDED:
        store.put(("test",), key, value)
    results = store.search(("test",), query="long text")
    keys = [r.key for r in results]
    assert {"doc2", "doc3"} <= set(keys)
    assert all(r.score is not None for r in results)  # every item was embedded
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_vector_update_with_embedding(
    stores: StoreOpener, fake_embeddings: CharacterEmbeddings
) -> None:
    store = vector_store(stores, fake_embeddings)
    store.put(("test",), "doc1", {"text": "zany zebra Xerxes"})
    store.put(("test",), "doc2", {"text": "something about dogs"})
    store.put(("test",), "doc3", {"text": "text about birds"})

    initial = store.search(("test",), query="Zany Xerxes")
    assert initial[0].key == "doc1"
    initial_score = initial[0].score
    assert initial_score is not None

    store.put(("test",), "doc1", {"text": "new text about dogs"})
    after = store.search(("test",), query="Zany Xerxes")
    after_score = next(r.score for r in after if r.key == "doc1")
    assert after_score is not None
    assert after_score < initial_score

    renewed = store.search(("test",), query="new text about dogs")
    doc1 = next(r for r in renewed if r.key == "doc1")
    assert doc1.score is not None
    assert doc1.score > after_score
    assert renewed[0].key == "doc1"

    store.put(("test",), "doc4", {"text": "new text about dogs"}, index=False)
    top3 = store.search(("test",), query="new text about dogs", limit=3)
    assert "doc4" not in [r.key for r in top3]
    everything = store.search(("test",), query="new text about dogs", limit=10)
    assert [(r.key, r.score) for r in everything][-1] == ("doc4", None)  # unembedded: last


SCORED_COLOURS = [
    ("doc1", {"text": "red apple", "color": "red", "score": 4.5}),
    ("doc2", {"text": "red car", "color": "red", "score": 3.0}),
    ("doc3", {"text": "green apple", "color": "green", "score": 4.0}),
    ("doc4", {"text": "blue car", "color": "blue", "score": 3.5}),
]


def test_vector_search_with_filters(
    stores: StoreOpener, fake_embeddings: CharacterEmbeddings
) -> None:
    store = vector_store(stores, fake_embeddings)
    for key, value in SCORED_COLOURS:
        store.put(("test",), key, value)

    apples = store.search(("test",), query="apple", filter={"color": "red"})
    assert [r.key for r in apples] == ["doc1", "doc2"]
    cars = store.search(("test",), query="car", filter={"color": "red"})
    assert [r.key for r in cars] == ["doc2", "doc1"]
    blue = store.search(("test",), query="bbbbluuu", filter={"score": {"$gt": 3.2}})
    assert [r.key for r in blue][:1] == ["doc4"]
    assert {r.key for r in blue} == {"doc1", "doc3", "doc4"}
    both = store.search(("test",), query="apple", filter={"score": {"$gte": 4.0}, "color": "green"})
    assert [r.key for r in both] == ["doc3"]


def test_async_batched_vector_search_concurrent(
    stores: StoreOpener, fake_embeddings: CharacterEmbeddings
) -> None:
    """Adapted: upstream gathers every put, delete and put of the 50 items at once,
    relying on AsyncBatchedBaseStore to apply them in call order. Here each wave is
    gathered (concurrent calls) and the waves follow one another, so the final
    state is known on both classes; then the searches run concurrently."""
    store = native(vector_store(stores, fake_embeddings))
    colors = ["red", "blue", "green", "yellow", "purple"]
    things = ["apple", "car", "house", "book", "phone"]
    scores = [3.0, 3.5, 4.0, 4.5, 5.0]
    docs = [
        (
            f"doc{n}",
            {
                "text": f"{colors[n % 5]} {things[n % 5]}",
                "color": colors[n % 5],
                "score": scores[n % 5],
                "index": n,
            },
        )
        for n in range(50)
    ]
    searches: list[tuple[str, dict[str, Any]]] = [
        ("apple", {"color": "red"}),
        ("car", {"color": "blue"}),
        ("house", {"color": "green"}),
        ("phone", {"score": {"$gt": 4.99}}),
        ("book", {"score": {"$lte": 3.5}}),
        ("apple", {"score": {"$gte": 3.0}, "color": "red"}),
        ("car", {"score": {"$lt": 5.1}, "color": "blue"}),
        ("house", {"index": {"$gt": 25}}),
        ("phone", {"index": {"$lte": 10}}),
    ]

    async def scenario() -> list[list[Any]]:
        await asyncio.gather(*(store.aput(("test",), key, value) for key, value in docs))
        await asyncio.gather(*(store.adelete(("test",), key) for key, _ in docs))
        await asyncio.gather(*(store.aput(("test",), key, value) for key, value in docs))
        return list(
            await asyncio.gather(
                *(store.asearch(("test",), query=query, filter=where) for query, where in searches)
            )
        )

    found = stores.run(scenario())
    for results, (query, where) in zip(found, searches, strict=True):
        assert results, f"no results for {query!r} with {where}"
        for result in results:
            assert passes(result.value, where), (query, where, result.value)
        assert len(results) == min(10, sum(passes(value, where) for _, value in docs))


def passes(value: dict[str, Any], where: dict[str, Any]) -> bool:
    """The filter of the concurrent search test, evaluated here by hand."""
    compare = {
        "$gt": lambda a, b: a > b,
        "$gte": lambda a, b: a >= b,
        "$lt": lambda a, b: a < b,
        "$lte": lambda a, b: a <= b,
    }
    for field, wanted in where.items():
        if isinstance(wanted, dict):
            if not all(compare[name](value[field], operand) for name, operand in wanted.items()):
                return False
        elif value[field] != wanted:
            return False
    return True


def test_vector_search_pagination(
    stores: StoreOpener, fake_embeddings: CharacterEmbeddings
) -> None:
    store = vector_store(stores, fake_embeddings)
    for number in range(5):
        store.put(("test",), f"doc{number}", {"text": f"test document number {number}"})
    page1 = store.search(("test",), query="test", limit=2)
    page2 = store.search(("test",), query="test", limit=2, offset=2)
    everything = store.search(("test",), query="test", limit=10)
    assert len(page1) == len(page2) == 2
    assert {r.key for r in page1}.isdisjoint(r.key for r in page2)
    assert len(everything) == 5
    assert [r.key for r in everything[:4]] == [r.key for r in page1 + page2]
    scores = [r.score for r in everything]
    assert scores == sorted(scores, reverse=True)


def test_embed_with_path(stores: StoreOpener, fake_embeddings: CharacterEmbeddings) -> None:
    store = vector_store(stores, fake_embeddings, fields=["key0", "key1", "key3"])
    # doc1 has two indexed fields (key0 is missing: no error), doc2 three.
    store.put(("test",), "doc1", {"key1": "xxx", "key2": "yyy", "key3": "zzz"})
    store.put(("test",), "doc2", {"key0": "uuu", "key1": "vvv", "key2": "www", "key3": "xxx"})

    both = store.search(("test",), query="xxx")  # doc1.key1 and doc2.key3: equal
    assert {r.key for r in both} == {"doc1", "doc2"}
    top = both[0].score
    assert top == pytest.approx(both[1].score, abs=1e-5)
    assert top > 0.9

    only_doc2 = store.search(("test",), query="uuu")
    assert [r.key for r in only_doc2] == ["doc2", "doc1"]
    assert only_doc2[0].score > only_doc2[1].score
    assert top == pytest.approx(only_doc2[0].score, abs=1e-5)

    only_doc1 = store.search(("test",), query="zzz")
    assert [r.key for r in only_doc1] == ["doc1", "doc2"]
    assert only_doc1[0].score > only_doc1[1].score

    unindexed = store.search(("test",), query="www")  # key2 is not embedded
    assert len(unindexed) == 2
    assert all(r.score is not None and r.score < min(0.9, top) for r in unindexed)

    # Fields chosen per put, over the store's default ("key17", in neither item).
    per_put = vector_store(stores, fake_embeddings, fields=["key17"])
    per_put.put(
        ("test",),
        "doc3",
        {"key0": "aaa", "key1": "bbb", "key2": "ccc", "key3": "ddd"},
        index=["key0", "key1"],
    )
    per_put.put(
        ("test",),
        "doc4",
        {"key0": "eee", "key1": "bbb", "key2": "fff", "key3": "ggg"},
        index=["key1", "key3"],
    )

    aaa = per_put.search(("test",), query="aaa")
    assert [r.key for r in aaa] == ["doc3", "doc4"]
    assert aaa[0].score > aaa[1].score
    ggg = per_put.search(("test",), query="ggg")
    assert [r.key for r in ggg] == ["doc4", "doc3"]
    assert ggg[0].score > ggg[1].score
    bbb = per_put.search(("test",), query="bbb")
    assert {r.key for r in bbb} == {"doc3", "doc4"}
    assert bbb[0].score == pytest.approx(bbb[1].score, abs=1e-5)
    ccc = per_put.search(("test",), query="ccc")  # key2: embedded in neither
    assert len(ccc) == 2
    assert all(r.score < top for r in ccc)

    per_put.put(("test",), "doc5", {"key0": "hhh", "key1": "iii"}, index=False)
    hhh = per_put.search(("test",), query="hhh")
    assert len(hhh) == 3
    assert next(r for r in hhh if r.key == "doc5").score is None
    assert len(per_put.search(("test",))) == 3  # an unindexed item is still listed


def test_non_ascii(stores: StoreOpener, fake_embeddings: CharacterEmbeddings) -> None:
    store = vector_store(stores, fake_embeddings)
    texts = ["这是中文", "これは日本語です", "이건 한국어야", "Это русский", "यह रूसी है"]
    for number, text in enumerate(texts, start=1):
        store.put(("user_123", "memories"), str(number), {"text": text})
    for number, text in enumerate(texts, start=1):
        assert store.search(("user_123", "memories"), query=text)[0].key == str(number)


def test_async_batch_store(stores: StoreOpener) -> None:
    """Adapted: concurrent ``aget`` calls each get their own item (upstream also
    counts the batches AsyncBatchedBaseStore merges them into; memkv's stores do not
    use it)."""
    store = native(stores.open())

    async def scenario() -> list[Any]:
        await store.abatch([PutOp(("a",), "b", {"at": "a/b"}), PutOp(("c",), "d", {"at": "c/d"})])
        return list(await asyncio.gather(store.aget(("a",), "b"), store.aget(("c",), "d")))

    first, second = stores.run(scenario())
    assert (first.namespace, first.key, first.value) == (("a",), "b", {"at": "a/b"})
    assert (second.namespace, second.key, second.value) == (("c",), "d", {"at": "c/d"})
    assert store.batch([GetOp(("a",), "b"), GetOp(("a",), "missing")])[1] is None
