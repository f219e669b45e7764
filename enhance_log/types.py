"""The records of the enhance log: frozen msgspec Structs with mlua_swarm's fields."""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from enhance_log.errors import InvalidEnhanceLogEntry

EnhanceStatus = Literal["applied", "rejected"]
STATUSES: Final = ("applied", "rejected")


class VerdictSummary(msgspec.Struct, frozen=True, kw_only=True):
    """The verdict of one verifier axis."""

    axis: str  # "des", "canonical", "noop", "agent-ref", ...
    status: str  # "pass" or "deny"
    detail: str  # the evidence (pass) or the reason (deny)


class EnhanceLogEntry(msgspec.Struct, frozen=True, kw_only=True):
    """The trace of one enhance invocation, applied or rejected. Immutable once
    appended.

    Lists given as ``list`` are kept as tuples, so that an entry equals itself read
    back.

    Raises:
        InvalidEnhanceLogEntry: an empty ``issue_id`` or ``blueprint_id``, or a
            ``status`` other than "applied" or "rejected".
    """

    issue_id: str
    blueprint_id: str
    prev_hash: str  # content hash of the blueprint before
    new_hash: str  # after, if applied; "" if rejected
    intent: str  # the natural-language intent that drove the patch
    rationale: str  # the committer's rationale for the verdict
    verdicts: tuple[VerdictSummary, ...]
    status: EnhanceStatus
    reasons: tuple[str, ...]  # for rejected: "axis: reason"
    ts_ms: int  # Unix epoch milliseconds, stamped by the caller

    def __post_init__(self) -> None:  # also runs on every decode: kept cheap
        if self.status not in STATUSES:
            raise InvalidEnhanceLogEntry(
                f"entry {self.issue_id!r}: status {self.status!r} is not 'applied' or 'rejected'"
            )
        if not self.issue_id or not self.blueprint_id:
            raise InvalidEnhanceLogEntry(
                f"entry {self.issue_id!r}: issue_id and blueprint_id must be non-empty"
            )
        if not isinstance(self.verdicts, tuple):  # a list given by the caller
            msgspec.structs.force_setattr(self, "verdicts", tuple(self.verdicts))
        if not isinstance(self.reasons, tuple):
            msgspec.structs.force_setattr(self, "reasons", tuple(self.reasons))


class EnhanceLogPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of a listing; ``next_cursor`` is ``None`` after the last page."""

    entries: list[EnhanceLogEntry]
    next_cursor: str | None
