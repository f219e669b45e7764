"""The conformance suite: every Memory behaviour, on every backend (see conftest)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

import memkv
from memkv.backends.base import Backend, ReadTxn, Table, WriteTxn
from memkv.keys import MAX_KEY_BYTES, pack
from tests.conftest import BACKENDS, open_backend
from tests.memkv.helpers import DelegatingBackend, snapshot


class Note(msgspec.Struct, frozen=True, kw_only=True):
    title: str
    tags: list[str] = []


# -- store / get -----------------------------------------------------------------------


def test_store_then_get_returns_the_entry(memory: memkv.Memory) -> None:
    stored = memory.store("user/name", "Ada", category=memkv.CORE, session_id="s1")
    got = memory.get("user/name")
    assert got == stored
    assert got is not None
    assert (got.key, got.content, got.category, got.session_id, got.score) == (
        "user/name",
        "Ada",
        "core",
        "s1",
        None,
    )
    assert got.timestamp.tzinfo is UTC
    assert abs((datetime.now(UTC) - got.timestamp).total_seconds()) < 60
    assert len(got.id) == 32


def test_get_of_a_missing_key_is_none(memory: memkv.Memory) -> None:
    assert memory.get("nobody") is None
    memory.store("somebody", 1)
    assert memory.get("nobody") is None


@pytest.mark.parametrize(
    "content",
    [
        "text",
        "",
        b"\x00bytes\xff",
        0,
        -(2**63),
        2**64 - 1,
        1.5,
        True,
        None,
        [1, "two", [3.0]],
        {"nested": {"list": [1, 2], "none": None}},
        datetime(2026, 2, 19, 12, 0, tzinfo=UTC),
    ],
)
def test_content_round_trips(memory: memkv.Memory, content: Any) -> None:
    memory.store("k", content)
    got = memory.get("k")
    assert got is not None
    assert got.content == content
    assert type(got.content) is type(content)
    assert memory.get("k") == got  # and again, through the read cache


def test_struct_content_reads_back_as_dict_or_as_the_type(memory: memkv.Memory) -> None:
    memory.store("note", Note(title="hello", tags=["a"]))
    untyped = memory.get("note")
    assert untyped is not None
    assert untyped.content == {"title": "hello", "tags": ["a"]}
    typed = memory.get("note", type=Note)
    assert typed is not None
    assert typed.content == Note(title="hello", tags=["a"])
    assert memory.get("note", type=Note) == typed  # cached path
    [listed] = memory.list(type=Note)
    assert listed.content == Note(title="hello", tags=["a"])


def test_typed_get_of_scalar_content_from_the_cache(memory: memkv.Memory) -> None:
    memory.store("n", 5)
    for _ in range(3):  # admitted to the cache on the second miss, then hit
        entry = memory.get("n", type=int)
        assert entry is not None
        assert entry.content == 5
    with pytest.raises(memkv.TypeMismatch, match="'n'"):
        memory.get("n", type=str)


def test_returned_content_cannot_change_what_others_read(memory: memkv.Memory) -> None:
    memory.store("doc", {"items": [1]})
    for _ in range(3):
        entry = memory.get("doc")
        assert entry is not None
        assert entry.content == {"items": [1]}
        entry.content["items"].append(99)  # the caller's copy only


def test_store_replaces_and_keeps_the_id(memory: memkv.Memory) -> None:
    first = memory.store("k", "v1", category="a", session_id="s1")
    second = memory.store("k", "v2", category="b", session_id="s2")
    assert second.id == first.id
    assert second.timestamp >= first.timestamp
    assert memory.get("k") == second
    assert memory.count() == 1
    assert [e.key for e in memory.list("a")] == []
    assert [e.key for e in memory.list("b")] == ["k"]
    assert memory.list(session_id="s1") == []
    assert [e.content for e in memory.list("b", "s2")] == ["v2"]
    assert memory.categories() == {"b": 1}
    assert memory.sessions() == {"s2": 1}


def test_storing_the_same_content_twice_leaves_one_entry(memory: memkv.Memory) -> None:
    memory.store("k", "same", session_id="s")
    memory.store("k", "same", session_id="s")
    assert memory.count() == 1
    assert memory.count(session_id="s") == 1
    assert len(memory.list("core", "s")) == 1


def test_session_can_be_dropped_and_added(memory: memkv.Memory) -> None:
    memory.store("k", 1, session_id="s")
    memory.store("k", 2)
    assert memory.sessions() == {}
    assert memory.count(session_id="s") == 0
    memory.store("k", 3, session_id="t")
    assert memory.sessions() == {"t": 1}
    assert memory.verify() == []


# -- insert ----------------------------------------------------------------------------


def test_insert_creates_only(memory: memkv.Memory) -> None:
    created = memory.insert("k", "first", session_id="s")
    before = snapshot(memory)
    with pytest.raises(memkv.Conflict, match="'k'") as raised:
        memory.insert("k", "second", category="other")
    assert raised.value.key == "k"
    assert snapshot(memory) == before
    assert memory.get("k") == created


# -- forget ----------------------------------------------------------------------------


def test_forget(memory: memkv.Memory) -> None:
    memory.store("a", 1, category="x", session_id="s")
    memory.store("b", 2, category="x")
    assert memory.forget("a") is True
    assert memory.forget("a") is False
    assert memory.get("a") is None
    assert memory.count() == 1
    assert memory.count("x") == 1
    assert memory.count(session_id="s") == 0
    assert [e.key for e in memory.list("x")] == ["b"]
    assert memory.sessions() == {}
    assert memory.forget("never") is False
    assert memory.verify() == []


def test_forget_then_store_gets_a_new_id(memory: memkv.Memory) -> None:
    first = memory.store("k", 1)
    memory.forget("k")
    assert memory.store("k", 1).id != first.id


# -- list ------------------------------------------------------------------------------


@pytest.fixture
def populated(memory: memkv.Memory) -> memkv.Memory:
    memory.transact(
        lambda tx: [
            tx.store(
                f"key{i:02d}",
                i,
                category="even" if i % 2 == 0 else "odd",
                session_id=f"s{i % 3}" if i % 5 else None,
            )
            for i in range(20)
        ]
    )
    return memory


def keys_of(entries: list[memkv.MemoryEntry[Any]]) -> list[str]:
    return [entry.key for entry in entries]


def expected_keys(category: str | None = None, session: str | None = None) -> list[str]:
    keys = []
    for i in range(20):
        if category is not None and category != ("even" if i % 2 == 0 else "odd"):
            continue
        if session is not None and (i % 5 == 0 or session != f"s{i % 3}"):
            continue
        keys.append(f"key{i:02d}")
    return keys


@pytest.mark.parametrize("category", [None, "even", "odd", "none"])
@pytest.mark.parametrize("session", [None, "s0", "s1", "s2", "s9"])
def test_list_filters(populated: memkv.Memory, category: str | None, session: str | None) -> None:
    wanted = expected_keys(category, session)
    assert keys_of(populated.list(category, session)) == wanted
    assert keys_of(populated.list(category, session, reverse=True)) == wanted[::-1]
    assert populated.count(category, session) == len(wanted)


@pytest.mark.parametrize("category", [None, "even"])
@pytest.mark.parametrize("session", [None, "s1"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("limit", [1, 3, 7])
def test_list_pages_with_after(
    populated: memkv.Memory, category: str | None, session: str | None, reverse: bool, limit: int
) -> None:
    pages: list[str] = []
    after = None
    while True:
        page = keys_of(populated.list(category, session, limit=limit, after=after, reverse=reverse))
        assert len(page) <= limit
        if not page:
            break
        pages += page
        after = page[-1]
    wanted = expected_keys(category, session)
    assert pages == (wanted[::-1] if reverse else wanted)


@pytest.mark.parametrize("category", [None, "even"])
@pytest.mark.parametrize("session", [None, "s1"])
@pytest.mark.parametrize("reverse", [False, True])
def test_limit_zero_returns_nothing(
    populated: memkv.Memory, category: str | None, session: str | None, reverse: bool
) -> None:
    """It used to be refused; a negative limit still is."""
    assert populated.list(category, session, limit=0, reverse=reverse) == []
    assert populated.keys(category, session, limit=0, after="key03", reverse=reverse) == []
    assert populated.snapshot(lambda view: view.list(category, session, limit=0)) == []
    assert populated.transact(lambda tx: tx.keys(category, session, prefix="key", limit=0)) == []
    log: memkv.SequenceLog[int] = memkv.SequenceLog(populated, "jobs")
    log.extend(range(3))
    log.append(3, group="g")
    assert log.read(limit=0) == []
    assert log.read(since=1, limit=0) == []
    assert log.read_group("g", limit=0) == []
    assert populated.snapshot(lambda view: log.read_values_of(view, limit=0)) == []
    assert [r.record for r in log.read(limit=None)] == [0, 1, 2, 3]
    with pytest.raises(memkv.InvalidArgument, match="limit"):
        populated.list(limit=-1)
    with pytest.raises(memkv.InvalidArgument, match="limit"):
        log.read(limit=-1)


def test_list_prefix(memory: memkv.Memory) -> None:
    for key in ("a", "ab", "abc", "abd", "b", "a\x00", "aé"):
        memory.store(key, key, category="c")
    assert keys_of(memory.list(prefix="ab")) == ["ab", "abc", "abd"]
    assert keys_of(memory.list("c", prefix="a", reverse=True)) == [
        "aé",
        "abd",
        "abc",
        "ab",
        "a\x00",
        "a",
    ]
    assert keys_of(memory.list(prefix="ab", after="abc")) == ["abd"]
    assert keys_of(memory.list(prefix="ab", after="abd", reverse=True)) == ["abc", "ab"]
    assert keys_of(memory.list(prefix="zz")) == []
    assert keys_of(memory.list(prefix="")) == keys_of(memory.list())
    assert keys_of(memory.list(prefix="b", after="c")) == []


def test_list_of_packed_keys_follows_tuple_order(memory: memkv.Memory) -> None:
    for step in (10, 9, 1, 2):
        memory.store(pack(("run", "r1", step)), step)
    memory.store(pack(("run", "r10", 1)), "other run")
    steps = memory.list(prefix=pack(("run", "r1")))
    assert [e.content for e in steps] == [1, 2, 9, 10]


class CountingBackend(DelegatingBackend):
    """Passes everything to a real backend, counting the items scans return."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.scanned = 0

    def _counting(self, txn: Any) -> Any:
        outer = self
        scan = txn.scan

        class Wrapped:
            def __getattr__(self, name: str) -> Any:
                return getattr(txn, name)

            def scan(self, *args: Any, **kwargs: Any) -> list[tuple[bytes, bytes]]:
                items: list[tuple[bytes, bytes]] = scan(*args, **kwargs)
                outer.scanned += len(items)
                return items

        return Wrapped()

    def read(self, fn: Any, *, several_reads: bool = False) -> Any:
        return self.inner.read(lambda txn: fn(self._counting(txn)), several_reads=several_reads)

    def write_group(self, fns: list[Callable[[WriteTxn], Any]]) -> Any:
        def counted(fn: Callable[[WriteTxn], Any]) -> Callable[[WriteTxn], Any]:
            return lambda txn: fn(self._counting(txn))

        return self.inner.write_group([counted(fn) for fn in fns])


