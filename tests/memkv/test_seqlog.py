"""The sequence log primitive, on every backend."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import memkv
from memkv.seqlog import TRIM_BATCH


class Note(msgspec.Struct, frozen=True):
    text: str


def test_numbers_from_zero_without_gaps(memory: memkv.Memory) -> None:
    log: memkv.SequenceLog[object] = memkv.SequenceLog(memory, "jobs")
    assert (log.first_seq(), log.last_seq(), len(log), log.next_seq()) == (None, None, 0, 0)
    assert [log.append(i) for i in range(5)] == [0, 1, 2, 3, 4]
    assert log.extend(["a", "b"]) == [5, 6]
    assert (log.first_seq(), log.last_seq(), len(log), log.next_seq()) == (0, 6, 7, 7)
    assert [r.record for r in log.read()] == [0, 1, 2, 3, 4, "a", "b"]
    assert [r.seq for r in log.read(since=3, limit=2)] == [3, 4]
    assert [r.seq for r in log.tail(3)] == [4, 5, 6]
    assert log.tail(0) == []
    assert [r.seq for r in log.tail(100)] == list(range(7))


def test_typed_records(memory: memkv.Memory) -> None:
    log: memkv.SequenceLog[Note] = memkv.SequenceLog(memory, "notes", Note)
    log.append(Note("hello"))
    [record] = log.read()
    assert record.record == Note("hello")
    assert record.appended_at.tzinfo is UTC


def test_trims_never_give_a_number_again(memory: memkv.Memory) -> None:
    log: memkv.SequenceLog[object] = memkv.SequenceLog(memory, "jobs")
    for i in range(10):
        log.append(i)
    assert log.trim_through(3) == 4
    assert (log.first_seq(), len(log)) == (4, 6)
    assert log.trim_through(3) == 0
    assert log.trim_through(100) == 6
    assert (log.first_seq(), log.last_seq(), len(log)) == (None, None, 0)
    assert log.append("next") == 10  # not 0: trimmed numbers are gone for good
    assert memory.verify() == []


def test_trim_by_age_and_by_predicate(memory: memkv.Memory) -> None:
    log: memkv.SequenceLog[int] = memkv.SequenceLog(memory, "jobs")
    for i in range(6):
        log.append(i)
    assert log.trim_older_than(datetime.now(UTC) - timedelta(hours=1)) == 0
    assert log.trim_while(lambda r: r.record < 2 or r.record == 5) == 2  # a prefix only
    assert [r.record for r in log.read()] == [2, 3, 4, 5]
    assert log.trim_older_than(datetime.now(UTC) + timedelta(seconds=1)) == 4


def test_big_trims_go_in_batches(memory: memkv.Memory) -> None:
    log: memkv.SequenceLog[int] = memkv.SequenceLog(memory, "big")
    log.extend(range(TRIM_BATCH * 2 + 10))
    assert log.trim_through(TRIM_BATCH * 2 + 4) == TRIM_BATCH * 2 + 5
    assert log.first_seq() == TRIM_BATCH * 2 + 5


def test_logs_are_separate(memory: memkv.Memory) -> None:
    a: memkv.SequenceLog[str] = memkv.SequenceLog(memory, "a")
    a_1: memkv.SequenceLog[str] = memkv.SequenceLog(memory, "a_1")
    a.append("x")
    a_1.append("y")
    a_1.append("z")
    assert [r.record for r in a.read()] == ["x"]
    assert len(a_1) == 2
    a.trim_through(0)
    assert a_1.first_seq() == 0


def test_an_append_inside_a_failed_transaction_takes_no_number(memory: memkv.Memory) -> None:
    log: memkv.SequenceLog[str] = memkv.SequenceLog(memory, "jobs")
    log.append("first")

    def failing(tx: memkv.Transaction) -> None:
        log.append_in(tx, "lost")
        raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        memory.transact(failing)
    assert log.append("second") == 1


def test_bad_arguments(memory: memkv.Memory) -> None:
    with pytest.raises(memkv.InvalidArgument, match="too long"):
        memkv.SequenceLog(memory, "n" * 60)
    log: memkv.SequenceLog[int] = memkv.SequenceLog(memory, "jobs")
    for bad in (
        lambda: log.tail(-1),
        lambda: log.read(limit=-1),
        lambda: log.read(since="3"),  # type: ignore[arg-type]
        lambda: log.trim_through(1.5),  # type: ignore[arg-type]
        lambda: log.trim_older_than(datetime(2030, 1, 1)),  # naive: was a TypeError
        lambda: log.trim_older_than("2030-01-01"),  # type: ignore[arg-type]
    ):
        with pytest.raises(memkv.InvalidArgument):
            bad()


def test_a_record_that_would_not_read_back_is_refused(memory: memkv.Memory) -> None:
    """It used to be stored, and then every read of the log failed as corrupt."""
    log: memkv.SequenceLog[Note] = memkv.SequenceLog(memory, "notes", Note)
    log.append(Note("fine"))
    with pytest.raises(memkv.InvalidContent, match=r"notes.*Expected `str`, got `int`"):
        log.append(Note(42))  # type: ignore[arg-type]
    with pytest.raises(memkv.InvalidContent, match="notes"):
        log.extend([Note("kept?"), Note(b"bytes")])  # type: ignore[arg-type]
    assert [r.record for r in log.read()] == [Note("fine")]
    assert log.next_seq() == 1


def test_an_async_trim_predicate_is_refused_before_anything_goes(memory: memkv.Memory) -> None:
    """Its coroutine would count as true: every record would have been trimmed."""
    log: memkv.SequenceLog[int] = memkv.SequenceLog(memory, "jobs")
    log.extend(range(5))

    async def older(record: memkv.SeqRecord[int]) -> bool:
        return record.record < 2

    async def note(tx: memkv.Transaction, record: memkv.SeqRecord[int]) -> None:
        tx.store(f"removed/{record.seq}", record.record)

    with pytest.raises(memkv.InvalidArgument, match="async def"):
        log.trim_while(older)  # type: ignore[arg-type]
    with pytest.raises(memkv.InvalidArgument, match="async def"):
        log.trim_through(3, on_remove=note)  # type: ignore[arg-type]
    with pytest.raises(memkv.InvalidArgument, match="async def"):
        memory.transact(lambda tx: log.trim_through_in(tx, 3, on_remove=note))  # type: ignore[arg-type]
    assert [r.record for r in log.read()] == [0, 1, 2, 3, 4]


class SequenceLogMachine(RuleBasedStateMachine):
    """Random appends, trims and reopens: numbers stay strictly increasing and
    gap-free, and ``tail(n)`` is the last n of a full read."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="seqlog-"))
        self.open()
        self.kept: list[tuple[int, int]] = []  # (seq, record) kept, in order
        self.next = 0

    def open(self) -> None:
        self.memory = memkv.open(self.directory / "store")
        self.log: memkv.SequenceLog[int] = memkv.SequenceLog(self.memory, "jobs")

    def teardown(self) -> None:
        self.memory.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    @rule(values=st.lists(st.integers(0, 99), min_size=1, max_size=4))
    def append(self, values: list[int]) -> None:
        seqs = self.log.extend(values) if len(values) > 1 else [self.log.append(values[0])]
        assert seqs == list(range(self.next, self.next + len(values)))
        self.kept += list(zip(seqs, values, strict=True))
        self.next += len(values)

    @rule(through=st.integers(-1, 40))
    def trim(self, through: int) -> None:
        removed = self.log.trim_through(through)
        assert removed == sum(1 for seq, _ in self.kept if seq <= through)
        self.kept = [(seq, value) for seq, value in self.kept if seq > through]

    @rule()
    def reopen(self) -> None:
        self.memory.close()
        self.open()

    @rule(n=st.integers(0, 10))
    def tail(self, n: int) -> None:
        full = self.log.read()
        assert self.log.tail(n) == (full[-n:] if n else [])

    @invariant()
    def numbers_agree(self) -> None:
        records = self.log.read()
        assert [(r.seq, r.record) for r in records] == self.kept
        assert self.log.next_seq() == self.next
        assert len(self.log) == len(self.kept)
        assert self.log.first_seq() == (self.kept[0][0] if self.kept else None)


TestSequenceLogMachine = SequenceLogMachine.TestCase
TestSequenceLogMachine.settings = settings(max_examples=60, stateful_step_count=30)
