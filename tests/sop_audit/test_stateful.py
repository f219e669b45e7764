"""Random interleavings of the logger's operations over several runs, on both
backends, against a plain-Python model of the trail."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import memkv
from sop_audit import (
    SopAuditEventKind,
    SopAuditLogger,
    SopRun,
    SopRunStatus,
    SopStepResult,
    SopStepStatus,
)
from tests.sop_audit.conftest import make_run, step_result

RUN_IDS = st.sampled_from(["a", "a_1", "a_10", "a\x00b", "run-é"])
RUNS = st.builds(
    make_run,
    RUN_IDS,
    sop_name=st.sampled_from(["deploy", "backup"]),
    status=st.sampled_from(list(SopRunStatus)),
    current_step=st.integers(0, 3),
)
STEPS = st.builds(step_result, st.integers(1, 11), status=st.sampled_from(list(SopStepStatus)))
DECISIONS = st.sampled_from(
    [
        ("log_approval", SopAuditEventKind.APPROVED),
        ("log_timeout_auto_approve", SopAuditEventKind.TIMEOUT_AUTO_APPROVED),
        ("log_timeout_held", SopAuditEventKind.TIMEOUT_HELD),
    ]
)
STALE_AT = "2026-12-31T23:59:59Z"


class Model:
    """The trail in plain Python: what each record holds, and each run's events."""

    def __init__(self) -> None:
        self.runs: dict[str, SopRun] = {}
        self.steps: dict[tuple[str, int], SopStepResult] = {}
        self.decisions: dict[tuple[str, int, str], SopRun] = {}
        self.events: dict[str, list[tuple[Any, ...]]] = {}

    def event(self, run_id: str, *event: Any) -> None:
        self.events.setdefault(run_id, []).append(event)

    def run(self, run: SopRun, kind: SopAuditEventKind) -> None:
        if self.runs.get(run.run_id) != run:
            if kind is SopAuditEventKind.RUN_STARTED and run.run_id in self.runs:
                kind = SopAuditEventKind.RUN_UPDATED
            self.runs[run.run_id] = run
            self.event(run.run_id, kind, None, run, None)

    def step(self, run_id: str, result: SopStepResult) -> None:
        if self.steps.get((run_id, result.step_number)) != result:
            self.steps[(run_id, result.step_number)] = result
            self.event(run_id, SopAuditEventKind.STEP_RESULT, result.step_number, None, result)

    def decision(self, run: SopRun, step: int, kind: SopAuditEventKind) -> None:
        if self.decisions.get((run.run_id, step, kind)) != run:
            self.decisions[(run.run_id, step, kind)] = run
            self.event(run.run_id, kind, step, run, None)

    def mark_stale(self) -> int:
        marked = 0
        for _, run in sorted(self.runs.items()):
            if run.status.is_interrupted_by_restart:
                failed = run.evolve(
                    status=SopRunStatus.FAILED, completed_at=run.completed_at or STALE_AT
                )
                self.run(failed, SopAuditEventKind.MARKED_STALE)
                marked += 1
        return marked


class TrailAgreement(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="sop-audit-"))
        self.loggers = [
            SopAuditLogger(memkv.open(self.directory / "store")),
            SopAuditLogger(memkv.open(":memory:")),
        ]
        self.model = Model()

    def teardown(self) -> None:
        for logger in self.loggers:
            logger.memory.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    @rule(run=RUNS, twice=st.booleans())
    def log_run_start(self, run: SopRun, twice: bool) -> None:
        for _ in range(1 + twice):
            for logger in self.loggers:
                logger.log_run_start(run)
        self.model.run(run, SopAuditEventKind.RUN_STARTED)

    @rule(run=RUNS, twice=st.booleans())
    def log_run_complete(self, run: SopRun, twice: bool) -> None:
        for _ in range(1 + twice):
            for logger in self.loggers:
                logger.log_run_complete(run)
        self.model.run(run, SopAuditEventKind.RUN_COMPLETED)

    @rule(run_id=RUN_IDS, result=STEPS, twice=st.booleans())
    def log_step_result(self, run_id: str, result: SopStepResult, twice: bool) -> None:
        for _ in range(1 + twice):
            for logger in self.loggers:
                logger.log_step_result(run_id, result)
        self.model.step(run_id, result)

    @rule(run=RUNS, step=st.integers(1, 3), decision=DECISIONS, twice=st.booleans())
    def log_decision(
        self, run: SopRun, step: int, decision: tuple[str, SopAuditEventKind], twice: bool
    ) -> None:
        method, kind = decision
        for _ in range(1 + twice):
            for logger in self.loggers:
                getattr(logger, method)(run, step)
        self.model.decision(run, step, kind)

    @rule()
    def mark_stale_runs(self) -> None:
        expected = self.model.mark_stale()
        for logger in self.loggers:
            assert logger.mark_stale_runs(completed_at=STALE_AT) == expected
            assert logger.mark_stale_runs(completed_at=STALE_AT) == 0  # twice: nothing more

    @rule()
    def reopen(self) -> None:
        self.loggers[0].memory.close()
        self.loggers[0] = SopAuditLogger(memkv.open(self.directory / "store"))

    @invariant()
    def trail_agrees_with_the_model(self) -> None:
        model = self.model
        for logger in self.loggers:
            assert logger.list_runs() == sorted(
                model.runs, key=lambda r: memkv.keys.pack((r,)).encode()
            )
            for run_id in ("a", "a_1", "a_10", "a\x00b", "run-é"):
                assert logger.get_run(run_id) == model.runs.get(run_id)
                wanted_steps = sorted(
                    (n, r) for (rid, n), r in model.steps.items() if rid == run_id
                )
                assert logger.list_steps(run_id) == [r for _, r in wanted_steps]
                events = logger.timeline(run_id)
                assert [(e.kind, e.step_number, e.run, e.step) for e in events] == model.events.get(
                    run_id, []
                )
                assert [e.seq for e in events] == list(range(len(events)))
            for status in SopRunStatus:
                page = logger.find_runs(status=status, limit=None)
                assert {r.run_id for r in page.runs} == {
                    r.run_id for r in model.runs.values() if r.status == status
                }
            assert logger.memory.verify() == []


TestTrailAgreement = TrailAgreement.TestCase
TestTrailAgreement.settings = settings(max_examples=60, stateful_step_count=30)