def test_list_cost_follows_what_it_returns_not_the_store_size(memory: memkv.Memory) -> None:
    counting = CountingBackend(memory.backend)
    mem = memkv.Memory(counting)
    mem.transact(lambda tx: [tx.store(f"big{i:05d}", i, category="bulk") for i in range(3000)])
    mem.transact(
        lambda tx: [tx.store(f"small{i}", i, category="few", session_id="s") for i in range(5)]
    )
    calls: list[Callable[[], list[memkv.MemoryEntry[Any]]]] = [
        lambda: mem.list("few"),
        lambda: mem.list("bulk", limit=5),
        lambda: mem.list(session_id="s"),
        lambda: mem.list("few", "s"),
        lambda: mem.list(prefix="small"),
        lambda: mem.list("bulk", limit=5, after="big01000", reverse=True),
    ]
    for call in calls:
        counting.scanned = 0
        assert len(call()) == 5
        assert counting.scanned == 5
    counting.scanned = 0
    assert mem.count("bulk") == 3000
    assert counting.scanned == 0


# -- count, categories, sessions -------------------------------------------------------


def test_counts_and_names(populated: memkv.Memory) -> None:
    assert populated.count() == 20
    assert populated.categories() == {"even": 10, "odd": 10}
    assert populated.sessions() == {"s0": 5, "s1": 6, "s2": 5}
    assert populated.count("even", "s1") == len(expected_keys("even", "s1"))
    assert memkv.DAILY not in populated.categories()


