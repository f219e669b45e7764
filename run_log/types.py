"""The run log's records: `RunStatus`, `WorkflowRun`, and what lists return."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import msgspec

import memkv
from memkv.entry import coerce_member


class RunStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"
    PAUSED = "paused"  # waiting for a human

    @property
    def is_finished(self) -> bool:
        return self in (RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.SKIPPED)


class WorkflowRun(msgspec.Struct, frozen=True, kw_only=True):
    """One run of a workflow, saved when it starts and again when it ends.

    ``started_at`` and ``finished_at`` are timezone-aware datetimes.

    Raises:
        memkv.InvalidArgument: an empty id or workflow_id, or a naive datetime.
    """

    id: str
    workflow_id: str
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
    metadata: dict[str, Any] = {}

    def __post_init__(self) -> None:
        coerce_member(self, "status", RunStatus)  # "success" given as a plain str
        if not self.id or not self.workflow_id:
            raise memkv.InvalidArgument(
                f"run {self.id!r} of workflow {self.workflow_id!r}: ids must be non-empty"
            )
        for name in ("started_at", "finished_at"):  # cheap: this runs on every decode
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise memkv.InvalidArgument(
                    f"run {self.id!r}: {name} must be timezone-aware, not {moment!r}"
                )

    def evolve(self, **changes: object) -> WorkflowRun:
        """A copy with ``changes`` applied (a run is immutable)."""
        return msgspec.structs.replace(self, **changes)


class WorkflowStats(msgspec.Struct, frozen=True, kw_only=True):
    """A workflow's lifetime counts (kept when old runs are evicted), and how many
    runs are stored now."""

    total: int = 0
    successful: int = 0
    stored: int = 0
