"""The journal's records: `WalEvent` and `WalEventType` with runtimo's fields."""

from __future__ import annotations

import enum
from typing import Any

import msgspec

import memkv
from memkv.entry import coerce_member


class WalEventType(enum.StrEnum):
    """A job's lifecycle stages (``"type"`` in runtimo's JSONL, in snake_case)."""

    JOB_SUBMITTED = "job_submitted"
    JOB_VALIDATED = "job_validated"
    JOB_STARTED = "job_started"
    JOB_COMPLETED = "job_completed"
    JOB_FAILED = "job_failed"
    JOB_ROLLED_BACK = "job_rolled_back"


class WalEvent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One journal event. Unset optional fields are omitted when encoded, as runtimo
    omits them. ``seq`` is assigned by the journal when the event is appended.

    Telemetry and process summaries are free-form JSON objects (runtimo's
    ``Telemetry`` and ``ProcessSummary``).

    Raises:
        memkv.InvalidArgument: an unknown type, an empty job id, or a negative ts.
    """

    seq: int | None = None
    ts: int  # Unix seconds
    type: WalEventType
    job_id: str
    capability: str | None = None
    output: Any = None
    error: str | None = None
    telemetry_before: dict[str, Any] | None = None
    telemetry_after: dict[str, Any] | None = None
    process_before: dict[str, Any] | None = None
    process_after: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        coerce_member(self, "type", WalEventType)
        if not self.job_id:
            raise memkv.InvalidArgument("a WalEvent needs a non-empty job_id")
        if self.ts < 0:
            raise memkv.InvalidArgument(f"event of job {self.job_id!r}: ts {self.ts} is negative")

    def evolve(self, **changes: object) -> WalEvent:
        return msgspec.structs.replace(self, **changes)


class JournalRecord(msgspec.Struct, frozen=True, array_like=True):
    """What the journal stores per event: the event, and the seq of the same job's
    previous event (``None`` for its first), which chains a job's events together."""

    event: WalEvent
    prev: int | None


class JobState(msgspec.Struct, frozen=True, kw_only=True):
    """The last known state of a job, from replaying its events in order: ``status``
    is the type of its last event; ``capability``, ``output`` and ``error`` are the
    last ones any of its events carried."""

    job_id: str
    status: WalEventType
    last_seq: int
    ts: int
    events: int
    capability: str | None = None
    output: Any = None
    error: str | None = None


class BadLine(msgspec.Struct, frozen=True, kw_only=True):
    number: int  # 1-based line number in the file
    reason: str


class ImportReport(msgspec.Struct, frozen=True, kw_only=True):
    """What `JobJournal.import_jsonl` did: how many events it imported (with the
    numbers the journal gave them), each line it could not read, and whether the last
    line was cut short (a crash while the old writer was writing it)."""

    imported: int
    first_seq: int | None
    bad_lines: list[BadLine]
    truncated_last_line: bool
