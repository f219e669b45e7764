"""The run_log part of ``memkv demo``: a workflow engine's run history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import memkv
from run_log.log import MemoryRunLog
from run_log.types import RunStatus, WorkflowRun

TITLE = "run_log: workflow run history for a dashboard"


def run(memory: memkv.Memory) -> None:
    log = MemoryRunLog(memory)
    t0 = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    outcomes = [
        RunStatus.SUCCESS,
        RunStatus.FAILED,
        RunStatus.SUCCESS,
        RunStatus.PAUSED,
        RunStatus.SUCCESS,
    ]
    for day, outcome in enumerate(outcomes):
        started = WorkflowRun(
            id=f"sync-{day}",
            workflow_id="bank_to_ynab",
            status=RunStatus.RUNNING,
            started_at=t0 - timedelta(days=len(outcomes) - day),
        )
        log.save_run(started)  # when it starts ...
        log.save_run(
            started.evolve(
                status=outcome,
                finished_at=started.started_at + timedelta(minutes=3),
                error="bank timeout" if outcome is RunStatus.FAILED else None,
            )
        )
    print(f"   saved 5 runs, each twice (start, end): stats {log.get_stats('bank_to_ynab')}")
    page, cursor = log.list_runs("bank_to_ynab", limit=2)
    more, _ = log.list_runs("bank_to_ynab", limit=2, start_after=cursor)
    print(f"   newest first, 2 a page: {[r.id for r in page]} then {[r.id for r in more]}")
    latest = log.get_latest_run("bank_to_ynab")
    print(
        f"   latest: {latest and latest.id} ({latest and latest.status}); "
        f"waiting for a human: {[r.id for r in log.get_pending_runs()]}"
    )
