"""A runtime killed mid-run: after reopening, mark_stale_runs fails exactly the runs
that were in flight, and nothing acknowledged is lost."""

from __future__ import annotations

import random
from pathlib import Path

import memkv
from sop_audit import SopAuditLogger, SopRunStatus
from tests.memkv.helpers import run_then_kill

WORKERS = Path(__file__).with_name("workers.py")


def test_sigkill_mid_run_then_recovery(tmp_path: Path) -> None:
    path = tmp_path / "store"
    rng = random.Random(3)
    completed: set[str] = set()
    started: set[str] = set()
    steps: set[tuple[str, int]] = set()
    for cycle in range(6):
        for line in run_then_kill(
            "run-sops", str(path), f"c{cycle}", seconds=rng.uniform(0.05, 0.4), script=WORKERS
        ):
            kind, run_id, *rest = line.split("\t")
            {"started": started, "completed": completed}.get(kind, set()).add(run_id)
            if kind == "step":
                steps.add((run_id, int(rest[0])))
        with memkv.open(path) as mem:
            logger = SopAuditLogger(mem)
            runs = {run_id: logger.get_run(run_id) for run_id in logger.list_runs()}
            assert started <= set(runs)  # every acknowledged start is there
            for run_id, step in steps:
                assert step in [s.step_number for s in logger.list_steps(run_id)]
            for run_id in completed:
                run = runs[run_id]
                assert run is not None
                assert run.status == SopRunStatus.COMPLETED
            in_flight = {
                r
                for r, run in runs.items()
                if run is not None and run.status == SopRunStatus.RUNNING
            }
            assert len(in_flight) <= 1  # the runtime runs one SOP at a time
            assert in_flight <= set(runs) - completed
            report = logger.sweep_stale_runs()
            assert set(report.marked) == in_flight
            assert report.corrupt == []
            for run_id in in_flight:
                failed = logger.get_run(run_id)
                assert failed is not None
                assert failed.status == SopRunStatus.FAILED
                assert failed.completed_at is not None
            for run_id in completed:
                run = logger.get_run(run_id)
                assert run is not None
                assert run.status == SopRunStatus.COMPLETED
            assert logger.mark_stale_runs() == 0
            assert mem.verify() == []
    assert len(completed) >= 3
