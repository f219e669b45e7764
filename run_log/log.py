"""`RunLog`, autopilot's interface; `MemoryRunLog`, its implementation on memkv; and the
factory that picks a backend from the environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final, Protocol

import memkv
from memkv.entry import check_instance
from memkv.legacy import adopt
from run_log import operations
from run_log.keys import HOLDINGS
from run_log.tracing import span
from run_log.types import WorkflowRun

BACKENDS: Final = ("memory", "lmdb")
DEFAULT_BACKEND: Final = "lmdb"


def default_path() -> Path:
    """Where ``create_run_log`` keeps an LMDB run log without ``RUN_LOG_PATH``:
    ``$XDG_DATA_HOME/memkv/run_log`` (``~/.local/share/memkv/run_log``)."""
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "memkv" / "run_log"


class RunLog(Protocol):
    """Durable workflow run history."""

    def save_run(self, run: WorkflowRun) -> None:
        """Upsert a run (idempotent: saving the same run id twice counts it once)."""
        ...

    def list_runs(
        self, workflow_id: str, *, limit: int = 50, start_after: str | None = None
    ) -> tuple[list[WorkflowRun], str | None]:
        """A page of a workflow's runs, newest first, and the cursor of the next."""
        ...

    def get_run(self, workflow_id: str, run_id: str) -> WorkflowRun | None: ...

    def get_stats(self, workflow_id: str) -> dict[str, int]:
        """Exactly ``{"total": N, "successful": N}``, over the workflow's lifetime."""
        ...

    def get_pending_runs(self) -> list[WorkflowRun]:
        """Every workflow's paused runs, newest first."""
        ...

    def get_latest_run(self, workflow_id: str) -> WorkflowRun | None: ...


class MemoryRunLog:
    """The run log on a `memkv.Memory`: every operation is an index range scan or a
    point read, so its cost does not grow with the history stored.

    ``max_runs_per_workflow`` (default: keep everything) evicts a workflow's oldest
    finished runs beyond that many; lifetime stats are unaffected by eviction, and
    live runs (pending, running, paused) are never evicted.
    """

    def __init__(self, memory: memkv.Memory, *, max_runs_per_workflow: int | None = None) -> None:
        if max_runs_per_workflow is not None and (
            not isinstance(max_runs_per_workflow, int)
            or isinstance(max_runs_per_workflow, bool)
            or max_runs_per_workflow < 1
        ):
            raise memkv.InvalidArgument(
                "max_runs_per_workflow must be an integer >= 1 or None, "
                f"not {max_runs_per_workflow!r}"
            )
        self.memory = memory.internal  # its records are not among the user's memories
        adopt(memory, *HOLDINGS)  # records an older memkv kept among them
        self.max_runs_per_workflow = max_runs_per_workflow

    def save_run(self, run: WorkflowRun) -> None:
        """Upsert ``run``: the run, its indexes and its workflow's stats change in one
        transaction. Saving the same run id again never counts it twice; the success
        count follows its status both ways.

        Raises:
            memkv.InvalidArgument: ``run`` is not a `WorkflowRun`.
            memkv.InvalidContent: a field holds another type than it declares.
        """
        check_instance(run, WorkflowRun, "a run")
        with span("run_log.save", {"workflow_id": run.workflow_id, "run_id": run.id}):
            self.memory.transact(
                lambda tx: operations.save_run(tx, run, self.max_runs_per_workflow)
            )

    def list_runs(
        self, workflow_id: str, *, limit: int | None = 50, start_after: str | None = None
    ) -> tuple[list[WorkflowRun], str | None]:
        """Up to ``limit`` runs (``None``: all; 0: none, and no cursor), newest first
        (equal start times by run id, descending), after the position
        ``start_after``; the cursor of the next page, or ``None`` after the last.
        Paging yields every run exactly once.

        Raises:
            memkv.InvalidCursor: a cursor this log did not hand out.
            memkv.InvalidArgument: a bad limit.
        """
        # a span attribute cannot be None: -1 stands for "all"
        attributes = {"workflow_id": workflow_id, "limit": -1 if limit is None else limit}
        with span("run_log.list", attributes):
            return self.memory.snapshot(
                lambda view: operations.list_runs(view, workflow_id, limit, start_after)
            )

    def get_run(self, workflow_id: str, run_id: str) -> WorkflowRun | None:
        """The run, or ``None``; `memkv.CorruptRecord` if it cannot be read."""
        with span("run_log.get", {"workflow_id": workflow_id, "run_id": run_id}):
            return self.memory.snapshot(lambda view: operations.get_run(view, workflow_id, run_id))

    def get_stats(self, workflow_id: str) -> dict[str, int]:
        with span("run_log.stats", {"workflow_id": workflow_id}):
            return self.memory.snapshot(lambda view: operations.get_stats(view, workflow_id))

    def get_pending_runs(self) -> list[WorkflowRun]:
        with span("run_log.get_pending_runs"):
            return self.memory.snapshot(operations.get_pending_runs)

    def get_latest_run(self, workflow_id: str) -> WorkflowRun | None:
        with span("run_log.get_latest", {"workflow_id": workflow_id}):
            return self.memory.snapshot(lambda view: operations.get_latest_run(view, workflow_id))

    def close(self) -> None:
        """Close the underlying store."""
        self.memory.close()

    def __repr__(self) -> str:
        return f"MemoryRunLog({self.memory!r})"


def create_run_log(
    backend: str | None = None, *, max_runs_per_workflow: int | None = None
) -> MemoryRunLog:
    """A run log on the backend named by ``backend``, else ``RUN_LOG_BACKEND``, else
    ``"lmdb"``: ``"memory"`` (in-process, gone on exit) or ``"lmdb"`` at
    ``RUN_LOG_PATH`` (default: `default_path`).

    Raises:
        memkv.InvalidArgument: an unknown backend name (the message lists the valid ones).
    """
    name = backend or os.environ.get("RUN_LOG_BACKEND") or DEFAULT_BACKEND
    if name == "memory":
        memory = memkv.open(memkv.IN_MEMORY)
    elif name == "lmdb":
        memory = memkv.open(os.environ.get("RUN_LOG_PATH") or default_path())
    else:
        raise memkv.InvalidArgument(
            f"unknown run log backend {name!r}; valid backends: {', '.join(BACKENDS)}"
        )
    return MemoryRunLog(memory, max_runs_per_workflow=max_runs_per_workflow)


_service: MemoryRunLog | None = None


def get_run_log_service() -> MemoryRunLog:
    """The process's shared run log, created by `create_run_log` on first use
    (autopilot's convenience). Tests call `reset_run_log_service` to isolate themselves."""
    global _service  # noqa: PLW0603 - autopilot's singleton, with a reset
    if _service is None:
        _service = create_run_log()
    return _service


def reset_run_log_service() -> None:
    """Close and forget the shared run log; the next `get_run_log_service` makes a new one."""
    global _service  # noqa: PLW0603
    if _service is not None:
        _service.close()
    _service = None
