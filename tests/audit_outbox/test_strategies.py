"""`audit_outbox.strategies` draws records that audit_outbox's own API stores and gives back
unchanged."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

import memkv
from audit_outbox import EventBuffer, strategies


@settings(max_examples=60)
@given(strategies.audit_entries())
def test_audit_entries_round_trip(entry: Any) -> None:
    with memkv.open(memkv.IN_MEMORY) as memory:
        buffer = EventBuffer(memory)
        assert buffer.enqueue(entry).accepted
        assert [record.record for record in buffer.peek(1)] == [entry]
