"""What the SOP audit loggers (sync and async) tell the process log after a write."""

from __future__ import annotations

import logging

from sop_audit.types import SopAuditEventKind, SopRun, StaleSweepReport

log = logging.getLogger("sop_audit")


def run_logged(run: SopRun, kind: SopAuditEventKind, changed: bool) -> None:
    """After a run's start or completion was logged (``changed``: not a repeat)."""
    if not changed:
        return
    if kind is SopAuditEventKind.RUN_STARTED:
        log.info("SOP audit: run %s started for %r", run.run_id, run.sop_name)
    else:
        log.info("SOP audit: run %s finished with status %s", run.run_id, run.status)


def decision_logged(run: SopRun, step_number: int, kind: SopAuditEventKind, changed: bool) -> None:
    if changed:
        log.info("SOP audit: run %s step %d: %s", run.run_id, step_number, kind)


def swept(report: StaleSweepReport) -> StaleSweepReport:
    """Log what a stale-run sweep did; return its report."""
    for run_id in report.corrupt:
        log.error("SOP recovery: run %s cannot be read; left as it is", run_id)
    for run_id in report.marked:
        log.warning(
            "SOP recovery: run %s was interrupted by a restart: marked Failed "
            "(retry is a manual action)",
            run_id,
        )
    if report.marked:
        log.info("SOP recovery: marked %d interrupted run(s) Failed", len(report.marked))
    return report
