"""LMDB (and PostgreSQL) and the in-memory oracle, driven together by random operation
sequences: after every step they must agree, and the store must be internally
consistent."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import memkv
from memkv.keys import pack
from tests import postgres

KEYS = st.sampled_from(
    [
        "a",
        "ab",
        "abc",
        "b",
        "a\x00",
        "é",
        "run_1",
        "run_10",
        "z" * 256,
        pack(("sop", "step", "r", 2)),
        pack(("sop", "step", "r", 10)),
        pack(("sop", "step", "r_", 1)),
    ]
)
PREFIXES = st.sampled_from(["", "a", "ab", "run_1", "z", "q", pack(("sop", "step", "r"))])
CATEGORIES = st.sampled_from(["core", "daily", "sop"])
SESSIONS = st.none() | st.sampled_from(["s1", "s2"])
CONTENTS = st.one_of(
    st.text(max_size=5),
    st.integers(),
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
LIMITS = st.none() | st.integers(min_value=1, max_value=4)


def view(entry: memkv.MemoryEntry[Any] | None) -> tuple[Any, ...] | None:
    """What must agree between backends (ids and times are each store's own)."""
    if entry is None:
        return None
    return (entry.key, entry.content, entry.category, entry.session_id)


def normalise(result: Any) -> Any:
    return view(result) if isinstance(result, memkv.MemoryEntry | None) else result


def outcome(fn: Any) -> tuple[str, Any]:
    """A call's result, or the type of memkv error it raised."""
    try:
        return ("ok", fn())
    except memkv.MemkvError as exc:
        return ("error", type(exc).__name__)


class MemoryAgreement(RuleBasedStateMachine):
    """An LMDB store (a small map, so that it grows; a small cache, so that entries
    come and go) against the in-memory oracle."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="memkv-stateful-"))
        self.under_test = self.open_store()
        self.oracle = memkv.open(":memory:")
        self.ids: dict[str, str] = {}  # key -> id in the LMDB store, to check stability

    def open_store(self) -> memkv.Memory:
        """The store under test: the same one again after a close."""
        return memkv.open(self.directory / "store", map_size=1 << 20, cache_size=8)

    def teardown(self) -> None:
        self.under_test.close()
        self.oracle.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def both(self, call: Any) -> Any:
        got, expected = outcome(lambda: call(self.under_test)), outcome(lambda: call(self.oracle))
        assert (got[0], normalise(got[1])) == (expected[0], normalise(expected[1]))
        return got[1]

    @rule(key=KEYS, content=CONTENTS, category=CATEGORIES, session=SESSIONS)
    def store(self, key: str, content: Any, category: str, session: str | None) -> None:
        entry = self.both(lambda m: m.store(key, content, category, session))
        if isinstance(entry, str):
            assert entry == "InvalidContent"  # an integer beyond msgpack's 64 bits
            return
        if key in self.ids:
            assert entry.id == self.ids[key]
        self.ids[key] = entry.id

    @rule(key=KEYS, content=CONTENTS, category=CATEGORIES, session=SESSIONS)
    def insert(self, key: str, content: Any, category: str, session: str | None) -> None:
        result = self.both(lambda m: m.insert(key, content, category, session))
        if isinstance(result, memkv.MemoryEntry):
            self.ids[key] = result.id
        else:
            assert result in ("Conflict", "InvalidContent")

    @rule(key=KEYS)
    def get(self, key: str) -> None:
        entry = self.both(lambda m: m.get(key))
        if entry is not None:
            assert entry.id == self.ids[key]

    @rule(key=KEYS)
    def forget(self, key: str) -> None:
        if self.both(lambda m: m.forget(key)):
            del self.ids[key]

    @rule(
        category=st.none() | CATEGORIES,
        session=SESSIONS,
        prefix=st.none() | PREFIXES,
        limit=LIMITS,
        after=st.none() | KEYS,
        reverse=st.booleans(),
    )
    def list_entries(
        self,
        category: str | None,
        session: str | None,
        prefix: str | None,
        limit: int | None,
        after: str | None,
        reverse: bool,
    ) -> None:
        got = self.under_test.list(
            category, session, prefix=prefix, limit=limit, after=after, reverse=reverse
        )
        expected = self.oracle.list(
            category, session, prefix=prefix, limit=limit, after=after, reverse=reverse
        )
        assert [view(e) for e in got] == [view(e) for e in expected]
        keys = self.under_test.keys(
            category, session, prefix=prefix, limit=limit, after=after, reverse=reverse
        )
        assert keys == [e.key for e in expected]

    @rule(
        category=st.none() | CATEGORIES,
        session=SESSIONS,
        limit=st.integers(1, 3),
        reverse=st.booleans(),
    )
    def page_through(
        self, category: str | None, session: str | None, limit: int, reverse: bool
    ) -> None:
        pages: list[str] = []
        after = None
        while page := self.under_test.list(
            category, session, limit=limit, after=after, reverse=reverse
        ):
            pages += [entry.key for entry in page]
            after = page[-1].key
        assert pages == [e.key for e in self.oracle.list(category, session, reverse=reverse)]

    @rule(category=st.none() | CATEGORIES, session=SESSIONS)
    def count(self, category: str | None, session: str | None) -> None:
        self.both(lambda m: m.count(category, session))

    @rule(
        ops=st.lists(st.tuples(st.booleans(), KEYS, CONTENTS, CATEGORIES, SESSIONS), max_size=4),
        fail=st.booleans(),
    )
    def transact(self, ops: list[tuple[bool, str, Any, str, str | None]], fail: bool) -> None:
        def fn(tx: memkv.Transaction) -> int:
            for is_store, key, content, category, session in ops:
                if is_store:
                    tx.store(key, content, category, session)
                else:
                    tx.forget(key)
            if fail:
                raise RuntimeError("half-way")
            return tx.count()

        results: list[object] = []
        for mem in (self.under_test, self.oracle):
            try:
                results.append(mem.transact(fn))
            except (RuntimeError, memkv.InvalidContent) as exc:
                results.append(type(exc).__name__)
        assert results[0] == results[1]
        if isinstance(results[0], int):
            self.ids = {e.key: e.id for e in self.under_test.list()}

    @rule()
    def close_and_reopen(self) -> None:
        self.under_test.close()
        self.under_test = self.open_store()

    @precondition(lambda self: self.under_test.count() > 0)
    @rule()
    def typed_get_of_every_entry(self) -> None:
        for entry in self.oracle.list():
            expected = entry.content
            got = self.under_test.get(entry.key, type=type(expected))
            assert got is not None
            assert got.content == expected

    @invariant()
    def agree_everywhere(self) -> None:
        assert [view(e) for e in self.under_test.list()] == [view(e) for e in self.oracle.list()]
        assert self.under_test.categories() == self.oracle.categories()
        assert self.under_test.sessions() == self.oracle.sessions()
        assert self.under_test.count() == self.oracle.count()
        assert self.under_test.verify() == []
        assert self.oracle.verify() == []


TestMemoryAgreement = MemoryAgreement.TestCase
TestMemoryAgreement.settings = settings(max_examples=150, stateful_step_count=50)


class PostgresAgreement(MemoryAgreement):
    """The same machine with a PostgreSQL store (its read cache on, as a user may
    turn it on: it must never serve what a commit has changed)."""

    def open_store(self) -> memkv.Memory:
        return postgres.open_store(self.directory, cache_size=8)


TestPostgresAgreement = PostgresAgreement.TestCase
TestPostgresAgreement.settings = settings(max_examples=60, stateful_step_count=40)


@pytest.mark.slow
def test_memory_agreement_long() -> None:
    """The same machine, longer and more often (``pytest -m slow``)."""
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(
        MemoryAgreement, settings=settings(max_examples=400, stateful_step_count=80)
    )
    run_state_machine_as_test(  # a round trip per read: fewer examples in the same time
        PostgresAgreement, settings=settings(max_examples=120, stateful_step_count=80)
    )
