"""`AsyncRunLog`: the workflow run log for asyncio runtimes.

Saving a run is the same transaction function (`run_log.operations.save_run`),
committed through `memkv.aio.AsyncMemory` (group commit: the saves of concurrent
workflows share a flush; the event loop never waits for the disk). Reads are the sync
log's own.
"""

from __future__ import annotations

from memkv.aio import AsyncMemory
from memkv.entry import check_instance
from run_log import operations
from run_log.log import MemoryRunLog
from run_log.tracing import span
from run_log.types import WorkflowRun


class AsyncRunLog:
    """`MemoryRunLog`'s operations as coroutines, with the same promises (and the
    same ``max_runs_per_workflow`` retention). ``sync`` is a `MemoryRunLog` on the
    same store."""

    def __init__(self, memory: AsyncMemory, *, max_runs_per_workflow: int | None = None) -> None:
        self.memory = memory.internal  # its records are not among the user's memories
        self.sync = MemoryRunLog(memory.memory, max_runs_per_workflow=max_runs_per_workflow)

    async def save_run(self, run: WorkflowRun) -> None:
        """See `MemoryRunLog.save_run`."""
        check_instance(run, WorkflowRun, "a run")
        retention = self.sync.max_runs_per_workflow
        with span("run_log.save", {"workflow_id": run.workflow_id, "run_id": run.id}):
            await self.memory.transact(lambda tx: operations.save_run(tx, run, retention))

    async def list_runs(
        self, workflow_id: str, *, limit: int | None = 50, start_after: str | None = None
    ) -> tuple[list[WorkflowRun], str | None]:
        """See `MemoryRunLog.list_runs`."""
        return self.sync.list_runs(workflow_id, limit=limit, start_after=start_after)

    async def get_run(self, workflow_id: str, run_id: str) -> WorkflowRun | None:
        return self.sync.get_run(workflow_id, run_id)

    async def get_stats(self, workflow_id: str) -> dict[str, int]:
        return self.sync.get_stats(workflow_id)

    async def get_pending_runs(self) -> list[WorkflowRun]:
        return self.sync.get_pending_runs()

    async def get_latest_run(self, workflow_id: str) -> WorkflowRun | None:
        return self.sync.get_latest_run(workflow_id)

    async def close(self) -> None:
        """Close the underlying store (after the saves already queued commit)."""
        await self.memory.close()

    def __repr__(self) -> str:
        return f"AsyncRunLog({self.memory!r})"
