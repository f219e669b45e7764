"""The read cache's coherence rules, on their own and through Memory."""

from __future__ import annotations

from datetime import UTC, datetime

import memkv
from memkv.cache import ABSENT, MISS, ReadCache, cached_value
from memkv.entry import MemoryEntry, encode_entry


def unread_cache(maxsize: int) -> ReadCache:
    """A cache on its own: it is only filled by hand, never reads a store."""

    def no_store(raw_key: bytes) -> bytes | None:
        raise AssertionError("this cache reads no store")

    return ReadCache(maxsize, no_store, commit_id=lambda: 0)


def entry(content: object) -> MemoryEntry[object]:
    return MemoryEntry(id="i", key="k", content=content, category="c", timestamp=datetime.now(UTC))


def test_admission_on_the_second_miss() -> None:
    cache = unread_cache(8)
    e = entry("v")
    cache.fill("k", e, encode_entry(e), snapshot_id=5)  # first fill sets the stamp
    assert cache.lookup("k", 5) is e
    cache.fill("other", e, b"r", snapshot_id=5)
    assert cache.lookup("other", 5) is MISS  # first miss: only remembered
    cache.fill("other", e, b"r", snapshot_id=5)
    assert cache.lookup("other", 5) is e


def test_a_newer_commit_invalidates_every_lookup() -> None:
    cache = unread_cache(8)
    e = entry("v")
    cache.fill("k", e, b"r", snapshot_id=5)
    assert cache.lookup("k", 5) is e
    assert cache.lookup("k", 6) is MISS  # any write anywhere: not served


def test_an_older_snapshot_is_never_kept() -> None:
    cache = unread_cache(8)
    cache.fill("k", entry("new"), b"r", snapshot_id=7)
    cache.fill("old", entry("old"), b"r", snapshot_id=6)
    cache.fill("old", entry("old"), b"r", snapshot_id=6)
    assert cache.lookup("old", 7) is MISS
    assert cache.stamp == 7


def test_own_commit_updates_cached_keys_when_nothing_else_changed() -> None:
    cache = unread_cache(8)
    cache.fill("k", entry("v1"), b"r", snapshot_id=5)
    cache.apply_commit(6, {"k": ABSENT, "unseen": ABSENT})
    assert cache.stamp == 6
    assert cache.lookup("k", 6) is ABSENT
    assert cache.lookup("unseen", 6) is MISS  # writes do not admit keys


def test_a_gap_in_commits_empties_the_cache() -> None:
    cache = unread_cache(8)
    cache.fill("k", entry("v1"), b"r", snapshot_id=5)
    cache.apply_commit(8, {"k": ABSENT})  # commits 6 and 7 were someone else's
    assert cache.stamp == 8
    assert len(cache) == 0


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