# -- transactions ----------------------------------------------------------------------


def test_transact_commits_everything_together(memory: memkv.Memory) -> None:
    def move(tx: memkv.Transaction) -> int:
        tx.store("a", 1)
        tx.store("b", 2, category="other", session_id="s")
        assert tx.get("a") is not None  # reads see the transaction's own writes
        assert tx.count() == 2
        assert keys_of(tx.list()) == ["a", "b"]
        assert tx.count("other", "s") == 1
        assert tx.forget("a") is True
        return tx.count()

    assert memory.transact(move) == 1
    assert keys_of(memory.list()) == ["b"]
    assert memory.verify() == []


def test_transact_that_raises_half_way_leaves_nothing(memory: memkv.Memory) -> None:
    memory.store("keep", "original", session_id="s")
    before = snapshot(memory)

    def half(tx: memkv.Transaction) -> None:
        tx.store("keep", "changed", category="moved")
        tx.store("new", 1)
        tx.forget("keep")
        raise RuntimeError("half-way")

    with pytest.raises(RuntimeError, match="half-way"):
        memory.transact(half)
    assert snapshot(memory) == before
    assert memory.get("new") is None
    assert memory.verify() == []


def test_tx_is_closed_after_its_function(memory: memkv.Memory) -> None:
    leaked = memory.transact(lambda tx: tx)
    with pytest.raises(memkv.TransactionClosed):
        leaked.store("late", 1)
    with pytest.raises(memkv.TransactionClosed):
        leaked.get("late")
    assert memory.get("late") is None


