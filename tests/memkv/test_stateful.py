"""Every backend against a model: random operation sequences run on a store and on
`tests.memkv.model.MemoryModel` (a dict, brute force, no memkv code), which must agree
after every step; the store must also be internally consistent (`verify`)."""

from __future__ import annotations

import shutil
import tempfile
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

import memkv
from memkv.backends.inmemory import InMemoryBackend
from memkv.keys import pack
from tests import postgres
from tests.memkv.model import MemoryModel, Row

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
INTEGERS = st.integers(-(2**63), 2**64 - 1)  # what msgpack encodes (see `store_unencodable`)
CONTENTS = st.one_of(
    st.text(max_size=5),
    INTEGERS,
    st.binary(max_size=4),
    st.lists(INTEGERS, max_size=3),
    st.dictionaries(st.text(max_size=2), INTEGERS, max_size=2),
)
LIMITS = st.none() | st.integers(min_value=1, max_value=4)


def row(entry: memkv.MemoryEntry[Any] | None) -> Row | None:
    """What the model knows of an entry (ids and times are the store's own)."""
    if entry is None:
        return None
    return (entry.key, entry.content, entry.category, entry.session_id)


class AgreesWithModel(RuleBasedStateMachine):
    """A store against the model. `open_store` makes the store under test; a
    persistent one is also closed and reopened at random."""

    persistent = True

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="memkv-stateful-"))
        self.store_under_test = self.open_store()
        self.model = MemoryModel()
        self.internal_model = MemoryModel()  # the internal key space: another store
        self.ids: dict[str, str] = {}  # key -> id in the store, to check stability

    def open_store(self) -> memkv.Memory:
        """The store under test: the same one again after a close. LMDB, with a
        small map (so that it grows) and a small cache (so that entries come and go)."""
        return memkv.open(self.directory / "store", map_size=1 << 20, cache_size=8)

    def teardown(self) -> None:
        self.store_under_test.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    @rule(key=KEYS, content=CONTENTS, category=CATEGORIES, session=SESSIONS)
    def store(self, key: str, content: Any, category: str, session: str | None) -> None:
        entry = self.store_under_test.store(key, content, category, session)
        assert row(entry) == self.model.store(key, content, category, session)
        if key in self.ids:
            assert entry.id == self.ids[key]  # a replaced entry keeps its id
        self.ids[key] = entry.id

    @rule(key=KEYS, category=CATEGORIES)
    def store_unencodable(self, key: str, category: str) -> None:
        """Content msgpack cannot encode (beyond 64 bits) is refused; nothing changes."""
        with pytest.raises(memkv.InvalidContent):
            self.store_under_test.store(key, 2**64, category)

    @rule(key=KEYS, content=CONTENTS, category=CATEGORIES, session=SESSIONS)
    def insert(self, key: str, content: Any, category: str, session: str | None) -> None:
        try:
            entry = self.store_under_test.insert(key, content, category, session)
        except memkv.Conflict:
            assert not self.model.insert(key, content, category, session)
        else:
            assert self.model.insert(key, content, category, session)
            assert row(entry) == self.model.get(key)
            self.ids[key] = entry.id

    @rule(key=KEYS)
    def get(self, key: str) -> None:
        entry = self.store_under_test.get(key)
        assert row(entry) == self.model.get(key)
        if entry is not None:
            assert entry.id == self.ids[key]

    @rule(key=KEYS)
    def forget(self, key: str) -> None:
        assert self.store_under_test.forget(key) == self.model.forget(key)
        self.ids.pop(key, None)

    @rule(key=KEYS, content=CONTENTS, category=CATEGORIES, session=SESSIONS)
    def store_internal(self, key: str, content: Any, category: str, session: str | None) -> None:
        entry = self.store_under_test.internal.store(key, content, category, session)
        assert row(entry) == self.internal_model.store(key, content, category, session)

    @rule(key=KEYS)
    def forget_internal(self, key: str) -> None:
        forgotten = self.store_under_test.internal.forget(key)
        assert forgotten == self.internal_model.forget(key)

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
        expected = self.model.list(category, session, prefix, limit, after, reverse)
        got = self.store_under_test.list(
            category, session, prefix=prefix, limit=limit, after=after, reverse=reverse
        )
        assert [row(entry) for entry in got] == expected
        keys = self.store_under_test.keys(
            category, session, prefix=prefix, limit=limit, after=after, reverse=reverse
        )
        assert keys == [key for key, *_ in expected]

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
        while page := self.store_under_test.list(
            category, session, limit=limit, after=after, reverse=reverse
        ):
            pages += [entry.key for entry in page]
            after = page[-1].key
        assert pages == [key for key, *_ in self.model.list(category, session, reverse=reverse)]

    @rule(category=st.none() | CATEGORIES, session=SESSIONS)
    def count(self, category: str | None, session: str | None) -> None:
        assert self.store_under_test.count(category, session) == self.model.count(category, session)

    @rule(
        ops=st.lists(
            st.tuples(st.booleans(), st.booleans(), KEYS, CONTENTS, CATEGORIES, SESSIONS),
            max_size=4,
        ),
        fail=st.booleans(),
    )
    def transact(self, ops: list[tuple[bool, bool, str, Any, str, str | None]], fail: bool) -> None:
        """Several writes in both key spaces, then a count of each, in one
        transaction: all or nothing."""

        def fn(tx: memkv.Transaction) -> tuple[int, int]:
            for is_store, internal, key, content, category, session in ops:
                view = tx.internal if internal else tx
                if is_store:
                    view.store(key, content, category, session)
                else:
                    view.forget(key)
            if fail:
                raise RuntimeError("half-way")
            return tx.count(), tx.internal.count()

        if fail:
            with pytest.raises(RuntimeError, match="half-way"):
                self.store_under_test.transact(fn)
            return
        counted = self.store_under_test.transact(fn)
        for is_store, internal, key, content, category, session in ops:
            model = self.internal_model if internal else self.model
            if is_store:
                model.store(key, content, category, session)
            else:
                model.forget(key)
        assert counted == (self.model.count(), self.internal_model.count())
        self.ids = {entry.key: entry.id for entry in self.store_under_test.list()}

    @precondition(lambda self: self.persistent)
    @rule()
    def close_and_reopen(self) -> None:
        self.store_under_test.close()
        self.store_under_test = self.open_store()

    @rule()
    def typed_get_of_every_entry(self) -> None:
        for key, content, *_ in self.model.list():
            got = self.store_under_test.get(key, type=type(content))
            assert got is not None
            assert got.content == content

    @invariant()
    def agree_everywhere(self) -> None:
        assert [row(entry) for entry in self.store_under_test.list()] == self.model.list()
        assert self.store_under_test.categories() == self.model.categories()
        assert self.store_under_test.sessions() == self.model.sessions()
        assert self.store_under_test.count() == self.model.count()
        internal = self.store_under_test.internal
        assert [row(entry) for entry in internal.list()] == self.internal_model.list()
        assert internal.categories() == self.internal_model.categories()
        assert internal.count() == self.internal_model.count()
        assert self.store_under_test.verify() == []


