"""`MemkvCache`, LangGraph's node cache on memkv, on LMDB, in memory and on PostgreSQL,
with the store's clock moved by hand (`memkv.testing.ManualClock`), never by sleeping.

* The `BaseCache` contract, beside LangGraph's `InMemoryCache` where they must agree:
  get / set / clear, sync and async; a missing or expired key left out; a ttl
  renewed by a new set; clear by exact namespace or everything.
* Keys: labels no other namespace can reach (separators, wildcards, NUL, Unicode,
  integers, the empty namespace, namespaces and keys too long to keep as they are);
  bad keys and ttls refused with typed errors, nothing written.
* Where the values live: the internal key space, never among the user's memories;
  swept by memkv's expiry; kept across a reopen.
* Must-show 5: ``graph.compile(cache=MemkvCache(...))``, a node with a
  ``CachePolicy(ttl=...)`` is not re-run within its ttl and is re-run after it.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import operator
from pathlib import Path
from typing import Annotated, Any, Final, TypedDict

import pytest
from langgraph.cache.base import BaseCache, FullKey, Namespace
from langgraph.cache.memory import InMemoryCache
from langgraph.graph import END, START, StateGraph
from langgraph.types import CachePolicy

import memkv
from memkv.langgraph import MemkvCache
from memkv.langgraph.node_cache import CATEGORY, CachedValue
from memkv.testing import ManualClock
from tests.conftest import open_backend

TTL: Final = 60

Pairs = dict[FullKey, tuple[Any, int | None]]


@pytest.fixture
def mem(clocked_memory: memkv.Memory) -> memkv.Memory:
    return clocked_memory


@pytest.fixture
def cache(mem: memkv.Memory) -> MemkvCache[Any]:
    return MemkvCache(mem)


def cached_count(memory: memkv.Memory) -> int:
    """The cache's records, expired ones left out."""
    return memory.internal.count(CATEGORY)


# -- the contract ------------------------------------------------------------------------------

WRITES: Final = [("messages", {"role": "ai", "content": "hi"}), ("count", 3)]
AS_DECODED: Final = [list(write) for write in WRITES]  # what the default serde gives back


def test_set_then_get_returns_what_inmemorycache_returns(cache: MemkvCache[Any]) -> None:
    reference: InMemoryCache[Any] = InMemoryCache()
    pairs: Pairs = {
        (("graph", "node1"), "key1"): ({"result": 1}, None),
        (("graph", "node2"), "key2"): (WRITES, TTL),
        (("other", "node"), "key3"): ([1, 2.5, "three", None, True], None),
        (("graph", "node1"), "key4"): ("x" * 10_000, TTL),
    }
    cache.set(pairs)
    reference.set(pairs)
    asked = [*pairs, (("graph", "node1"), "absent"), (("absent",), "key1")]
    got = cache.get(asked)
    assert got == reference.get(asked)
    assert set(got) == set(pairs)
    assert got[(("graph", "node2"), "key2")] == AS_DECODED  # tuples as lists, as in InMemoryCache


def test_empty_get_and_set(cache: MemkvCache[Any], mem: memkv.Memory) -> None:
    assert cache.get([]) == {}
    cache.set({})
    assert cached_count(mem) == 0


def test_set_replaces_the_value_and_its_ttl(cache: MemkvCache[Any], clock: ManualClock) -> None:
    key: FullKey = (("ns",), "k")
    cache.set({key: ("first", TTL)})
    cache.set({key: ("second", None)})
    clock.advance(TTL * 100)
    assert cache.get([key]) == {key: "second"}
    cache.set({key: ("third", TTL)})
    clock.advance(TTL)
    assert cache.get([key]) == {}


def test_a_value_is_hidden_once_its_ttl_passes(
    cache: MemkvCache[Any], clock: ManualClock, mem: memkv.Memory
) -> None:
    short: FullKey = (("ns",), "short")
    long: FullKey = (("ns",), "long")
    forever: FullKey = (("ns",), "forever")
    cache.set({short: (1, 10), long: (2, 100), forever: (3, None)})
    clock.advance(9.999)
    assert cache.get([short, long, forever]) == {short: 1, long: 2, forever: 3}
    clock.advance(0.001)  # expired at its expiry time, as InMemoryCache has it
    assert cache.get([short, long, forever]) == {long: 2, forever: 3}
    clock.advance(90)
    assert cache.get([short, long, forever]) == {forever: 3}
    clock.advance(3600 * 24 * 365 * 10)
    assert cache.get([short, long, forever]) == {forever: 3}
    assert cached_count(mem) == 1
    assert mem.internal.sweep() == 2  # stored until memkv's expiry sweeps them
    assert cached_count(mem) == 1


