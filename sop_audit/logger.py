"""`SopAuditLogger`: revka's operations, and what a reader of the trail needs."""

from __future__ import annotations

import memkv
from memkv.legacy import adopt
from sop_audit import operations, reporting
from sop_audit.keys import HOLDINGS
from sop_audit.types import (
    SopAuditEvent,
    SopAuditEventKind,
    SopRun,
    SopRunPage,
    SopRunStatus,
    SopStepResult,
    StaleSweepReport,
)

DEFAULT_PAGE: int = 100


class SopAuditLogger:
    """Persists SOP runs, step results, approvals and timeout decisions to a
    `memkv.Memory` (any backend), so that after a crash the runtime and a person can
    see what happened and what is still waiting.

    Every ``log_*`` call is one atomic transaction and idempotent: logging the same
    record twice leaves the trail as logging it once.
    """

    def __init__(self, memory: memkv.Memory) -> None:
        self.memory = memory.internal  # its records are not among the user's memories
        adopt(memory, *HOLDINGS)  # records an older memkv kept among them

    # -- revka's operations ------------------------------------------------------------

    def log_run_start(self, run: SopRun) -> None:
        """Record the start of a run (its record, indexes, a timeline event)."""
        self._log_run(run, SopAuditEventKind.RUN_STARTED)

    def log_step_result(self, run_id: str, result: SopStepResult) -> None:
        """Record a step result under the run (one per step number; a later result
        for the same step replaces it, and both appear in the timeline)."""
        self.memory.transact(lambda tx: operations.log_step_result(tx, run_id, result))

    def log_run_complete(self, run: SopRun) -> None:
        """Record the run's final state."""
        self._log_run(run, SopAuditEventKind.RUN_COMPLETED)

    def log_approval(self, run: SopRun, step_number: int) -> None:
        """Record an operator's approval of a step (with the run as it was)."""
        self._decision(run, step_number, SopAuditEventKind.APPROVED)

    def log_timeout_auto_approve(self, run: SopRun, step_number: int) -> None:
        """Record that an approval gate timed out and the step was auto-approved."""
        self._decision(run, step_number, SopAuditEventKind.TIMEOUT_AUTO_APPROVED)

    def log_timeout_held(self, run: SopRun, step_number: int) -> None:
        """Record that a timed-out approval gate was held for a human (fail-safe)."""
        self._decision(run, step_number, SopAuditEventKind.TIMEOUT_HELD)

    def _log_run(self, run: SopRun, kind: SopAuditEventKind) -> None:
        reporting.run_logged(
            run, kind, self.memory.transact(lambda tx: operations.log_run(tx, run, kind))
        )

    def _decision(self, run: SopRun, step_number: int, kind: SopAuditEventKind) -> None:
        changed = self.memory.transact(
            lambda tx: operations.log_decision(tx, run, step_number, kind)
        )
        reporting.decision_logged(run, step_number, kind, changed)

    def get_run(self, run_id: str) -> SopRun | None:
        """The stored run, or ``None``.

        Raises:
            memkv.CorruptRecord: the record cannot be read (names the key); never
                taken for an absent run.
        """
        return operations.read_run(self.memory, run_id)

    def list_runs(self) -> list[str]:
        """Every run id, in run_id order (ids, not storage keys)."""
        return self.memory.snapshot(operations.run_ids)

    def mark_stale_runs(self, *, completed_at: str | None = None) -> int:
        """After a restart: fail the runs left Pending, Running or WaitingApproval,
        setting ``completed_at`` (now, unless given) where it is unset;
        PausedCheckpoint and terminal runs are left alone. Idempotent. Returns how
        many runs were marked; see `sweep_stale_runs`."""
        return len(self.sweep_stale_runs(completed_at=completed_at).marked)

    # -- beyond the original -------------------------------------------------------------

    def sweep_stale_runs(self, *, completed_at: str | None = None) -> StaleSweepReport:
        """`mark_stale_runs`, reporting which runs were marked and which could not be
        read. Reads only the in-flight runs (an index by status), in one
        transaction: each run is checked again and marked, or not, as a whole. A
        corrupt run is logged, reported and skipped: the sweep goes on."""
        return reporting.swept(self.memory.transact(lambda tx: operations.sweep(tx, completed_at)))

    def list_steps(self, run_id: str) -> list[SopStepResult]:
        """The run's step results in step order (step 10 after step 9)."""
        return self.memory.snapshot(lambda view: operations.steps(view, run_id))

    def timeline(self, run_id: str) -> list[SopAuditEvent]:
        """The run's events (start, steps, approvals, timeout decisions, completion,
        stale marking) in the order they were logged."""
        return self.memory.snapshot(lambda view: operations.timeline(view, run_id))

    def find_runs(
        self,
        *,
        status: SopRunStatus | None = None,
        sop_name: str | None = None,
        limit: int | None = DEFAULT_PAGE,
        cursor: str | None = None,
    ) -> SopRunPage:
        """Runs in run_id order, filtered by status and/or SOP name, one page at a
        time (pass the page's ``next_cursor`` to get the next). Served by indexes.

        Raises:
            memkv.InvalidCursor, memkv.InvalidArgument (a bad limit).
        """
        return self.memory.snapshot(
            lambda view: operations.find_runs(view, status, sop_name, limit, cursor)
        )