class InMemoryAgreesWithModel(AgreesWithModel):
    persistent = False

    def open_store(self) -> memkv.Memory:
        return memkv.open(memkv.IN_MEMORY, cache_size=8)


class PostgresAgreesWithModel(AgreesWithModel):
    """With its read cache on, as a user may turn it on: it must never serve what a
    commit has changed."""

    def open_store(self) -> memkv.Memory:
        return postgres.open_store(self.directory, cache_size=8)


TestLmdbAgreesWithModel = AgreesWithModel.TestCase
TestLmdbAgreesWithModel.settings = settings(max_examples=150, stateful_step_count=50)
TestInMemoryAgreesWithModel = InMemoryAgreesWithModel.TestCase
TestInMemoryAgreesWithModel.settings = settings(max_examples=150, stateful_step_count=50)
TestPostgresAgreesWithModel = PostgresAgreesWithModel.TestCase
TestPostgresAgreesWithModel.settings = settings(max_examples=60, stateful_step_count=40)


@pytest.mark.slow
def test_agreement_long() -> None:
    """The same machines, longer and more often (``pytest -m slow``)."""
    long = settings(max_examples=400, stateful_step_count=80)
    run_state_machine_as_test(AgreesWithModel, settings=long)
    run_state_machine_as_test(InMemoryAgreesWithModel, settings=long)
    run_state_machine_as_test(  # a round trip per read: fewer examples in the same time
        PostgresAgreesWithModel, settings=settings(max_examples=120, stateful_step_count=80)
    )


# -- the model catches a wrong backend --------------------------------------------------


class _ReverseScanMissesItsFirstKey(InMemoryBackend):
    """A deliberate bug: a descending scan stops short of its lowest key."""

    def read(self, fn: Any, *, several_reads: bool = False) -> Any:
        return super().read(lambda txn: fn(_DropLowest(txn)), several_reads=several_reads)


class _DropLowest:
    def __init__(self, txn: Any) -> None:
        self._txn = txn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._txn, name)

    def scan(self, table: Any, start: bytes, stop: bytes | None, **options: Any) -> Any:
        items = self._txn.scan(table, start, stop, **options)
        return items[:-1] if options.get("reverse") and len(items) > 1 else items


class BuggyBackendAgainstModel(InMemoryAgreesWithModel):
    def open_store(self) -> memkv.Memory:
        return memkv.Memory(_ReverseScanMissesItsFirstKey(), cache_size=8)


def test_the_model_catches_a_deliberate_bug_in_a_backend() -> None:
    """The agreement above is not vacuous: the same machine on an in-memory backend
    whose reverse scans drop one item fails."""
    with pytest.raises(AssertionError):
        run_state_machine_as_test(
            BuggyBackendAgainstModel,
            settings=settings(
                max_examples=200,
                stateful_step_count=30,
                database=None,
                report_multiple_bugs=False,  # one AssertionError, not a group of them
            ),
        )
