"""`MemkvStore` against LangGraph's own `InMemoryStore`: random batches of puts,
deletes, gets, searches with filters and namespace listings run on both, which must
agree after every step, on LMDB (closed and reopened at random), in memory and on
PostgreSQL.

Ops go straight to ``batch()``, so labels and keys LangGraph's public methods would
refuse (``.``, ``*``, ``%``, NUL, newlines, empty labels, any Unicode) reach both
stores. What the reference cannot decide is left out or checked apart:

* order: `InMemoryStore` returns a search's items in insertion order, memkv the most
  recently updated first (ties: key order). The machine keeps its own record of when
  each item was last put, orders the reference's whole result by it, then applies the
  offset and limit;
* the order of a search with a query (the rankings differ by design: `InMemoryStore`
  without an index ignores the query); the machine checks that a page holds as many
  items and the whole result the same ones, best score first, the unscored last;
* ``$gt``-like operators on fields that are not numbers (`InMemoryStore` converts
  with ``float()`` and raises where memkv compares strings with strings);
* ``created_at``: `InMemoryStore` resets it on every put, memkv keeps it when an item
  is replaced; the machine checks memkv's against the one it had when it was created.

Bad ops (an empty namespace, a root label ``"langgraph"``, a label that is not a
string, a value that is not a dict, a key too long for memkv, a filter with an unknown
operator or mixing operators with fields) must be refused with a typed error, inside a
batch of good puts none of which may then be written.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    SearchItem,
    SearchOp,
)
from langgraph.store.memory import InMemoryStore

import memkv
from memkv.langgraph import AsyncMemkvStore, MemkvStore
from memkv.langgraph.items import item_key
from tests import postgres

Namespace = tuple[str, ...]
ItemId = tuple[Namespace, str]
Row = tuple[Namespace, str, dict[str, Any]]

EVERYTHING = 10**6  # a limit past every item

AWKWARD_LABELS = [".", "a.b", "*", "%", "\x00", "a\x00b", "\n", "", "東京", "🙂", "langgraph"]
LABELS = st.sampled_from(["a", "b", "users", *AWKWARD_LABELS]) | st.text(max_size=3)
ROOTS = LABELS.filter(lambda label: label != "langgraph")  # a root LangGraph reserves
NAMESPACES = st.builds(
    lambda root, rest: (root, *rest), ROOTS, st.lists(LABELS, max_size=2).map(tuple)
)
PREFIXES = st.just(()) | st.builds(
    lambda namespace, length: namespace[:length], NAMESPACES, st.integers(1, 3)
)
KEYS = st.sampled_from(["k", "", ".", "*", "%", "\x00", "k\n", "東京", "a.b"]) | st.text(max_size=4)

NUMBERS = st.integers(-3, 3) | st.sampled_from([-1.5, 0.5, 1.0, 2.25])
FIELD_KEYS = st.sampled_from(["a", "b", ".", "", "東"])  # never "$...": an operator
JSON = st.recursive(
    st.none() | st.booleans() | NUMBERS | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(FIELD_KEYS, inner, max_size=2),
    max_leaves=4,
)
WORDS = ["tea", "green", "Ada", "東京", "a.b", "%"]
TEXTS = st.lists(st.sampled_from(WORDS), max_size=3).map(" ".join)
VALUES = st.fixed_dictionaries(
    {
        "n": NUMBERS,  # every item has a number: the ordering operators compare it
        "text": TEXTS,  # and words a query finds
    },
    optional={"tag": JSON, "meta": st.dictionaries(FIELD_KEYS, JSON, max_size=2)},
)

ORDERING = ("$gt", "$gte", "$lt", "$lte")
EQUALITY = ("$eq", "$ne")
NUMBER_CONDITIONS = NUMBERS | st.dictionaries(
    st.sampled_from(EQUALITY + ORDERING), NUMBERS, min_size=1, max_size=2
)
ANY_CONDITIONS = JSON | st.dictionaries(st.sampled_from(EQUALITY), JSON, min_size=1, max_size=2)
FILTERS = st.none() | st.fixed_dictionaries(
    {},
    optional={
        "n": NUMBER_CONDITIONS,
        "tag": ANY_CONDITIONS,
        "meta": ANY_CONDITIONS | st.dictionaries(FIELD_KEYS, ANY_CONDITIONS, max_size=2),
        "missing": ANY_CONDITIONS,
    },
)

WINDOWS = st.tuples(st.integers(0, 4) | st.just(EVERYTHING), st.integers(0, 3))  # limit, offset
PATHS = st.lists(LABELS | st.just("*"), max_size=2).map(tuple)
CONDITIONS = st.lists(
    st.builds(MatchCondition, st.sampled_from(["prefix", "suffix"]), PATHS), max_size=2
).map(tuple)


def put(namespace: Namespace, key: str, value: dict[str, Any] | None) -> PutOp:
    """A put (``None``: a delete) without a ttl or index: `st.builds` on `PutOp`
    itself would draw those too."""
    return PutOp(namespace, key, value)


def get(namespace: Namespace, key: str) -> GetOp:
    return GetOp(namespace, key)


PUTS = st.builds(put, NAMESPACES, KEYS, VALUES)
DELETES = st.builds(put, NAMESPACES, KEYS, st.none())
GETS = st.builds(get, NAMESPACES, KEYS)
SEARCHES = st.builds(
    lambda prefix, filter_, window: SearchOp(prefix, filter_, *window),
    PREFIXES,
    FILTERS,
    WINDOWS,
)
LISTINGS = st.builds(
    lambda conditions, depth, window: ListNamespacesOp(conditions or None, depth, *window),
    CONDITIONS,
    st.none() | st.integers(0, 3),
    WINDOWS,
)
QUERIES = st.builds(
    lambda prefix, filter_, window, query: SearchOp(prefix, filter_, window[0], window[1], query),
    PREFIXES,
    FILTERS,
    st.just((EVERYTHING, 0)) | WINDOWS,
    TEXTS.filter(bool),
)
OPS = st.one_of(PUTS, PUTS, DELETES, GETS, SEARCHES, QUERIES, LISTINGS)

# Ops memkv refuses, with whether InMemoryStore (its public method, or its batch)
# refuses them too: the others are limits of memkv's own, checked on memkv alone.
REFUSED: list[tuple[Op, bool]] = [
    (PutOp((), "k", {"n": 1}), True),  # an empty namespace
    (PutOp(("langgraph", "a"), "k", {"n": 1}), True),  # LangGraph's reserved root
    (PutOp(("a", 1), "k", {"n": 1}), True),  # type: ignore[arg-type]  # a label not a str
    (PutOp(("a",), "k", "text"), True),  # type: ignore[arg-type]  # not a dict
    (PutOp(("a",), "k", 5), True),  # type: ignore[arg-type]
    (PutOp(("a",), "k" * 300, {"n": 1}), False),  # past memkv's 256-byte keys
    (GetOp(("a",), 5), False),  # type: ignore[arg-type]  # a key not a str
    (SearchOp(("a",), {"n": {"$in": [1]}}), True),  # an unknown operator
    (SearchOp((), {"n": {"x": 1, "$gt": 0}}), True),  # operators mixed with a field
    (SearchOp((), None, -1), False),  # a negative limit
    (ListNamespacesOp(None, -1), False),  # a negative depth
]


class TickingClock:
    """A clock one millisecond further on at each reading: each batch of puts gets a
    time of its own, later than the one before (the system clock may repeat one)."""

    def __init__(self) -> None:
        self._ticks = itertools.count()
        self._start = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self._start + timedelta(milliseconds=next(self._ticks))


def row(item: Item) -> Row:
    return (tuple(item.namespace), item.key, item.value)


class StoreAgreesWithInMemoryStore(RuleBasedStateMachine):
    """Two stores on the memkv store `open_memory` makes (on two handles of it where it
    has several, else on one), used in turn at random, against `InMemoryStore`: what
    one writes the other reads at once (each keeps reads between commits). Both are
    `MemkvStore` objects unless `second_store` says otherwise. A persistent store is
    also closed and reopened at random."""

    persistent = True
    two_handles = True

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="memkv-lg-stateful-"))
        self.clock = TickingClock()
        self.runner = asyncio.Runner()
        self.open_stores()
        self.reference = InMemoryStore()
        self.last_put: dict[ItemId, int] = {}  # item -> the batch that last put it
        self.created_at: dict[ItemId, datetime] = {}  # as memkv first reported it
        self.batches = 0

    def open_memory(self) -> memkv.Memory:
        return memkv.open(self.directory / "store", map_size=1 << 20, clock=self.clock)

    def open_stores(self) -> None:
        self.memory = self.open_memory()
        self.other_memory = self.open_memory() if self.two_handles else self.memory
        self.stores: tuple[BaseStore, BaseStore] = (
            MemkvStore(self.memory),
            self.second_store(self.other_memory),
        )
        self.store: BaseStore = self.stores[0]

    def second_store(self, memory: memkv.Memory) -> BaseStore:
        return MemkvStore(memory)

    def run_batch(self, store: BaseStore, ops: list[Op]) -> list[Any]:
        """``store.batch(ops)``; ``abatch`` on an event loop for an async store."""
        if isinstance(store, AsyncMemkvStore):
            return self.runner.run(store.abatch(ops))
        return store.batch(ops)

    def close_stores(self) -> None:
        self.memory.close()
        self.other_memory.close()

    def teardown(self) -> None:
        self.close_stores()
        self.runner.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- the rules -----------------------------------------------------------------

    @rule(ops=st.lists(OPS, min_size=1, max_size=5), which=st.integers(0, 1))
    def batch(self, ops: list[Op], which: int) -> None:
        """One batch on both stores: the reads see the stores as they were before it."""
        self.store = self.stores[which]
        got = self.run_batch(self.store, ops)
        expected = reference_batch(self.reference, ops)
        assert len(got) == len(expected) == len(ops)
        for op, mine, theirs in zip(ops, got, expected, strict=True):
            if isinstance(op, PutOp):
                assert mine is None
            elif isinstance(op, GetOp):
                self.check_get(mine, theirs)
            elif isinstance(op, SearchOp):
                self.check_search(op, mine, theirs)
            else:
                assert mine == theirs
        self.batches += 1
        created = set()
        for op in ops:
            if isinstance(op, PutOp):
                created.add((op.namespace, op.key))
                self.record_put(op)
        for identity in created & set(self.last_put) - set(self.created_at):
            self.record_created(identity)

    @rule(
        puts=st.lists(PUTS, max_size=3),
        refused=st.sampled_from(REFUSED),
        position=st.integers(0, 3),
    )
    def refused_batch(self, puts: list[PutOp], refused: tuple[Op, bool], position: int) -> None:
        """A bad op among good puts: memkv refuses the whole batch with a typed error
        (the invariant then finds nothing written); so does the reference where it
        checks that op."""
        bad, reference_refuses = refused
        ops: list[Op] = [*puts]
        ops.insert(min(position, len(ops)), bad)
        with pytest.raises((memkv.MemkvError, InvalidNamespaceError)):
            self.run_batch(self.store, ops)
        if reference_refuses and self.reference_checks(bad):
            with pytest.raises((ValueError, TypeError)):
                reference_run(self.reference, bad)

    @rule(namespace=NAMESPACES, key=KEYS)
    def get_through_the_public_method(self, namespace: Namespace, key: str) -> None:
        """`BaseStore.get` agrees too, where it accepts the labels."""
        try:
            theirs = self.reference.get(namespace, key)
        except InvalidNamespaceError:
            with pytest.raises(InvalidNamespaceError):
                self.store.get(namespace, key)
            return
        self.check_get(self.store.get(namespace, key), theirs)

    @precondition(lambda self: self.persistent)
    @rule()
    def close_and_reopen(self) -> None:
        self.close_stores()
        self.open_stores()

    # -- the checks ------------------------------------------------------------------

    def check_get(self, mine: Item | None, theirs: Item | None) -> None:
        if theirs is None:
            assert mine is None
            return
        assert mine is not None
        assert row(mine) == row(theirs)
        self.check_times(mine)

    def check_search(self, op: SearchOp, mine: list[SearchItem], theirs: list[Item]) -> None:
        for item in mine:
            self.check_times(item)
        if op.query:
            check_query(op, mine, theirs)
            return
        expected = self.newest_first(theirs)[op.offset : op.offset + op.limit]
        assert [row(item) for item in mine] == [row(item) for item in expected]
        assert all(item.score is None for item in mine)

    def check_times(self, item: Item) -> None:
        """``created_at`` stays what it was when the item was first put (until it is
        deleted); ``updated_at`` is never before it."""
        assert item.created_at == self.created_at[(tuple(item.namespace), item.key)]
        assert item.updated_at >= item.created_at

    def newest_first(self, items: list[Item]) -> list[Item]:
        """``items`` in memkv's order: last put latest first, ties in memkv key order."""

        def order(item: Item) -> tuple[int, str]:
            namespace = tuple(item.namespace)
            return (-self.last_put[(namespace, item.key)], item_key(namespace, item.key))

        return sorted(items, key=order)

    def record_put(self, op: PutOp) -> None:
        identity = (op.namespace, op.key)
        if op.value is None:
            self.last_put.pop(identity, None)
            self.created_at.pop(identity, None)
        else:
            self.last_put[identity] = self.batches

    def record_created(self, identity: ItemId) -> None:
        """An item a batch created: its ``created_at`` is its ``updated_at``, and stays
        (`check_times`) until it is deleted."""
        [item] = self.run_batch(self.store, [GetOp(*identity)])
        assert isinstance(item, Item)
        assert item.created_at == item.updated_at
        self.created_at[identity] = item.created_at

    def reference_checks(self, op: Op) -> bool:
        """Whether `InMemoryStore` looks at what is wrong with ``op``: a filter is only
        applied to items under the search's prefix."""
        if not isinstance(op, SearchOp):
            return True
        prefix = op.namespace_prefix
        return any(namespace[: len(prefix)] == prefix for namespace, _ in self.last_put)

    @invariant()
    def agree_everywhere(self) -> None:
        reads: list[Op] = [SearchOp((), None, EVERYTHING), ListNamespacesOp(limit=EVERYTHING)]
        found, namespaces = reference_batch(self.reference, reads)
        expected = [row(item) for item in self.newest_first(found)]
        for store in self.stores:
            mine = self.run_batch(store, reads)
            assert [row(item) for item in mine[0]] == expected
            assert mine[1] == namespaces
        assert len(expected) == len(self.last_put) == self.memory.count("langgraph")


