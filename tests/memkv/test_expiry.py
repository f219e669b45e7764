"""Expiry (`memkv.expiry`): entries stored with a time to live, on every backend, with a
clock moved by hand (`memkv.testing.ManualClock`), never by sleeping.

* Example by example: every read hides an expired entry at once (get, cached or not,
  list and its pages, keys, count, categories, sessions, recall and its statistics,
  snapshots, transactions); insert and store over one; forget; touch; sweep; the
  few entries each write sweeps; bad ttl values.
* A state machine against a model that hides expired entries: stores with and
  without ttl, inserts, touches, forgets, sweeps, transactions and clock jumps; every
  read agrees, counts are exact, `verify()` is clean.
"""

from __future__ import annotations

import doctest
import json
import math
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, NamedTuple

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import memkv
import memkv.testing.clock
from memkv import layout
from memkv.backends.base import Table
from memkv.keys import prefix_end
from memkv.testing import ManualClock
from tests import postgres
from tests.conftest import open_backend
from tests.memkv.bm25_model import Hit, RecallModel, Row, assert_ranking
from tests.memkv.helpers import raises_naming

MINUTE: Final = timedelta(minutes=1)
SECOND: Final = timedelta(seconds=1)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def mem(backend_name: str, tmp_path: Path, clock: ManualClock) -> Iterator[memkv.Memory]:
    memory = open_backend(backend_name, tmp_path, clock=clock)
    yield memory
    memory.close()


def expiry_keys(memory: memkv.Memory) -> list[bytes]:
    """The index by expiry time of the user's space, as stored."""
    prefix = layout.expiry_prefix(layout.USER_SPACE)
    return [
        key
        for key, _ in memory.backend.read(
            lambda txn: txn.scan(Table.INDEX, prefix, prefix_end(prefix), keys_only=True)
        )
    ]


def stored_keys(memory: memkv.Memory) -> list[bytes]:
    """The user's keys as stored, expired or not."""
    return [
        key
        for key, _ in memory.backend.read(
            lambda txn: txn.scan(Table.ENTRIES, b"", layout.INTERNAL_SPACE, keys_only=True)
        )
    ]


def test_an_expired_entry_is_gone_from_every_read_at_once(
    mem: memkv.Memory, clock: ManualClock
) -> None:
    entry = mem.store("otp", "one time code 123", "codes", "s-1", ttl=60)
    mem.store("name", "Ada", "facts", "s-1")
    assert entry.expires_at == entry.timestamp + MINUTE
    assert mem.get("otp") == entry
    assert mem.get("otp") == entry  # now from the read cache
    clock.advance(59.999)
    assert mem.get("otp") is not None
    clock.advance(0.001)  # the expiry time itself: expired
    assert mem.get("otp") is None
    assert mem.get("otp", type=str) is None
    assert [e.key for e in mem.list()] == ["name"]
    assert mem.list("codes") == []
    assert mem.list(session_id="s-1", limit=5)[0].key == "name"
    assert mem.keys() == ["name"]
    assert mem.count() == 1
    assert mem.count("codes") == 0
    assert mem.count(session_id="s-1") == 1
    assert mem.count("codes", "s-1") == 0
    assert mem.categories() == {"facts": 1}
    assert mem.sessions() == {"s-1": 1}
    assert mem.recall("code") == []
    assert [e.key for e in mem.recall("")] == ["name"]
    assert mem.snapshot(lambda view: (view.get("otp"), view.count(), view.keys())) == (
        None,
        1,
        ["name"],
    )
    assert mem.transact(lambda tx: (tx.get("otp"), tx.count("codes"), tx.keys())) == (
        None,
        0,
        ["name"],
    )
    assert mem.verify() == []
    assert len(stored_keys(mem)) == 2  # hidden, not yet removed


