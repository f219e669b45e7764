"""Hypothesis strategies for audit_outbox's records, for tests of code built on it
(see `memkv.testing.strategies` for keys, names and contents)."""

from __future__ import annotations

from hypothesis import strategies as st

from audit_outbox.types import AuditEntry, AuditEventType


def audit_entries() -> st.SearchStrategy[AuditEntry]:
    """`audit_outbox.AuditEntry` values."""
    return st.builds(
        AuditEntry,
        seq=st.integers(0, 2**62),
        timestamp=st.integers(0, 2**48),
        event_type=st.sampled_from(AuditEventType),
        agent_id=st.uuids(),
        session_id=st.uuids(),
        payload=st.text(max_size=200),
        hash=st.binary(min_size=32, max_size=32),
    )


__all__ = ["audit_entries"]
