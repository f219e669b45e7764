"""`job_journal.strategies` draws records that job_journal's own API stores and gives back
unchanged."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

import memkv
from job_journal import JobJournal, strategies


@settings(max_examples=60)
@given(strategies.wal_events())
def test_wal_events_round_trip(event: Any) -> None:
    with memkv.open(memkv.IN_MEMORY) as memory:
        journal = JobJournal(memory)
        seq = journal.append(event)
        assert journal.events() == [event.evolve(seq=seq)]