def test_pages_skip_expired_entries_and_stay_full(mem: memkv.Memory, clock: ManualClock) -> None:
    mem.transact(
        lambda tx: [tx.store(f"k{i:02d}", i, "c", ttl=10 if i % 3 else None) for i in range(30)]
    )
    clock.advance(10)
    survivors = [f"k{i:02d}" for i in range(0, 30, 3)]
    for reverse in (False, True):
        seen: list[str] = []
        page = mem.keys("c", limit=2, reverse=reverse)
        while page:
            assert len(page) == 2 or len(seen) + len(page) == len(survivors)
            seen += page
            page = mem.keys("c", limit=2, after=page[-1], reverse=reverse)
        assert seen == (survivors[::-1] if reverse else survivors)
    assert [e.key for e in mem.list(limit=4)] == survivors[:4]
    assert [e.key for e in mem.list(prefix="k1", limit=3)] == ["k12", "k15", "k18"]


def test_recall_ranks_as_if_expired_entries_were_gone(
    mem: memkv.Memory, clock: ManualClock
) -> None:
    texts = {
        "a": "apples and pears",
        "b": "apples apples",
        "c": "pears only here",
        "d": "apples in a long note about many other things",
    }
    for key, text in texts.items():
        mem.store(key, text, ttl=30 if key in "bc" else None)
    clock.advance(31)
    model = RecallModel(
        Row(e.key, e.content, e.category, e.session_id, e.timestamp) for e in mem.list()
    )
    for query in ("apples", "pears", "apples pears", "only"):
        got = [Hit(e.key, e.score) for e in mem.recall(query)]
        assert_ranking(got, model.ranking(query), 10)
    assert {e.key for e in mem.recall("apples")} == {"a", "d"}


def test_insert_and_store_over_an_expired_entry_make_a_new_one(
    mem: memkv.Memory, clock: ManualClock
) -> None:
    old = mem.store("lease", "held by A", ttl=5)
    with pytest.raises(memkv.Conflict):
        mem.insert("lease", "held by B")
    clock.advance(5)
    new = mem.insert("lease", "held by B", ttl=5)
    assert new.id != old.id
    assert mem.get("lease") == new
    replaced = mem.store("lease", "held by B, renewed")
    assert replaced.id == new.id  # a live entry keeps its id
    assert replaced.expires_at is None  # a store without ttl never expires
    clock.advance(3600)
    assert mem.get("lease") == replaced
    assert expiry_keys(mem) == []
    assert mem.verify() == []


def test_forget_of_an_expired_entry_removes_it_and_says_it_was_absent(
    mem: memkv.Memory, clock: ManualClock
) -> None:
    mem.store("gone", "soon", ttl=1)
    clock.advance(2)
    assert mem.forget("gone") is False
    assert stored_keys(mem) == []
    assert expiry_keys(mem) == []
    assert mem.verify() == []


def test_touch_extends_or_clears_expiry_without_rewriting_the_entry(
    mem: memkv.Memory, clock: ManualClock
) -> None:
    stored = mem.store("session/token", {"user": "ada"}, "auth", "s-9", ttl=60)
    clock.advance(50)
    touched = mem.touch("session/token", 60)
    assert touched.expires_at == clock() + MINUTE
    assert (touched.id, touched.timestamp, touched.content) == (
        stored.id,
        stored.timestamp,
        stored.content,
    )
    clock.advance(59)
    assert mem.get("session/token") == touched
    cleared = mem.touch("session/token", None)
    assert cleared.expires_at is None
    clock.advance(timedelta(days=400))
    assert mem.get("session/token") == cleared
    assert mem.list("auth", "s-9") == [cleared]
    assert expiry_keys(mem) == []
    assert mem.verify() == []


def test_next_expiry_is_the_soonest_expiry_still_ahead(
    mem: memkv.Memory, clock: ManualClock
) -> None:
    """`next_expiry` names the first moment a read could change without a write."""
    assert mem.snapshot(lambda view: view.next_expiry()) is None
    mem.store("never", "x")
    assert mem.snapshot(lambda view: view.next_expiry()) is None
    later = mem.store("later", "x", ttl=120).expires_at
    sooner = mem.store("sooner", "x", ttl=60).expires_at
    assert mem.snapshot(lambda view: view.next_expiry()) == sooner
    clock.advance(60)  # "sooner" has expired (still stored): the next is "later"
    assert mem.snapshot(lambda view: view.next_expiry()) == later
    assert mem.transact(lambda tx: tx.next_expiry()) == later
    mem.internal.store("inside", "x", ttl=10)
    assert mem.snapshot(lambda view: view.next_expiry()) == later  # one space each
    assert mem.snapshot(lambda view: view.internal.next_expiry()) == clock() + 10 * SECOND
    clock.advance(60)
    assert mem.snapshot(lambda view: view.next_expiry()) is None