def check_query(op: SearchOp, mine: list[SearchItem], theirs: list[Item]) -> None:
    """A search with a query (`InMemoryStore` without an index ignores it): memkv's
    ranking is its own, but the items that pass the filter and match no word follow the
    ranked ones, so a page holds as many items, and the whole result the same ones."""
    assert len(mine) == len(theirs[op.offset : op.offset + op.limit])
    if op.offset == 0 and op.limit >= len(theirs):
        assert {(row(item)[:2]): item.value for item in mine} == {
            row(item)[:2]: item.value for item in theirs
        }
    scores = [item.score for item in mine]
    ranked = [score for score in scores if score is not None]
    assert scores == [*ranked, *[None] * (len(scores) - len(ranked))]  # the scored first
    assert ranked == sorted(ranked, reverse=True)  # best first


def reference_batch(reference: InMemoryStore, ops: list[Op]) -> list[Any]:
    """``ops`` as one batch on the reference: each read on the store as it was before
    the batch, then the puts. A search is asked for every match (ordered and cut by
    the machine). `InMemoryStore` keeps a namespace a get merely looked at (its
    ``_data`` is a defaultdict) and lists it: such empty namespaces are dropped first."""
    results: list[Any] = []
    for op in ops:
        drop_empty_namespaces(reference)
        if isinstance(op, PutOp):
            results.append(None)
        elif isinstance(op, SearchOp):
            results += reference.batch([op._replace(limit=EVERYTHING, offset=0)])
        else:
            results += reference.batch([op])
    reference.batch([op for op in ops if isinstance(op, PutOp)])
    drop_empty_namespaces(reference)
    return results


