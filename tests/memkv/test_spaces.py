"""The internal key space: what the packages built on memkv keep there never shows
among the user's memories, and both spaces keep their own consistent indexes."""

from __future__ import annotations

import asyncio

import pytest

import memkv
import memkv.aio
from memkv.backends.base import Table
from tests.memkv.helpers import put_raw, raises_naming


def _user_and_internal(memory: memkv.Memory) -> None:
    memory.store("fact/1", "user", "facts", "s-1")
    memory.internal.store("fact/1", "internal", "seqlog.jobs", "s-1")
    memory.internal.store("floor", 7, "seqlog.floor")


def test_internal_records_are_not_the_users_memories(memory: memkv.Memory) -> None:
    _user_and_internal(memory)
    assert memory.count() == 1
    assert memory.count(session_id="s-1") == 1
    assert memory.categories() == {"facts": 1}
    assert memory.sessions() == {"s-1": 1}
    assert memory.keys() == ["fact/1"]
    assert memory.keys(reverse=True) == ["fact/1"]
    assert [entry.content for entry in memory.list()] == ["user"]
    assert memory.list("seqlog.floor") == []
    assert memory.keys(session_id="s-1") == ["fact/1"]


def test_the_internal_space_has_the_same_operations(memory: memkv.Memory) -> None:
    _user_and_internal(memory)
    internal = memory.internal
    assert internal.internal is internal
    assert internal.count() == 2
    assert internal.categories() == {"seqlog.floor": 1, "seqlog.jobs": 1}
    assert internal.sessions() == {"s-1": 1}
    assert internal.keys() == ["fact/1", "floor"]
    assert internal.keys(reverse=True, limit=1) == ["floor"]
    entry = internal.get("fact/1")
    assert entry is not None
    assert entry.content == "internal"
    assert internal.insert("other", 1, "x").content == 1
    raises_naming(memkv.Conflict, "'other'", lambda: internal.insert("other", 2, "x"))
    assert internal.forget("fact/1") is True
    user_entry = memory.get("fact/1")
    assert user_entry is not None
    assert user_entry.content == "user"
    assert memory.verify() == []


def test_the_same_key_in_both_spaces_is_two_entries_and_the_cache_keeps_them_apart(
    memory: memkv.Memory,
) -> None:
    memory.store("k", "user")
    for _ in range(3):  # cached on a second read
        user_entry = memory.get("k")
        assert user_entry is not None
        assert user_entry.content == "user"
    memory.internal.store("k", "internal")
    user_entry, internal_entry = memory.get("k"), memory.internal.get("k")
    assert user_entry is not None
    assert internal_entry is not None
    assert (user_entry.content, internal_entry.content) == ("user", "internal")
    memory.forget("k")
    assert memory.get("k") is None
    assert memory.internal.get("k") is not None


def test_one_transaction_writes_both_spaces_or_neither(memory: memkv.Memory) -> None:
    def both(tx: memkv.Transaction) -> int:
        tx.store("a", 1, "notes")
        tx.internal.store("a-index", "a", "pkg.index")
        return tx.count() + 10 * tx.internal.count()

    assert memory.transact(both) == 11

    def fails(tx: memkv.Transaction) -> None:
        tx.store("b", 1, "notes")
        tx.internal.store("b-index", "b", "pkg.index")
        raise RuntimeError("halfway")

    with pytest.raises(RuntimeError):
        memory.transact(fails)
    assert memory.keys() == ["a"]
    assert memory.internal.keys() == ["a-index"]
    a, index = memory.get("a"), memory.internal.get("a-index")
    assert a is not None
    assert index is not None
    assert a.timestamp == index.timestamp  # one transaction, one time
    assert memory.verify() == []


def test_an_internal_view_ends_with_its_transaction(memory: memkv.Memory) -> None:
    kept: list[memkv.Transaction] = []
    memory.transact(lambda tx: kept.append(tx.internal))
    raises_naming(memkv.TransactionClosed, "ended", lambda: kept[0].get("k"))
    raises_naming(memkv.TransactionClosed, "ended", lambda: kept[0].store("k", 1))


def test_internal_transactions_see_their_own_writes_and_counts(memory: memkv.Memory) -> None:
    def write(tx: memkv.Transaction) -> tuple[int, int, list[str]]:
        tx.internal.store("x", 1, "pkg")
        tx.internal.store("y", 2, "pkg", "s")
        return tx.count(), tx.internal.count("pkg"), tx.internal.keys()

    assert memory.internal.transact(lambda tx: tx.count()) == 0
    assert memory.transact(write) == (0, 2, ["x", "y"])
    # a function given to the internal space receives the internal view
    assert memory.internal.transact(lambda tx: tx.keys()) == ["x", "y"]
    assert memory.snapshot(lambda view: (view.count(), view.internal.count())) == (0, 2)


def test_verify_and_repair_cover_the_internal_space(memory: memkv.Memory) -> None:
    _user_and_internal(memory)
    put_raw(memory, b"\xff" + b"floor", b"\xc1 damaged")
    problems = memory.verify()
    assert any("internal record" in problem and "'floor'" in problem for problem in problems)
    assert memory.internal.forget("floor") is True
    assert memory.verify() == []
    assert memory.internal.categories() == {"seqlog.jobs": 1}
    assert memory.backend.read(lambda txn: txn.get(Table.ENTRIES, b"\xfffloor")) is None


def test_closing_the_store_closes_its_internal_space(memory: memkv.Memory) -> None:
    internal = memory.internal
    internal.store("k", 1)
    memory.close()
    assert internal.closed
    location = memory.backend.location
    raises_naming(memkv.StoreClosed, location, lambda: internal.get("k"))
    raises_naming(memkv.StoreClosed, location, lambda: internal.store("k", 2))


def test_the_async_internal_space(memory: memkv.Memory) -> None:
    amem = memkv.aio.AsyncMemory(memory)

    async def main() -> tuple[int, int, list[str]]:
        internal = amem.internal
        assert internal.internal is internal
        await asyncio.gather(*(internal.store(f"i/{n}", n, "pkg") for n in range(8)))
        await amem.store("u", 1)
        return await amem.count(), await internal.count(), await internal.keys(limit=2)

    assert asyncio.run(main()) == (1, 8, ["i/0", "i/1"])


def test_a_snapshots_internal_view_ends_with_it(memory: memkv.Memory) -> None:
    memory.internal.store("k", 1)
    kept = memory.snapshot(lambda view: view.internal)
    raises_naming(memkv.TransactionClosed, "ended", lambda: kept.get("k"))
    inner = memory.internal.snapshot(lambda view: view)
    raises_naming(memkv.TransactionClosed, "ended", inner.keys)


def test_the_internal_space_refuses_an_async_function(memory: memkv.Memory) -> None:
    async def write(tx: memkv.Transaction) -> None:
        tx.store("k", 1)

    raises_naming(memkv.InvalidArgument, "async", lambda: memory.internal.transact(write))
    assert memory.internal.count() == 0