def test_touch_of_an_absent_or_expired_key_is_not_found(
    mem: memkv.Memory, clock: ManualClock
) -> None:
    raises_naming(memkv.NotFound, "'nothing'", lambda: mem.touch("nothing", 10))
    mem.store("brief", "x", ttl=1)
    clock.advance(1)
    raises_naming(memkv.NotFound, "'brief'", lambda: mem.touch("brief", 10))
    assert mem.get("brief") is None


@pytest.mark.parametrize(
    "ttl",
    [-1, 0, 0.0, math.nan, math.inf, -math.inf, True, "60", timedelta(0), timedelta(seconds=-1)],
    ids=repr,
)
def test_a_bad_ttl_is_refused_and_nothing_is_written(mem: memkv.Memory, ttl: Any) -> None:
    mem.store("kept", "before")
    writes: list[Callable[[], object]] = [
        lambda: mem.store("new", "x", ttl=ttl),
        lambda: mem.insert("new", "x", ttl=ttl),
        lambda: mem.store("kept", "after", ttl=ttl),
        lambda: mem.touch("kept", ttl),
        lambda: mem.transact(lambda tx: tx.store("new", "x", ttl=ttl)),
    ]
    for write in writes:
        with pytest.raises(memkv.InvalidArgument, match="ttl"):
            write()
    assert mem.keys() == ["kept"]
    assert mem.get("kept").content == "before"  # type: ignore[union-attr]
    assert mem.get("kept").expires_at is None  # type: ignore[union-attr]


def test_a_ttl_in_seconds_or_as_a_timedelta(mem: memkv.Memory) -> None:
    a = mem.store("a", 1, ttl=1.5)
    b = mem.store("b", 2, ttl=timedelta(hours=2))
    c = mem.store("c", 3, ttl=7)
    assert a.expires_at == a.timestamp + timedelta(seconds=1.5)
    assert b.expires_at == b.timestamp + timedelta(hours=2)
    assert c.expires_at == c.timestamp + timedelta(seconds=7)


def test_sweep_removes_what_has_expired_and_says_how_many(
    mem: memkv.Memory, clock: ManualClock
) -> None:
    mem.transact(lambda tx: [tx.store(f"t{i:03d}", i, ttl=10 + i) for i in range(300)])
    mem.store("forever", "here")
    assert mem.sweep() == 0
    clock.advance(10 + 99)  # t000..t099 expired
    assert mem.count() == 201
    assert mem.sweep(limit=40) == 40
    assert mem.sweep() == 60
    assert mem.sweep() == 0
    assert len(stored_keys(mem)) == 201
    assert len(expiry_keys(mem)) == 200
    assert mem.count() == 201
    assert mem.verify() == []
    with pytest.raises(memkv.InvalidArgument, match="limit"):
        mem.sweep(limit=-1)


def test_each_write_sweeps_a_few(mem: memkv.Memory, clock: ManualClock) -> None:
    """A store that is only written to does not keep its expired entries forever."""
    mem.transact(lambda tx: [tx.store(f"old{i}", i, ttl=1) for i in range(10)])
    clock.advance(1)
    for i in range(5):
        mem.store(f"new{i}", i)
    assert len(stored_keys(mem)) == 5  # 5 writes x 2 each: all 10 gone
    assert mem.count() == 5
    assert mem.verify() == []


def test_the_internal_space_expires_and_sweeps_on_its_own(
    mem: memkv.Memory, clock: ManualClock
) -> None:
    mem.internal.store("job/1", "pending", ttl=5)
    mem.store("user/1", "kept", ttl=5)
    clock.advance(5)
    assert mem.internal.get("job/1") is None
    assert mem.internal.count() == 0
    assert mem.internal.sweep() == 1
    assert mem.sweep() == 1
    assert mem.verify() == []


