"""`AsyncSopAuditLogger`: `SopAuditLogger` for asyncio runtimes.

The same transaction functions (`sop_audit.operations`), committed through
`memkv.aio.AsyncMemory`: the writes of many tasks share one commit and one flush, and
the event loop never waits for the disk. Reads are the sync logger's own (they never
wait for a writer).
"""

from __future__ import annotations

from memkv.aio import AsyncMemory
from sop_audit import operations, reporting
from sop_audit.logger import DEFAULT_PAGE, SopAuditLogger
from sop_audit.types import (
    SopAuditEvent,
    SopAuditEventKind,
    SopRun,
    SopRunPage,
    SopRunStatus,
    SopStepResult,
    StaleSweepReport,
)


class AsyncSopAuditLogger:
    """`SopAuditLogger`'s operations as coroutines; the same promises (atomic,
    idempotent writes). ``sync`` is a `SopAuditLogger` on the same store."""

    def __init__(self, memory: AsyncMemory) -> None:
        self.memory = memory.internal  # its records are not among the user's memories
        self.sync = SopAuditLogger(memory.memory)

    # -- writes ----------------------------------------------------------------------

    async def log_run_start(self, run: SopRun) -> None:
        """See `SopAuditLogger.log_run_start`."""
        await self._log_run(run, SopAuditEventKind.RUN_STARTED)

    async def log_step_result(self, run_id: str, result: SopStepResult) -> None:
        """See `SopAuditLogger.log_step_result`."""
        await self.memory.transact(lambda tx: operations.log_step_result(tx, run_id, result))

    async def log_run_complete(self, run: SopRun) -> None:
        """See `SopAuditLogger.log_run_complete`."""
        await self._log_run(run, SopAuditEventKind.RUN_COMPLETED)

    async def log_approval(self, run: SopRun, step_number: int) -> None:
        """See `SopAuditLogger.log_approval`."""
        await self._decision(run, step_number, SopAuditEventKind.APPROVED)

    async def log_timeout_auto_approve(self, run: SopRun, step_number: int) -> None:
        """See `SopAuditLogger.log_timeout_auto_approve`."""
        await self._decision(run, step_number, SopAuditEventKind.TIMEOUT_AUTO_APPROVED)

    async def log_timeout_held(self, run: SopRun, step_number: int) -> None:
        """See `SopAuditLogger.log_timeout_held`."""
        await self._decision(run, step_number, SopAuditEventKind.TIMEOUT_HELD)

    async def _log_run(self, run: SopRun, kind: SopAuditEventKind) -> None:
        changed = await self.memory.transact(lambda tx: operations.log_run(tx, run, kind))
        reporting.run_logged(run, kind, changed)

    async def _decision(self, run: SopRun, step_number: int, kind: SopAuditEventKind) -> None:
        changed = await self.memory.transact(
            lambda tx: operations.log_decision(tx, run, step_number, kind)
        )
        reporting.decision_logged(run, step_number, kind, changed)

    async def mark_stale_runs(self, *, completed_at: str | None = None) -> int:
        """See `SopAuditLogger.mark_stale_runs`."""
        return len((await self.sweep_stale_runs(completed_at=completed_at)).marked)

    async def sweep_stale_runs(self, *, completed_at: str | None = None) -> StaleSweepReport:
        """See `SopAuditLogger.sweep_stale_runs`."""
        return reporting.swept(
            await self.memory.transact(lambda tx: operations.sweep(tx, completed_at))
        )

    # -- reads -------------------------------------------------------------------------

    async def get_run(self, run_id: str) -> SopRun | None:
        """See `SopAuditLogger.get_run`."""
        return self.sync.get_run(run_id)

    async def list_runs(self) -> list[str]:
        """See `SopAuditLogger.list_runs`."""
        return self.sync.list_runs()

    async def list_steps(self, run_id: str) -> list[SopStepResult]:
        """See `SopAuditLogger.list_steps`."""
        return self.sync.list_steps(run_id)

    async def timeline(self, run_id: str) -> list[SopAuditEvent]:
        """See `SopAuditLogger.timeline`."""
        return self.sync.timeline(run_id)

    async def find_runs(
        self,
        *,
        status: SopRunStatus | None = None,
        sop_name: str | None = None,
        limit: int | None = DEFAULT_PAGE,
        cursor: str | None = None,
    ) -> SopRunPage:
        """See `SopAuditLogger.find_runs`."""
        return self.sync.find_runs(status=status, sop_name=sop_name, limit=limit, cursor=cursor)
