"""Random appends, reopens, cleanups and rotations on both backends: seqs strictly
increasing and gap-free, tail(n) the last n of a full read, replay as the model says."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import memkv
from job_journal import JobJournal, WalEvent, WalEventType
from tests.job_journal.conftest import event

EVENTS = st.builds(
    event,
    st.sampled_from(["j1", "j2", "j_1", "j1\x01"]),
    ts=st.integers(0, 50),
    type=st.sampled_from(list(WalEventType)),
    capability=st.none() | st.sampled_from(["FileRead", "Shell"]),
    error=st.none() | st.just("boom"),
)


class JournalMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="journal-"))
        self.journals = [
            JobJournal(memkv.open(self.directory / "store")),
            JobJournal(memkv.open(":memory:")),
        ]
        self.kept: list[WalEvent] = []  # the model: events kept, with their seqs
        self.next = 0
        self.clock = 100

    def teardown(self) -> None:
        for journal in self.journals:
            journal.memory.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    @rule(new=EVENTS)
    def append(self, new: WalEvent) -> None:
        new = new.evolve(ts=self.clock)  # a live journal's times only go forward
        self.clock += 1 + new.ts % 3
        for journal in self.journals:
            assert journal.append(new) == self.next
        self.kept.append(new.evolve(seq=self.next))
        self.next += 1

    @rule(max_age=st.integers(0, 30))
    def cleanup(self, max_age: int) -> None:
        cutoff = self.clock - max_age
        expected = 0
        while expected < len(self.kept) and self.kept[expected].ts < cutoff:
            expected += 1
        for journal in self.journals:
            assert journal.cleanup(max_age, now=self.clock) == expected
        self.kept = self.kept[expected:]

    @rule(keep=st.integers(0, 8))
    def rotate(self, keep: int) -> None:
        removed = max(0, len(self.kept) - keep)
        for journal in self.journals:
            assert journal.rotate(keep) == removed
        self.kept = self.kept[removed:]

    @rule()
    def reopen(self) -> None:
        self.journals[0].memory.close()
        self.journals[0] = JobJournal(memkv.open(self.directory / "store"))

    @rule(n=st.integers(0, 12))
    def tail(self, n: int) -> None:
        for journal in self.journals:
            full = journal.events()
            assert journal.tail(n) == (full[-n:] if n else [])

    @invariant()
    def agrees_with_the_model(self) -> None:
        for journal in self.journals:
            events = journal.events()
            assert events == self.kept
            seqs = [e.seq for e in events]
            assert seqs == list(range(self.next - len(seqs), self.next))  # increasing, no gap
            assert journal.seq() == self.next
            states = journal.replay()
            for job_id in {e.job_id for e in self.kept}:
                mine = [e for e in self.kept if e.job_id == job_id]
                state = states[job_id]
                assert (state.status, state.last_seq, state.events) == (
                    mine[-1].type,
                    mine[-1].seq,
                    len(mine),
                )
                assert state.capability == next(
                    (e.capability for e in reversed(mine) if e.capability), None
                )
                assert state.error == next((e.error for e in reversed(mine) if e.error), None)
                assert journal.events_for(job_id) == mine
            assert set(states) == {e.job_id for e in self.kept}


TestJournalMachine = JournalMachine.TestCase
TestJournalMachine.settings = settings(max_examples=60, stateful_step_count=30)