def test_a_clock_that_is_no_clock_is_refused(tmp_path: Path) -> None:
    with pytest.raises(memkv.InvalidArgument, match="clock"):
        memkv.open(tmp_path / "s", clock="now")  # type: ignore[arg-type]
    naive = memkv.open(memkv.IN_MEMORY, clock=lambda: datetime(2030, 1, 1))
    with pytest.raises(memkv.InvalidArgument, match="timezone-aware"):
        naive.store("k", "v")


def test_the_manual_clock_example_runs() -> None:
    assert doctest.testmod(memkv.testing.clock).failed == 0


def test_async_ttl_touch_and_sweep(backend_name: str, tmp_path: Path) -> None:
    import asyncio

    import memkv.aio

    clock = ManualClock()

    async def main() -> None:
        async with memkv.aio.AsyncMemory(open_backend(backend_name, tmp_path, clock=clock)) as amem:
            await amem.store("a", "x", ttl=10)
            await amem.insert("b", "y", ttl=10)
            await amem.touch("b", 100)
            clock.advance(10)
            assert await amem.get("a") is None
            assert await amem.keys() == ["b"]
            assert await amem.sweep() == 1
            assert await amem.count() == 1

    asyncio.run(main())


# -- the state machine ------------------------------------------------------------------

KEYS: Final = st.sampled_from([f"k{i}" for i in range(8)])
CATEGORIES: Final = st.sampled_from(["core", "daily"])
SESSIONS: Final = st.none() | st.sampled_from(["s1", "s2"])
WORDS: Final = st.lists(st.sampled_from(["apple", "pear", "plum", "fig"]), min_size=0, max_size=4)
TTLS: Final = st.none() | st.integers(1, 120) | st.floats(0.5, 90)
STEPS: Final = st.sampled_from([0.0, 0.5, 1, 7, 30, 61, 3600])


class Model(NamedTuple):
    id: str
    content: str
    category: str
    session_id: str | None
    timestamp: datetime
    expires_at: datetime | None


