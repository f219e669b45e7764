"""The read cache's coherence rules, on their own and through Memory."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import memkv
from memkv.cache import ABSENT, ReadCache, cached_value
from memkv.entry import MemoryEntry, encode_entry


class Store:
    """What a cache reads: records by key, the last commit, and a count of the reads
    that reached it (a read served by the cache does not)."""

    def __init__(self, commit: int = 5) -> None:
        self.records: dict[bytes, bytes] = {}
        self.commit = commit
        self.reads = 0

    def read(self, raw_key: bytes) -> bytes | None:
        self.reads += 1
        return self.records.get(raw_key)

    def cache(self, maxsize: int = 8) -> ReadCache:
        return ReadCache(maxsize, self.read, lambda: self.commit)

    def put(self, content: object, key: str = "k") -> MemoryEntry[object]:
        stored = entry(content, key)
        self.records[key.encode()] = encode_entry(stored)
        return stored


def entry(content: object, key: str = "k") -> MemoryEntry[object]:
    return MemoryEntry(id="i", key=key, content=content, category="c", timestamp=datetime.now(UTC))


def test_admission_on_the_second_miss() -> None:
    store = Store()
    store.put("v")
    store.put("w", "other")
    cache = store.cache()
    cache.get("k")  # the first read of a commit sets the stamp, and is kept
    assert (store.reads, "k" in cache) == (1, True)
    for expected_reads in (2, 3, 3, 3):  # missed, missed and admitted, then served
        got = cache.get("other")
        assert got is not None
        assert got.content == "w"
        assert store.reads == expected_reads
    assert "other" in cache


def test_a_newer_commit_invalidates_every_lookup() -> None:
    store = Store()
    store.put("v1")
    cache = store.cache()
    cache.get("k")
    cache.get("k")
    assert store.reads == 1  # served
    store.put("v2")
    store.commit += 1  # a write anywhere: nothing cached is served
    got = cache.get("k")
    assert got is not None
    assert got.content == "v2"
    assert store.reads == 2


def test_an_older_snapshot_is_never_kept() -> None:
    store = Store(commit=7)
    cache = store.cache()
    cache.fill("k", entry("new"), b"r", snapshot_id=7)
    cache.fill("old", entry("old", "old"), b"r", snapshot_id=6)
    cache.fill("old", entry("old", "old"), b"r", snapshot_id=6)
    assert "old" not in cache
    assert cache.stamp == 7


def test_own_commit_updates_cached_keys_when_nothing_else_changed() -> None:
    store = Store(commit=6)
    cache = store.cache()
    cache.fill("k", entry("v1"), b"r", snapshot_id=5)
    cache.apply_commit(6, {"k": ABSENT, "unseen": ABSENT})
    assert cache.stamp == 6
    assert cache.get("k") is None  # known absent, served without a read
    assert store.reads == 0
    assert cache.get("unseen") is None  # writes do not admit keys: read
    assert store.reads == 1


def test_a_gap_in_commits_empties_the_cache() -> None:
    cache = Store().cache()
    cache.fill("k", entry("v1"), b"r", snapshot_id=5)
    cache.apply_commit(8, {"k": ABSENT})  # commits 6 and 7 were someone else's
    assert cache.stamp == 8
    assert len(cache) == 0


def test_mutable_content_is_served_as_a_fresh_copy() -> None:
    store = Store()
    store.put({"a": [1]})
    cache = store.cache()
    first = [cache.get("k") for _ in range(2)]
    assert store.reads == 1  # the second came from the cache
    assert first[1] is not None
    first[1].content["a"].append(2)  # a caller mutates what it was given
    again = cache.get("k")
    assert again is not None
    assert again.content == {"a": [1]}


def test_a_closed_cache_refuses_even_a_get_bound_before(tmp_path: Path) -> None:
    memory = memkv.open(tmp_path / "store")
    memory.store("k", 1)
    get = memory.get
    assert get("k") is not None
    memory.close()
    with pytest.raises(memkv.StoreClosed, match="closed"):
        get("k")
    with pytest.raises(memkv.StoreClosed, match="closed"):
        memory.get("k")


def test_mutable_content_is_cached_as_bytes() -> None:
    mutable = entry({"a": 1})
    assert cached_value(mutable, b"record") == b"record"
    shareable = entry("text")
    assert cached_value(shareable, b"record") is shareable


def test_cache_never_serves_a_value_overwritten_through_another_handle(tmp_path: object) -> None:
    with memkv.open(":memory:") as mem:
        backend = mem.backend
        other = memkv.Memory(backend)  # a second handle, its own cache
        mem.store("k", "v1")
        for _ in range(3):
            got = mem.get("k")
            assert got is not None
            assert got.content == "v1"
        other.store("k", "v2")
        got = mem.get("k")
        assert got is not None
        assert got.content == "v2"
        other.forget("k")
        assert mem.get("k") is None


def test_cache_off() -> None:
    with memkv.open(":memory:", cache_size=0) as mem:
        mem.store("k", 1)
        for _ in range(3):
            got = mem.get("k")
            assert got is not None
            assert got.content == 1