@pytest.mark.parametrize("ttl", [0, -5, -0.5])
def test_a_ttl_of_zero_or_less_removes_the_key(
    cache: MemkvCache[Any], mem: memkv.Memory, ttl: int
) -> None:
    reference: InMemoryCache[Any] = InMemoryCache()
    key: FullKey = (("ns",), "k")
    for each in (cache, reference):
        each.set({key: ("old", None)})
        each.set({key: ("new", ttl)})
        assert each.get([key]) == {}
    assert cached_count(mem) == 0


def test_clear_namespaces_removes_exactly_those(cache: MemkvCache[Any]) -> None:
    reference: InMemoryCache[Any] = InMemoryCache()
    keys: list[FullKey] = [
        (("graph1", "node"), "key1"),
        (("graph2", "node"), "key2"),
        (("graph1", "other"), "key3"),
        (("graph1",), "key1"),  # the parent of a cleared namespace
        (("graph1", "node", "sub"), "key1"),  # nested under a cleared namespace
        (("graph1", "nodes"), "key1"),  # a label that starts like a cleared one
        ((), "key1"),
    ]
    pairs: Pairs = {key: (index, None) for index, key in enumerate(keys)}
    for each in (cache, reference):
        each.set(pairs)
        each.clear([("graph1", "node"), ("graph1", "other"), ("never", "set")])
    assert cache.get(keys) == reference.get(keys)
    assert set(cache.get(keys)) == set(keys) - {keys[0], keys[2]}
    cache.clear([])
    assert len(cache.get(keys)) == 5


def test_clear_all_leaves_every_other_record(cache: MemkvCache[Any], mem: memkv.Memory) -> None:
    mem.store("user/name", "Ada")
    mem.internal.store("elsewhere", "a package's record", "some.package")
    log: memkv.SequenceLog[str] = memkv.SequenceLog(mem, "events", str)
    log.append("one")
    keys: list[FullKey] = [(("a",), "k"), (("b", "c"), "k"), ((), "k")]
    cache.set(dict.fromkeys(keys, ("v", None)))
    cache.clear()
    assert cache.get(keys) == {}
    assert cached_count(mem) == 0
    cache.clear()  # twice: nothing to do
    assert mem.get("user/name") is not None
    assert mem.internal.get("elsewhere") is not None
    assert len(log) == 1


def test_values_live_in_the_internal_space(cache: MemkvCache[Any], mem: memkv.Memory) -> None:
    cache.set({(("graph", "node"), "key"): ({"result": 42}, TTL)})
    assert mem.count() == 0
    assert mem.list() == []
    assert mem.categories() == {}
    (stored,) = mem.internal.list(CATEGORY, type=CachedValue)
    assert stored.content.encoding == "msgpack"  # the default serde's, as LangGraph's caches
    assert stored.expires_at is not None
    assert mem.verify() == []


def test_the_serde_given_is_the_one_used(mem: memkv.Memory) -> None:
    class JsonSerde:
        def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
            return "json", json.dumps(obj).encode()

        def loads_typed(self, data: tuple[str, bytes]) -> Any:
            assert data[0] == "json"
            return json.loads(data[1])

    cache: MemkvCache[Any] = MemkvCache(mem, serde=JsonSerde())
    key: FullKey = (("ns",), "k")
    cache.set({key: ({"a": [1, 2]}, None)})
    assert cache.get([key]) == {key: {"a": [1, 2]}}
    (stored,) = mem.internal.list(CATEGORY, type=CachedValue)
    assert stored.content == CachedValue(encoding="json", data=b'{"a": [1, 2]}')


def test_set_and_aset_take_pairs_as_basecache_names_it() -> None:
    for method in (MemkvCache.set, MemkvCache.aset):
        assert list(inspect.signature(method).parameters) == ["self", "pairs"]
    assert issubclass(MemkvCache, BaseCache)


def test_values_outlive_the_process_that_set_them(
    backend_name: str, tmp_path: Path, clock: ManualClock
) -> None:
    if backend_name == "in-memory":
        pytest.skip("an in-memory store ends with its process")
    key: FullKey = (("graph", "node"), "key")
    with open_backend(backend_name, tmp_path, clock=clock) as first:
        MemkvCache[Any](first).set({key: (WRITES, TTL)})
    with open_backend(backend_name, tmp_path, clock=clock) as second:
        assert MemkvCache(second).get([key]) == {key: AS_DECODED}
        clock.advance(TTL)
        assert MemkvCache(second).get([key]) == {}


