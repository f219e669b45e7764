"""mlua_swarm's seven tests, on every backend, and what the port adds."""

from __future__ import annotations

from pathlib import Path

import pytest

import memkv
from enhance_log import (
    EnhanceLogConflict,
    EnhanceLogEntry,
    EnhanceLogNotFound,
    EnhanceLogPage,
    InvalidEnhanceLogEntry,
    MemoryEnhanceLogStore,
    VerdictSummary,
)
from enhance_log.keys import entry_key
from tests.enhance_log.conftest import mk_entry

# -- mlua_swarm's tests -------------------------------------------------------------------


def test_append_then_get_returns_same_entry(log: MemoryEnhanceLogStore) -> None:
    entry = mk_entry("i1", "bp-1", 100)
    log.append(entry)
    assert log.get("i1") == entry


def test_an_entry_that_is_no_enhance_log_entry_is_refused(log: MemoryEnhanceLogStore) -> None:
    with pytest.raises(memkv.InvalidArgument, match="must be of type EnhanceLogEntry, not dict"):
        log.append({"issue_id": "i1", "blueprint_id": "b"})  # type: ignore[arg-type]
    with pytest.raises(memkv.InvalidContent, match="ts_ms"):
        log.append(mk_entry("i2", "b", "1715800000"))  # type: ignore[arg-type]
    assert log.count() == 0
    assert log.list_all() == []


def test_get_missing_returns_not_found(log: MemoryEnhanceLogStore) -> None:
    with pytest.raises(EnhanceLogNotFound) as raised:
        log.get("nope")
    assert isinstance(raised.value, memkv.NotFound)
    assert raised.value.issue_id == "nope"


def test_append_twice_returns_conflict(log: MemoryEnhanceLogStore) -> None:
    entry = mk_entry("i2", "bp-1", 200)
    log.append(entry)
    with pytest.raises(EnhanceLogConflict, match="'i2'") as raised:
        log.append(entry)
    assert isinstance(raised.value, memkv.Conflict)


def test_list_by_blueprint_filters_and_sorts_by_ts(log: MemoryEnhanceLogStore) -> None:
    log.append(mk_entry("ib1", "bp-a", 300))
    log.append(mk_entry("ib2", "bp-a", 100))
    log.append(mk_entry("ib3", "bp-b", 200))
    assert [e.issue_id for e in log.list_by_blueprint("bp-a")] == ["ib2", "ib1"]
    assert [e.issue_id for e in log.list_by_blueprint("bp-b")] == ["ib3"]


def test_list_all_returns_all_sorted_by_ts(log: MemoryEnhanceLogStore) -> None:
    log.append(mk_entry("a", "bp-x", 500))
    log.append(mk_entry("b", "bp-y", 100))
    log.append(mk_entry("c", "bp-z", 300))
    assert [e.issue_id for e in log.list_all()] == ["b", "c", "a"]


def test_name_says_the_backend(log: MemoryEnhanceLogStore, backend_name: str) -> None:
    assert log.name == backend_name
    if backend_name == "in-memory":
        assert log.name == "in-memory"  # mlua_swarm's name for its in-memory store


def test_rejected_entry_carries_reasons(log: MemoryEnhanceLogStore) -> None:
    entry = mk_entry(
        "ir",
        "bp-r",
        400,
        status="rejected",
        new_hash="",
        reasons=["des: blueprint.id missing", "noop: ..."],
        verdicts=[VerdictSummary(axis="des", status="deny", detail="blueprint.id missing")],
    )
    log.append(entry)
    got = log.get("ir")
    assert got.status == "rejected"
    assert len(got.reasons) == 2
    assert got.new_hash == ""
    assert got == entry


# -- beyond the original ------------------------------------------------------------------


def test_a_conflict_changes_nothing(log: MemoryEnhanceLogStore) -> None:
    first = mk_entry("i", "bp-1", 100)
    log.append(first)
    before = (log.list_all(), log.list_by_blueprint("bp-1"), log.count())
    with pytest.raises(EnhanceLogConflict):
        log.append(mk_entry("i", "bp-2", 50, rationale="second"))
    assert (log.list_all(), log.list_by_blueprint("bp-1"), log.count()) == before
    assert log.list_by_blueprint("bp-2") == []
    assert log.get("i") == first


def test_equal_timestamps_list_in_append_order(log: MemoryEnhanceLogStore) -> None:
    for issue in ("z", "a", "m", "b"):
        log.append(mk_entry(issue, "bp", 7))
    log.append(mk_entry("early", "bp", 6))
    assert [e.issue_id for e in log.list_by_blueprint("bp")] == ["early", "z", "a", "m", "b"]
    assert [e.issue_id for e in log.list_all()] == ["early", "z", "a", "m", "b"]