def drop_empty_namespaces(reference: InMemoryStore) -> None:
    for namespace in [namespace for namespace, items in reference._data.items() if not items]:
        del reference._data[namespace]


def reference_run(reference: InMemoryStore, op: Op) -> None:
    """``op`` through the reference's public method (which checks namespaces), or
    its batch for the ops no public method takes as they are."""
    if isinstance(op, PutOp) and isinstance(op.value, dict):
        reference.put(op.namespace, op.key, op.value)
    else:
        reference.batch([op])


class InMemoryStoreAgrees(StoreAgreesWithInMemoryStore):
    persistent = False
    two_handles = False  # a second open is another, empty store

    def open_memory(self) -> memkv.Memory:
        return memkv.open(memkv.IN_MEMORY, clock=self.clock)


class PostgresStoreAgrees(StoreAgreesWithInMemoryStore):
    persistent = True

    def open_memory(self) -> memkv.Memory:
        return postgres.open_store(self.directory, clock=self.clock)


class AsyncStoreAgrees(StoreAgreesWithInMemoryStore):
    """The second store an `AsyncMemkvStore` (its ``abatch``: reads on the event loop,
    writes through memkv's group commit)."""

    def second_store(self, memory: memkv.Memory) -> BaseStore:
        return AsyncMemkvStore(memory)