class ExpiryAgreesWithModel(RuleBasedStateMachine):
    """A store with a manual clock against a dict that hides expired entries."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="memkv-expiry-"))
        self.clock = ManualClock()
        self.memory = self.open_store()
        self.rows: dict[str, Model] = {}

    def open_store(self) -> memkv.Memory:
        return memkv.open(self.directory / "store", clock=self.clock, map_size=1 << 20)

    def teardown(self) -> None:
        self.memory.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def visible(self) -> dict[str, Model]:
        now = self.clock()
        return {
            key: row
            for key, row in self.rows.items()
            if row.expires_at is None or row.expires_at > now
        }

    def wrote(self, entry: memkv.MemoryEntry[Any], *, replaced: Model | None) -> None:
        if replaced is not None:
            assert entry.id == replaced.id  # a live entry keeps its id
        elif entry.key in self.rows:
            assert entry.id != self.rows[entry.key].id  # an expired one does not
        assert entry.timestamp == self.clock()
        self.rows[entry.key] = Model(
            entry.id,
            entry.content,
            entry.category,
            entry.session_id,
            entry.timestamp,
            entry.expires_at,
        )

    @initialize()
    def start(self) -> None:
        self.clock.set(datetime(2030, 1, 1, tzinfo=UTC))

    @rule(key=KEYS, words=WORDS, category=CATEGORIES, session=SESSIONS, ttl=TTLS)
    def store(
        self, key: str, words: list[str], category: str, session: str | None, ttl: float | None
    ) -> None:
        replaced = self.visible().get(key)
        entry = self.memory.store(key, " ".join(words), category, session, ttl=ttl)
        expected = None if ttl is None else entry.timestamp + timedelta(seconds=ttl)
        assert entry.expires_at == expected
        self.wrote(entry, replaced=replaced)

    @rule(key=KEYS, words=WORDS, ttl=TTLS)
    def insert(self, key: str, words: list[str], ttl: float | None) -> None:
        if key in self.visible():
            with pytest.raises(memkv.Conflict):
                self.memory.insert(key, " ".join(words), ttl=ttl)
            return
        self.wrote(self.memory.insert(key, " ".join(words), ttl=ttl), replaced=None)

    @rule(key=KEYS, ttl=TTLS)
    def touch(self, key: str, ttl: float | None) -> None:
        row = self.visible().get(key)
        if row is None:
            with pytest.raises(memkv.NotFound):
                self.memory.touch(key, ttl)
            return
        touched = self.memory.touch(key, ttl)
        now = self.clock()
        assert touched.expires_at == (None if ttl is None else now + timedelta(seconds=ttl))
        self.rows[key] = row._replace(expires_at=touched.expires_at)

    @rule(key=KEYS)
    def forget(self, key: str) -> None:
        assert self.memory.forget(key) == (key in self.visible())
        self.rows.pop(key, None)

    @rule(limit=st.none() | st.integers(0, 5))
    def sweep(self, limit: int | None) -> None:
        expired = len(self.rows) - len(self.visible())
        swept = self.memory.sweep(limit)
        assert swept <= expired  # some may have gone with earlier writes
        if limit is None:
            self.rows = self.visible()

    @rule(step=STEPS)
    def advance(self, step: float) -> None:
        self.clock.advance(step)

    @rule(ops=st.lists(st.tuples(KEYS, st.booleans(), TTLS), max_size=4))
    def transact(self, ops: list[tuple[str, bool, float | None]]) -> None:
        """Stores and forgets in one transaction; its reads see its own writes."""

        def fn(tx: memkv.Transaction) -> list[tuple[str, Any]]:
            done: list[tuple[str, Any]] = []
            for key, forget, ttl in ops:
                if forget:
                    tx.forget(key)
                    done.append((key, None))
                else:
                    done.append((key, tx.store(key, f"t {key}", ttl=ttl)))
            done.append(("count", tx.count()))
            return done

        for key, value in self.memory.transact(fn):
            if key == "count":
                assert value == len(self.visible())
            elif value is None:
                self.rows.pop(key, None)
            else:
                self.wrote(value, replaced=self.visible().get(key))

    @rule(query=WORDS.map(" ".join), category=st.none() | CATEGORIES)
    def recall(self, query: str, category: str | None) -> None:
        model = RecallModel(
            Row(key, row.content, row.category, row.session_id, row.timestamp)
            for key, row in self.visible().items()
        )
        got = [Hit(e.key, e.score) for e in self.memory.recall(query, category=category)]
        if query.strip():
            assert_ranking(got, model.ranking(query, category=category), 10)
        else:
            newest = model.recall("", 10, category=category)
            assert [key for key, _ in got] == [hit[0] for hit in newest]

    @precondition(lambda self: isinstance(self, PersistentExpiry))
    @rule()
    def reopen(self) -> None:
        self.memory.close()
        self.memory = self.open_store()

    @invariant()
    def reads_agree(self) -> None:
        visible = self.visible()
        listed = self.memory.list()
        assert [e.key for e in listed] == sorted(visible)
        for entry in listed:
            row = visible[entry.key]
            assert (entry.id, entry.content, entry.expires_at) == (
                row.id,
                row.content,
                row.expires_at,
            )
        for key in set(self.rows) | {"k0"}:
            got = self.memory.get(key)
            assert (got is not None) == (key in visible), key
        assert self.memory.keys() == sorted(visible)
        assert self.memory.count() == len(visible)
        by_category: dict[str, int] = {}
        by_session: dict[str, int] = {}
        for row in visible.values():
            by_category[row.category] = by_category.get(row.category, 0) + 1
            if row.session_id is not None:
                by_session[row.session_id] = by_session.get(row.session_id, 0) + 1
        assert self.memory.categories() == by_category
        assert self.memory.sessions() == by_session
        for category in ("core", "daily"):
            assert self.memory.count(category) == by_category.get(category, 0)
            assert self.memory.count(category, "s1") == sum(
                1 for row in visible.values() if row.category == category and row.session_id == "s1"
            )
        assert self.memory.verify() == []


class PersistentExpiry(ExpiryAgreesWithModel):
    """On LMDB, closed and reopened at random."""


class InMemoryExpiry(ExpiryAgreesWithModel):
    def open_store(self) -> memkv.Memory:
        return memkv.open(memkv.IN_MEMORY, clock=self.clock)


class PostgresExpiry(ExpiryAgreesWithModel):
    def open_store(self) -> memkv.Memory:
        return postgres.open_store(self.directory, clock=self.clock)


TestLmdbExpiry = PersistentExpiry.TestCase
TestLmdbExpiry.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestInMemoryExpiry = InMemoryExpiry.TestCase
TestInMemoryExpiry.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestPostgresExpiry = PostgresExpiry.TestCase
TestPostgresExpiry.settings = settings(max_examples=12, stateful_step_count=25, deadline=None)


@pytest.mark.slow
def test_expiry_agreement_long() -> None:
    """The same machines, longer and more often (``pytest -m slow``)."""
    long = settings(max_examples=150, stateful_step_count=60, deadline=None)
    run_state_machine_as_test(PersistentExpiry, settings=long)
    run_state_machine_as_test(InMemoryExpiry, settings=long)


def test_the_command_hides_expired_entries_and_sweeps_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command reads the system clock: entries written by a clock set in the past
    have expired for it, those written with a long ttl have not."""
    from tests.memkv.test_cli import run

    path = tmp_path / "store"
    with memkv.open(path, clock=ManualClock(datetime(2000, 1, 1, tzinfo=UTC))) as memory:
        memory.store("old", "expired long ago", ttl=60)
        memory.store("new", "still here", ttl=timedelta(days=365 * 500))
    code, out, _ = run(capsys, "get", str(path), "new")
    assert code == 0
    assert "expires    2499-" in out
    assert run(capsys, "get", str(path), "old")[0] == 1
    code, out, _ = run(capsys, "list", str(path), "--json")
    assert [json.loads(line)["key"] for line in out.splitlines()] == ["new"]
    assert json.loads(out)["expires_at"].startswith("2499-")
    code, out, _ = run(capsys, "sweep", str(path))
    assert (code, out) == (0, "swept 1 expired entry\n")
    with memkv.open(path) as memory:
        assert memory.keys() == ["new"]
        assert memory.verify() == []