def test_pages_forward_and_newest_first(log: MemoryEnhanceLogStore) -> None:
    for i in range(25):
        log.append(mk_entry(f"i{i:02d}", "bp" if i % 5 else "other", ts=i // 3))
    wanted = [e.issue_id for e in log.list_by_blueprint("bp")]
    assert len(wanted) == 20
    for reverse in (False, True):
        seen: list[str] = []
        cursor = None
        while True:
            page = log.page_by_blueprint("bp", limit=6, cursor=cursor, reverse=reverse)
            assert len(page.entries) <= 6
            seen += [e.issue_id for e in page.entries]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == (wanted[::-1] if reverse else wanted)
    everything = log.page_all(limit=100)
    assert everything.next_cursor is None
    assert len(everything.entries) == 25


def test_bad_cursor_and_limit(log: MemoryEnhanceLogStore) -> None:
    log.append(mk_entry("i", "bp", 1))
    for bad in ("not-a-cursor", "", 42, memkv.keys.encode_cursor(("x", 1))):
        with pytest.raises(memkv.InvalidCursor):
            log.page_by_blueprint("bp", cursor=bad)  # type: ignore[arg-type]
    with pytest.raises(memkv.InvalidArgument, match="limit"):
        log.page_all(limit=-1)
    with pytest.raises(memkv.InvalidCursor):  # limit=0 still checks the cursor
        log.page_all(limit=0, cursor="not-a-cursor")


def test_limit_zero_returns_an_empty_page(log: MemoryEnhanceLogStore) -> None:
    for i in range(3):
        log.append(mk_entry(f"i{i}", "bp", i))
    assert log.page_all(limit=0) == EnhanceLogPage(entries=[], next_cursor=None)
    assert log.page_by_blueprint("bp", limit=0, reverse=True).entries == []
    cursor = log.page_all(limit=1).next_cursor
    assert log.page_all(limit=0, cursor=cursor).entries == []


def test_invalid_entries_are_refused(log: MemoryEnhanceLogStore) -> None:
    with pytest.raises(InvalidEnhanceLogEntry, match="status 'done'"):
        mk_entry("i", "bp", 1, status="done")
    with pytest.raises(InvalidEnhanceLogEntry, match="blueprint_id"):
        mk_entry("i", "", 1)
    with pytest.raises(InvalidEnhanceLogEntry, match="too long"):
        log.append(mk_entry("i" * 300, "bp", 1))
    assert log.count() == 0


def test_ids_that_prefix_each_other_stay_apart(log: MemoryEnhanceLogStore) -> None:
    for blueprint in ("bp", "bp-1", "bp_1", "bp\x00", "bp-10"):
        log.append(mk_entry(f"issue-{blueprint}", blueprint, 1))
    for blueprint in ("bp", "bp-1", "bp_1", "bp\x00", "bp-10"):
        assert [e.blueprint_id for e in log.list_by_blueprint(blueprint)] == [blueprint]


def test_corrupt_entry_is_reported(log: MemoryEnhanceLogStore) -> None:
    log.append(mk_entry("i", "bp", 1))
    log.memory.store(entry_key("bp", 1, 0), {"not": "an entry"}, "enhance_log")
    with pytest.raises(memkv.TypeMismatch, match="enhance_log"):
        log.get("i")
    with pytest.raises(memkv.TypeMismatch):
        log.list_by_blueprint("bp")
    with pytest.raises(memkv.TypeMismatch):
        log.list_all()
    log.memory.forget(entry_key("bp", 1, 0))
    with pytest.raises(memkv.CorruptRecord, match="absent"):
        log.get("i")


def test_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with memkv.open(path) as mem:
        log = MemoryEnhanceLogStore(mem)
        for i in range(10):
            log.append(mk_entry(f"i{i}", f"bp{i % 3}", 1000 - i))
        before = log.list_all()
    with memkv.open(path) as mem:
        log = MemoryEnhanceLogStore(mem)
        assert log.list_all() == before
        assert log.count() == 10
        log.append(mk_entry("after", "bp0", 0))
        assert log.list_by_blueprint("bp0")[0].issue_id == "after"


def test_entry_equality_survives_a_round_trip_of_lists_and_tuples() -> None:
    as_lists = mk_entry("i", "bp", 1, reasons=["a"])
    assert as_lists.reasons == ("a",)
    assert isinstance(as_lists.verdicts, tuple)
    assert as_lists == EnhanceLogEntry(
        **{f: getattr(as_lists, f) for f in as_lists.__struct_fields__}
    )