TestLmdbStoreAgrees = StoreAgreesWithInMemoryStore.TestCase
TestLmdbStoreAgrees.settings = settings(max_examples=60, stateful_step_count=30)
TestInMemoryStoreAgrees = InMemoryStoreAgrees.TestCase
TestInMemoryStoreAgrees.settings = settings(max_examples=60, stateful_step_count=30)
TestPostgresStoreAgrees = PostgresStoreAgrees.TestCase
TestPostgresStoreAgrees.settings = settings(max_examples=20, stateful_step_count=25)
TestAsyncStoreAgrees = AsyncStoreAgrees.TestCase
TestAsyncStoreAgrees.settings = settings(max_examples=30, stateful_step_count=30)


@pytest.mark.slow
def test_agreement_long() -> None:
    """The same machines, longer and more often (``pytest -m slow``)."""
    long = settings(max_examples=300, stateful_step_count=60)
    run_state_machine_as_test(StoreAgreesWithInMemoryStore, settings=long)
    run_state_machine_as_test(InMemoryStoreAgrees, settings=long)
    run_state_machine_as_test(AsyncStoreAgrees, settings=long)
    run_state_machine_as_test(
        PostgresStoreAgrees, settings=settings(max_examples=80, stateful_step_count=60)
    )


def test_a_filter_mixing_operators_and_fields_is_refused(
    memory: memkv.Memory,
) -> None:
    """``{"$gt": 0, "x": 1}`` is neither a set of operators nor a nested match:
    `InMemoryStore` raises on it; memkv once read ``"x"`` as ``$lte``."""
    store = MemkvStore(memory)
    store.put(("a",), "k", {"n": 1, "x": 1})
    reference = InMemoryStore()
    reference.put(("a",), "k", {"n": 1, "x": 1})
    mixed = {"n": {"$gt": 0, "x": 1}}
    with pytest.raises(memkv.InvalidArgument, match="mixes operators and fields"):
        store.search(("a",), filter=mixed)
    with pytest.raises(ValueError, match="Unsupported operator"):
        reference.search(("a",), filter=mixed)
