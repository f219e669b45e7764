"""The sop_audit part of ``memkv demo``: a run audited through an approval gate, and
the recovery sweep after a restart."""

from __future__ import annotations

import memkv
from sop_audit.logger import SopAuditLogger
from sop_audit.types import (
    SopEvent,
    SopRun,
    SopRunStatus,
    SopStepResult,
    SopStepStatus,
    SopTriggerSource,
)

TITLE = "sop_audit: an SOP run audited through an approval gate"


def _step(n: int, output: str) -> SopStepResult:
    return SopStepResult(
        step_number=n,
        status=SopStepStatus.COMPLETED,
        output=output,
        started_at=f"2026-11-23T09:0{n}:00Z",
        completed_at=f"2026-11-23T09:0{n}:30Z",
    )


def run(memory: memkv.Memory) -> None:
    logger = SopAuditLogger(memory)
    release = SopRun(
        run_id="deploy-2026-11-23",
        sop_name="deploy-release",
        trigger_event=SopEvent(source=SopTriggerSource.MANUAL, timestamp="2026-11-23T09:00:00Z"),
        status=SopRunStatus.RUNNING,
        current_step=1,
        total_steps=3,
        started_at="2026-11-23T09:00:00Z",
    )
    logger.log_run_start(release)
    logger.log_step_result(release.run_id, _step(1, "built artefacts"))
    gate = release.evolve(
        status=SopRunStatus.WAITING_APPROVAL, current_step=2, waiting_since="2026-11-23T09:01:30Z"
    )
    logger.log_run_start(gate)  # the run now waits: that is what a restart would find
    logger.log_timeout_held(gate, 2)  # the gate timed out: held for a human, not auto-run
    logger.log_approval(gate, 2)  # ... and the operator approved
    logger.log_step_result(release.run_id, _step(2, "deployed to production"))
    logger.log_step_result(release.run_id, _step(3, "smoke tests passed"))
    logger.log_run_complete(
        gate.evolve(
            status=SopRunStatus.COMPLETED, current_step=3, completed_at="2026-11-23T09:03:30Z"
        )
    )
    for event in logger.timeline(release.run_id):
        step = "" if event.step_number is None else f" step {event.step_number}"
        state = event.run.status if event.run else event.step.status if event.step else ""
        print(f"   #{event.seq} {event.kind}{step}: {state}")
    print(f"   steps in order: {[s.output for s in logger.list_steps(release.run_id)]}")

    backup = release.evolve(run_id="backup-nightly", sop_name="backup", status=SopRunStatus.RUNNING)
    logger.log_run_start(backup)
    print(f"   runs: {logger.list_runs()}; a restart finds {backup.run_id!r} running ...")
    marked = logger.mark_stale_runs()
    after = logger.get_run(backup.run_id)
    print(f"   mark_stale_runs() -> {marked} ({backup.run_id!r} is now {after and after.status})")
