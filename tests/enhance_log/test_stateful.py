"""Append-only properties, by random sequences of appends on both backends at once."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import memkv
from enhance_log import EnhanceLogConflict, EnhanceLogEntry, MemoryEnhanceLogStore
from tests.enhance_log.conftest import mk_entry

ISSUES = st.sampled_from(["i1", "i2", "i3", "i_1", "i1\x00", "issue-é", "i10"])
BLUEPRINTS = st.sampled_from(["bp", "bp-1", "bp_1", "bp-10"])
TIMES = st.sampled_from([-5, 0, 7, 7, 100, 2**40])


class AppendOnly(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="enhance-log-"))
        self.lmdb = memkv.open(self.directory / "store")
        self.logs = [
            MemoryEnhanceLogStore(self.lmdb),
            MemoryEnhanceLogStore(memkv.open(":memory:")),
        ]
        self.first: dict[str, EnhanceLogEntry] = {}  # issue_id -> the entry appended first
        self.order: list[str] = []  # issue ids in append order

    def teardown(self) -> None:
        for log in self.logs:
            log.memory.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def expected(self, blueprint: str | None = None) -> list[str]:
        position = {issue: n for n, issue in enumerate(self.order)}
        chosen = [
            i for i in self.order if blueprint is None or self.first[i].blueprint_id == blueprint
        ]
        return sorted(chosen, key=lambda i: (self.first[i].ts_ms, position[i]))

    @rule(issue=ISSUES, blueprint=BLUEPRINTS, ts=TIMES, rationale=st.text(max_size=8))
    def append(self, issue: str, blueprint: str, ts: int, rationale: str) -> None:
        entry = mk_entry(issue, blueprint, ts, rationale=rationale)
        for log in self.logs:
            before = (log.list_all(), log.count())
            try:
                log.append(entry)
            except EnhanceLogConflict:
                assert issue in self.first, "conflict without an earlier append"
                assert (log.list_all(), log.count()) == before  # the conflict changed nothing
            else:
                assert issue not in self.first, "a second append of an id succeeded"
        if issue not in self.first:
            self.first[issue] = entry
            self.order.append(issue)

    @rule(blueprint=BLUEPRINTS, limit=st.integers(1, 3), reverse=st.booleans())
    def page_through(self, blueprint: str, limit: int, reverse: bool) -> None:
        for log in self.logs:
            seen: list[str] = []
            cursor = None
            while True:
                page = log.page_by_blueprint(blueprint, limit=limit, cursor=cursor, reverse=reverse)
                seen += [e.issue_id for e in page.entries]
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
            wanted = self.expected(blueprint)
            assert seen == (wanted[::-1] if reverse else wanted)

    @rule()
    def reopen(self) -> None:
        self.lmdb.close()
        self.lmdb = memkv.open(self.directory / "store")
        self.logs[0] = MemoryEnhanceLogStore(self.lmdb)

    @invariant()
    def every_id_maps_to_its_first_entry(self) -> None:
        for log in self.logs:
            for issue, entry in self.first.items():
                assert log.get(issue) == entry
            assert log.count() == len(self.first)

    @invariant()
    def lists_are_sorted_and_complete(self) -> None:
        for log in self.logs:
            assert [e.issue_id for e in log.list_all()] == self.expected()
            for blueprint in ("bp", "bp-1", "bp_1", "bp-10"):
                assert [e.issue_id for e in log.list_by_blueprint(blueprint)] == self.expected(
                    blueprint
                )
            assert log.memory.verify() == []


TestAppendOnly = AppendOnly.TestCase
TestAppendOnly.settings = settings(max_examples=100, stateful_step_count=30)
