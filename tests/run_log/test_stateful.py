"""Any sequence of saves, on both backends: stats equal a recount of the stored runs,
and paging with any limit returns every run once, newest first."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import memkv
from run_log import MemoryRunLog, RunStatus, WorkflowRun
from run_log.keys import micros
from tests.run_log.conftest import make_run

WORKFLOWS = ("wf", "wf_1", "wf-10")
RUNS = st.builds(
    make_run,
    st.sampled_from([f"r{i}" for i in range(8)]),
    workflow_id=st.sampled_from(WORKFLOWS),
    minute=st.sampled_from([0, 1, 1, 5, 9]),  # shared start times on purpose
    status=st.sampled_from(list(RunStatus)),
)


class RunLogAgreement(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="run-log-"))
        self.logs = [
            MemoryRunLog(memkv.open(self.directory / "store")),
            MemoryRunLog(memkv.open(":memory:")),
        ]
        self.saved: dict[tuple[str, str], WorkflowRun] = {}

    def teardown(self) -> None:
        for log in self.logs:
            log.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    @rule(run=RUNS, again=st.booleans())
    def save(self, run: WorkflowRun, again: bool) -> None:
        for log in self.logs:
            log.save_run(run)
            if again:
                log.save_run(run)
        self.saved[(run.workflow_id, run.id)] = run

    @rule()
    def reopen(self) -> None:
        self.logs[0].close()
        self.logs[0] = MemoryRunLog(memkv.open(self.directory / "store"))

    @rule(workflow=st.sampled_from(WORKFLOWS), limit=st.integers(1, 5))
    def page_through(self, workflow: str, limit: int) -> None:
        expected = sorted(
            (r for (w, _), r in self.saved.items() if w == workflow),
            key=lambda r: (micros(r.started_at), r.id),
            reverse=True,
        )
        for log in self.logs:
            seen: list[WorkflowRun] = []
            cursor = None
            while True:
                runs, cursor = log.list_runs(workflow, limit=limit, start_after=cursor)
                seen += runs
                if cursor is None:
                    break
            assert seen == expected

    @invariant()
    def stats_equal_a_recount(self) -> None:
        for log in self.logs:
            for workflow in WORKFLOWS:
                stored = [r for (w, _), r in self.saved.items() if w == workflow]
                assert log.get_stats(workflow) == {
                    "total": len(stored),
                    "successful": sum(r.status is RunStatus.SUCCESS for r in stored),
                }
                latest = log.get_latest_run(workflow)
                newest = max(stored, key=lambda r: (micros(r.started_at), r.id), default=None)
                assert latest == newest
            paused = sorted(
                (r for r in self.saved.values() if r.status is RunStatus.PAUSED),
                key=lambda r: (micros(r.started_at), r.workflow_id, r.id),
                reverse=True,
            )
            assert log.get_pending_runs() == paused
            assert log.memory.verify() == []


TestRunLogAgreement = RunLogAgreement.TestCase
TestRunLogAgreement.settings = settings(max_examples=80, stateful_step_count=30)