# -- keys ----------------------------------------------------------------------------------------

ODD_LABELS: Final[list[Namespace]] = [
    ("a.b",),
    ("a", "b"),
    ("a*",),
    ("a%",),
    ("*",),
    ("a\x00b",),
    ("a\x00", "b"),
    ("a\x01",),
    ("line\nbreak",),
    ("ünïcødé", "日本語", "🙂"),
    ("",),
    ("", ""),
    (),
    ("x" * 200,),  # too long to keep as it is: a digest
    ("x" * 200, "y"),
    ("y" * 300,),
]


def test_no_label_reaches_another_namespace(cache: MemkvCache[Any]) -> None:
    keys: list[FullKey] = [(namespace, key) for namespace in ODD_LABELS for key in ("k", "k\x00")]
    keys += [(("ns",), "z" * 300), (("ns",), "z" * 301), (("ns",), "")]
    pairs: Pairs = {key: (index, None) for index, key in enumerate(keys)}
    cache.set(pairs)
    assert cache.get(keys) == {key: index for index, (key, _) in enumerate(pairs.items())}
    for namespace in ODD_LABELS:
        cache.clear([namespace])
        keys = [key for key in keys if key[0] != namespace]
        assert set(cache.get(list(pairs))) == set(keys)


def test_integer_labels_differ_from_their_digits(cache: MemkvCache[Any]) -> None:
    numeric: FullKey = ((1, 2), "k")  # type: ignore[assignment]
    text: FullKey = (("1", "2"), "k")
    cache.set({numeric: ("int", None), text: ("str", None)})
    assert cache.get([numeric, text]) == {numeric: "int", text: "str"}


@pytest.mark.parametrize(
    ("namespace", "key", "error", "needle"),
    [
        (("ns",), 1.5, memkv.InvalidKey, "1.5"),
        (("ns", None), "k", memkv.InvalidKey, "None"),
        (("ns",), "\ud800", memkv.InvalidKey, "'\\ud800'"),
        (("\udfff",), "k", memkv.InvalidKey, "'\\udfff'"),
        ("ns", "k", memkv.InvalidArgument, "a tuple of labels"),
    ],
)
def test_bad_keys_are_refused_and_nothing_is_set(
    cache: MemkvCache[Any],
    mem: memkv.Memory,
    namespace: Any,
    key: Any,
    error: type[memkv.MemkvError],
    needle: str,
) -> None:
    pairs: Pairs = {(("ns",), "good"): ("v", None), (namespace, key): ("v", None)}
    with pytest.raises(error) as raised:
        cache.set(pairs)
    assert needle in str(raised.value)
    assert cached_count(mem) == 0
    with pytest.raises(error):
        cache.get([(namespace, key)])
    if key == "k":
        with pytest.raises(error):
            cache.clear([namespace])


@pytest.mark.parametrize("ttl", ["soon", float("nan"), float("inf"), True, 10**12])
def test_bad_ttls_are_refused_and_nothing_is_set(
    cache: MemkvCache[Any], mem: memkv.Memory, ttl: Any
) -> None:
    with pytest.raises(memkv.InvalidArgument, match="ttl"):
        cache.set({(("ns",), "good"): ("v", None), (("ns",), "bad"): ("v", ttl)})
    assert cached_count(mem) == 0


def test_a_closed_store_is_reported(mem: memkv.Memory) -> None:
    cache: MemkvCache[Any] = MemkvCache(mem)
    mem.close()
    key: FullKey = (("ns",), "k")
    for call in (lambda: cache.get([key]), lambda: cache.set({key: (1, None)}), cache.clear):
        with pytest.raises(memkv.StoreClosed):
            call()


def test_only_a_memory_is_taken() -> None:
    with pytest.raises(memkv.InvalidArgument, match=r"memkv\.Memory"):
        MemkvCache("agent-memory")  # type: ignore[arg-type]


# -- async ---------------------------------------------------------------------------------------