def test_purge_erases_expired_entries_too_and_export_leaves_them_out(
    mem: memkv.Memory, clock: ManualClock, tmp_path: Path
) -> None:
    mem.store("user/1/a", "kept until purged", "notes", "u1")
    mem.store("user/1/b", "expired", "notes", "u1", ttl=1)
    mem.store("user/2/a", "another user", "notes", "u2", ttl=1000)
    clock.advance(1)
    exported = tmp_path / "export.jsonl"
    assert mem.export_jsonl(exported) == 2
    assert [json.loads(line)["key"] for line in exported.read_text().splitlines()] == [
        "user/1/a",
        "user/2/a",
    ]
    assert mem.purge(prefix="user/1/") == 1  # the expired one is not counted...
    assert [key.decode() for key in stored_keys(mem)] == ["user/2/a"]  # ...but it is gone
    assert mem.verify() == []


def test_import_over_an_expired_entry_imports_it(
    backend_name: str, tmp_path: Path, clock: ManualClock
) -> None:
    source = open_backend(backend_name, tmp_path / "a", clock=clock)
    target = open_backend(backend_name, tmp_path / "b", clock=clock)
    try:
        source.store("k", "from the file")
        source.export_jsonl(tmp_path / "k.jsonl")
        target.store("k", "expiring", ttl=1)
        clock.advance(1)
        report = target.import_jsonl(tmp_path / "k.jsonl")
        assert (report.imported, report.replaced, report.skipped) == (1, 0, 0)
        assert target.get("k") == source.get("k")
        assert target.verify() == []
    finally:
        source.close()
        target.close()