def test_nested_transact_is_refused(memory: memkv.Memory) -> None:
    def outer(tx: memkv.Transaction) -> None:
        tx.store("outer", 1)
        memory.store("inner", 2)

    with pytest.raises(memkv.NestedTransaction):
        memory.transact(outer)
    assert memory.get("outer") is None
    assert memory.get("inner") is None


def test_read_inside_a_transaction_through_memory_sees_the_committed_state(
    memory: memkv.Memory,
) -> None:
    memory.store("k", "committed")

    def fn(tx: memkv.Transaction) -> str:
        tx.store("k", "pending")
        entry = memory.get("k")
        assert entry is not None
        return str(entry.content)

    assert memory.transact(fn) == "committed"
    entry = memory.get("k")
    assert entry is not None
    assert entry.content == "pending"


# -- lifecycle -------------------------------------------------------------------------


def test_close_and_use_after_close(memory: memkv.Memory) -> None:
    memory.store("k", 1)
    assert memory.health_check() is True
    memory.close()
    memory.close()  # again: nothing
    assert memory.closed
    assert memory.health_check() is False
    for call in (
        lambda: memory.get("k"),
        lambda: memory.store("k", 2),
        memory.list,
        memory.count,
        lambda: memory.forget("k"),
        lambda: memory.transact(lambda tx: None),
    ):
        with pytest.raises(memkv.StoreClosed):
            call()


@pytest.mark.parametrize("name", BACKENDS)
def test_context_manager_closes(name: str, tmp_path: Path) -> None:
    with open_backend(name, tmp_path) as mem:
        mem.store("k", 1)
    assert mem.closed


@pytest.mark.parametrize("name", BACKENDS)
def test_readonly_store_refuses_writes(name: str, tmp_path: Path) -> None:
    if name != "in-memory":  # a persistent store must exist before it opens read-only
        with open_backend(name, tmp_path) as mem:
            mem.store("k", 1)
    with open_backend(name, tmp_path, readonly=True) as mem:
        before = snapshot(mem)
        with pytest.raises(memkv.ReadOnlyStore):
            mem.store("k", 2)
        with pytest.raises(memkv.ReadOnlyStore):
            mem.forget("k")
        assert snapshot(mem) == before


