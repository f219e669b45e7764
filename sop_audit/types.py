"""The SOP audit records: enums and frozen msgspec Structs with revka's fields.

Times are ISO 8601 strings in UTC, as revka keeps them ("2026-02-19T12:00:00Z").
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Final

import msgspec

import memkv
from memkv.entry import coerce_member


class SopTriggerSource(enum.StrEnum):
    MQTT = "mqtt"
    WEBHOOK = "webhook"
    CRON = "cron"
    PERIPHERAL = "peripheral"
    MANUAL = "manual"


class SopRunStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    PAUSED_CHECKPOINT = "paused_checkpoint"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL

    @property
    def is_interrupted_by_restart(self) -> bool:
        """In flight and not resumable: `mark_stale_runs` fails these."""
        return self in INTERRUPTED_BY_RESTART


TERMINAL: Final = frozenset({SopRunStatus.COMPLETED, SopRunStatus.FAILED, SopRunStatus.CANCELLED})
# PausedCheckpoint is left for checkpoint-resume (revka's deliberate divergence).
INTERRUPTED_BY_RESTART: Final = (
    SopRunStatus.PENDING,
    SopRunStatus.RUNNING,
    SopRunStatus.WAITING_APPROVAL,
)


class SopStepStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"


class SopEvent(msgspec.Struct, frozen=True, kw_only=True):
    """What triggered a run."""

    source: SopTriggerSource
    topic: str | None = None
    payload: str | None = None
    timestamp: str

    def __post_init__(self) -> None:
        coerce_member(self, "source", SopTriggerSource)


class SopStepResult(msgspec.Struct, frozen=True, kw_only=True):
    step_number: int
    status: SopStepStatus
    output: str
    started_at: str
    completed_at: str | None = None

    def __post_init__(self) -> None:
        coerce_member(self, "status", SopStepStatus)
        if self.step_number < 0:
            raise memkv.InvalidArgument(f"step_number must be >= 0, not {self.step_number}")


class SopRun(msgspec.Struct, frozen=True, kw_only=True):
    """One execution of an SOP. Frozen: derive changed runs with `evolve`."""

    run_id: str
    sop_name: str
    trigger_event: SopEvent
    status: SopRunStatus
    current_step: int
    total_steps: int
    started_at: str
    completed_at: str | None = None
    step_results: tuple[SopStepResult, ...] = ()
    waiting_since: str | None = None
    llm_calls_saved: int = 0

    def __post_init__(self) -> None:
        coerce_member(self, "status", SopRunStatus)
        if not self.run_id or not self.sop_name:
            raise memkv.InvalidArgument(
                f"run {self.run_id!r}: run_id and sop_name must be non-empty"
            )
        if not isinstance(self.step_results, tuple):  # a list given by the caller
            msgspec.structs.force_setattr(self, "step_results", tuple(self.step_results))

    def evolve(self, **changes: object) -> SopRun:
        """A copy with ``changes`` applied (the run itself is immutable)."""
        return msgspec.structs.replace(self, **changes)


class SopAuditEventKind(enum.StrEnum):
    RUN_STARTED = "run_started"
    RUN_UPDATED = "run_updated"  # log_run_start of a run already logged, in a new state
    STEP_RESULT = "step_result"
    APPROVED = "approved"
    TIMEOUT_AUTO_APPROVED = "timeout_auto_approved"
    TIMEOUT_HELD = "timeout_held"
    RUN_COMPLETED = "run_completed"
    MARKED_STALE = "marked_stale"


class SopAuditEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of a run's timeline: what was logged, in the order it was logged.

    ``run`` is the run as logged (starts, completions, approvals and timeout
    decisions carry it, as revka stores it); ``step`` the step result."""

    seq: int
    kind: SopAuditEventKind
    run_id: str
    recorded_at: str
    step_number: int | None = None
    run: SopRun | None = None
    step: SopStepResult | None = None


class SopRunPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of runs; ``next_cursor`` is ``None`` after the last page."""

    runs: list[SopRun]
    next_cursor: str | None


class StaleSweepReport(msgspec.Struct, frozen=True, kw_only=True):
    """What `SopAuditLogger.sweep_stale_runs` did: the runs it failed, and the run
    ids whose records could not be read (left alone, reported every sweep)."""

    marked: list[str]
    corrupt: list[str]


def now_iso8601() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