def test_async_twins(cache: MemkvCache[Any], clock: ManualClock, mem: memkv.Memory) -> None:
    async def main() -> None:
        keys: list[FullKey] = [(("graph", f"node{i}"), f"key{i}") for i in range(32)]
        assert await cache.aget([]) == {}
        await cache.aset({})
        # Concurrent sets, group-committed: every one lands.
        await asyncio.gather(*(cache.aset({key: (i, TTL)}) for i, key in enumerate(keys)))
        assert await cache.aget(keys) == {key: i for i, key in enumerate(keys)}
        assert cache.get(keys) == await cache.aget(keys)
        await cache.aclear([("graph", "node0"), ("graph", "node1")])
        assert set(await cache.aget(keys)) == set(keys[2:])
        await cache.aset({keys[2]: ("renewed", None), keys[3]: ("gone", 0)})
        clock.advance(TTL)
        assert await cache.aget(keys) == {keys[2]: "renewed"}
        await cache.aclear()
        assert await cache.aget(keys) == {}
        with pytest.raises(memkv.InvalidArgument, match="ttl"):
            await cache.aset({keys[0]: ("v", "soon")})  # type: ignore[dict-item]

    asyncio.run(main())
    assert cached_count(mem) == 0


# -- must-show 5: a graph's node cache ----------------------------------------------------------


class State(TypedDict):
    topic: str
    notes: Annotated[list[str], operator.add]


class CountedGraph:
    """A two-node graph: ``research`` cached with ``CachePolicy(ttl=TTL)``, ``write``
    not; each counts its runs."""

    def __init__(self, cache: BaseCache[Any]) -> None:
        self.runs = {"research": 0, "write": 0}
        builder = StateGraph(State)
        builder.add_node("research", self.research, cache_policy=CachePolicy(ttl=TTL))
        builder.add_node("write", self.write)
        builder.add_edge(START, "research")
        builder.add_edge("research", "write")
        builder.add_edge("write", END)
        self.graph = builder.compile(cache=cache)

    def research(self, state: State) -> dict[str, list[str]]:
        self.runs["research"] += 1
        return {"notes": [f"facts about {state['topic']}"]}

    def write(self, state: State) -> dict[str, list[str]]:
        self.runs["write"] += 1
        return {"notes": [f"essay from {len(state['notes'])} notes"]}


def asking(topic: str) -> State:
    return {"topic": topic, "notes": []}


EXPECTED: Final[State] = {"topic": "owls", "notes": ["facts about owls", "essay from 1 notes"]}


def test_a_cached_node_runs_again_only_after_its_ttl(
    cache: MemkvCache[Any], clock: ManualClock
) -> None:
    counted = CountedGraph(cache)
    assert counted.graph.invoke(asking("owls")) == EXPECTED
    assert counted.runs == {"research": 1, "write": 1}
    clock.advance(TTL - 1)
    assert counted.graph.invoke(asking("owls")) == EXPECTED  # served from the cache
    assert counted.runs == {"research": 1, "write": 2}
    counted.graph.invoke(asking("bats"))  # another input: another key
    assert counted.runs == {"research": 2, "write": 3}
    clock.advance(1)  # the owls' entry has expired
    assert counted.graph.invoke(asking("owls")) == EXPECTED
    assert counted.runs == {"research": 3, "write": 4}
    counted.graph.invoke(asking("owls"))
    assert counted.runs == {"research": 3, "write": 5}
    counted.graph.clear_cache()
    counted.graph.invoke(asking("owls"))
    assert counted.runs == {"research": 4, "write": 6}


def test_a_cached_node_runs_again_only_after_its_ttl_async(
    cache: MemkvCache[Any], clock: ManualClock
) -> None:
    counted = CountedGraph(cache)

    async def main() -> None:
        assert await counted.graph.ainvoke(asking("owls")) == EXPECTED
        assert await counted.graph.ainvoke(asking("owls")) == EXPECTED
        assert counted.runs == {"research": 1, "write": 2}
        clock.advance(TTL)
        await counted.graph.ainvoke(asking("owls"))
        assert counted.runs == {"research": 2, "write": 3}
        await counted.graph.aclear_cache(["research"])
        await counted.graph.ainvoke(asking("owls"))
        assert counted.runs == {"research": 3, "write": 4}

    asyncio.run(main())


def test_the_cache_is_shared_by_graphs_on_one_store(
    backend_name: str, tmp_path: Path, clock: ManualClock
) -> None:
    if backend_name == "in-memory":
        pytest.skip("an in-memory store is not shared")
    with open_backend(backend_name, tmp_path, clock=clock) as first:
        one = CountedGraph(MemkvCache(first))
        one.graph.invoke(asking("owls"))
    with open_backend(backend_name, tmp_path, clock=clock) as second:
        other = CountedGraph(MemkvCache(second))  # the same node, as another process builds it
        assert other.graph.invoke(asking("owls")) == EXPECTED
        assert other.runs == {"research": 0, "write": 1}