def test_keys_at_the_limits(memory: memkv.Memory) -> None:
    longest = "k" * MAX_KEY_BYTES
    odd = ["\x00", "a\x00b", "é", "字" * 85, "\U0001f600", " ", longest]
    for key in odd:
        memory.store(key, key, category="c" * memkv.MAX_NAME_BYTES, session_id="s" * 64)
    for key in odd:
        entry = memory.get(key)
        assert entry is not None
        assert entry.content == key
    assert sorted(odd, key=lambda k: k.encode()) == keys_of(memory.list())
    assert memory.verify() == []


def test_verify_reports_damage(memory: memkv.Memory) -> None:
    memory.store("a", 1, session_id="s")
    memory.store("b", 2)
    assert memory.verify() == []
    memory.backend.write(lambda txn: txn.delete(Table.INDEX, memory_index_key("a")))
    problems = memory.verify()
    assert problems
    assert any("missing" in problem for problem in problems)


def memory_index_key(key: str) -> bytes:
    from memkv import layout

    return layout.category_prefix(layout.USER_SPACE, "core") + key.encode()


def test_memory_works_on_a_custom_backend(tmp_path: Path) -> None:
    """The backend interface is all Memory needs (a wrapper backend suffices)."""

    class Passthrough(CountingBackend):
        pass

    mem = memkv.Memory(Passthrough(memkv.InMemoryBackend()))
    mem.store("k", "v")
    assert mem.list()[0].content == "v"
    assert isinstance(mem.backend, Backend)
    _ = (ReadTxn, WriteTxn)


def test_threads_share_one_memory(memory: memkv.Memory) -> None:
    import threading

    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(150):
                key = f"t{worker}/{i % 20:02d}"
                memory.store(key, i, category=f"w{worker}", session_id="shared")
                entry = memory.get(key)
                assert entry is not None
                assert entry.content == i  # its own write, never a stale copy
                if i % 10 == 9:
                    memory.forget(f"t{worker}/00")
                memory.list(f"w{worker}", limit=5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert memory.verify() == []
    assert memory.count(session_id="shared") == memory.count()
    for worker in range(4):
        assert memory.count(f"w{worker}") == len(memory.list(f"w{worker}"))


def test_snapshot_reads_one_consistent_moment(memory: memkv.Memory) -> None:
    memory.store("a", 1)
    memory.store("b", 1)

    def read_both(view: memkv.Reader) -> tuple[Any, ...]:
        first = view.get("a")
        memory.store("b", 2)  # a write while the snapshot is open: not seen by it
        second = view.get("b")
        assert first is not None
        assert second is not None
        return first.content, second.content, view.count(), keys_of(view.list())

    if memory.backend.name == "in-memory":
        # its readers and writers share one lock: a write from inside a snapshot is
        # refused rather than shown through it (LMDB runs it beside the snapshot)
        with pytest.raises(memkv.NestedTransaction, match="snapshot"):
            memory.snapshot(read_both)
        assert memory.snapshot(lambda view: (view.count(), keys_of(view.list()))) == (2, ["a", "b"])
        return
    assert memory.snapshot(read_both) == (1, 1, 2, ["a", "b"])
    entry = memory.get("b")
    assert entry is not None
    assert entry.content == 2


def test_keys_lists_keys_without_entries(populated: memkv.Memory) -> None:
    for category, session in ((None, None), ("even", None), (None, "s1"), ("odd", "s2")):
        assert populated.keys(category, session) == expected_keys(category, session)
        assert (
            populated.keys(category, session, reverse=True, limit=2)
            == expected_keys(category, session)[::-1][:2]
        )
    assert populated.keys(prefix="key1", after="key15") == ["key16", "key17", "key18", "key19"]
    assert populated.snapshot(lambda view: view.keys("even", limit=3)) == [
        "key00",
        "key02",
        "key04",
    ]
    assert populated.transact(lambda tx: (tx.store("key00x", 1), tx.keys(prefix="key00"))[1]) == [
        "key00",
        "key00x",
    ]
