"""The audit records: `AuditEntry` and `AuditEventType` with aa-runtime's fields."""

from __future__ import annotations

import enum
import uuid
from typing import Final

import msgspec

import memkv
from memkv.entry import coerce_member

HASH_SIZE: Final = 32
ZERO_HASH: Final = bytes(HASH_SIZE)  # the hash before the first entry of a chain


class AuditEventType(enum.StrEnum):
    TOOL_CALL_INTERCEPTED = "tool_call_intercepted"
    TOOL_CALL_ALLOWED = "tool_call_allowed"
    TOOL_CALL_DENIED = "tool_call_denied"
    POLICY_VIOLATION = "policy_violation"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_GRANTED = "approval_granted"
    AGENT_STARTED = "agent_started"
    AGENT_STOPPED = "agent_stopped"


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One audit event. ``seq`` is the caller's and is kept; ``timestamp`` is Unix
    milliseconds; ``payload`` is JSON text; ``hash`` (32 bytes) chains the entry to
    the previous one (see `audit_outbox.chain`), zero until stamped.

    Raises:
        memkv.InvalidArgument: an unknown event type, a negative seq or timestamp,
            or a hash that is not 32 bytes.
    """

    seq: int
    timestamp: int
    event_type: AuditEventType
    agent_id: uuid.UUID
    session_id: uuid.UUID
    payload: str
    hash: bytes = ZERO_HASH

    def __post_init__(self) -> None:
        coerce_member(self, "event_type", AuditEventType)
        if self.seq < 0 or self.timestamp < 0:
            raise memkv.InvalidArgument(f"audit entry {self.seq}: seq and timestamp must be >= 0")
        if len(self.hash) != HASH_SIZE:
            raise memkv.InvalidArgument(
                f"audit entry {self.seq}: hash must be {HASH_SIZE} bytes, not {len(self.hash)}"
            )

    @property
    def identity(self) -> str:
        """Agent, session and seq: what de-duplicates a re-send (``Nats-Msg-Id``)."""
        return f"{self.agent_id}:{self.session_id}:{self.seq}"

    def evolve(self, **changes: object) -> AuditEntry:
        return msgspec.structs.replace(self, **changes)
