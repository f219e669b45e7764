"""The domain packages keep their records in the store's internal key space: an
agent that counts, lists or groups its memories sees only what it stored itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import audit_outbox.demo
import enhance_log.demo
import job_journal.demo
import memkv
import memkv.entry
import memkv.legacy
import run_log.demo
import sop_audit.demo
import sop_audit.keys
from audit_outbox.buffer import EventBuffer
from enhance_log.store import MemoryEnhanceLogStore
from job_journal.journal import JobJournal
from run_log.log import MemoryRunLog
from sop_audit.logger import SopAuditLogger

DEMOS: dict[str, Callable[[memkv.Memory], None]] = {
    "sop_audit": sop_audit.demo.run,
    "enhance_log": enhance_log.demo.run,
    "run_log": run_log.demo.run,
    "job_journal": job_journal.demo.run,
    "audit_outbox": audit_outbox.demo.run,
}


def _users_view(memory: memkv.Memory) -> tuple[object, ...]:
    return (
        memory.count(),
        memory.categories(),
        memory.sessions(),
        memory.keys(),
        memory.list(memkv.CONVERSATION, "s-1"),
    )


@pytest.mark.parametrize("package", sorted(DEMOS))
def test_a_domain_package_leaves_the_users_memories_as_they_were(
    memory: memkv.Memory, package: str, capsys: pytest.CaptureFixture[str]
) -> None:
    memory.store("user/name", "Ada")
    memory.store("turn/1", "hello", memkv.CONVERSATION, "s-1")
    before = _users_view(memory)
    DEMOS[package](memory)
    capsys.readouterr()  # the demo's narration
    assert _users_view(memory) == before
    assert memory.count() == 2
    internal = memory.internal
    assert internal.count() > 0
    assert all(category not in memory.categories() for category in internal.categories())
    assert memory.verify() == []


def test_a_sequence_log_is_internal_even_when_appended_in_a_users_transaction(
    memory: memkv.Memory,
) -> None:
    log: memkv.SequenceLog[str] = memkv.SequenceLog(memory, "jobs", str)

    def both(tx: memkv.Transaction) -> int:
        tx.store("note", "user's")
        return log.append_in(tx, "event")

    assert memory.transact(both) == 0
    assert memory.categories() == {memkv.CORE: 1}
    assert memory.count() == 1
    assert memory.snapshot(log.length_of) == 1
    assert memory.snapshot(log.read_of)[0].record == "event"
    assert log.trim_through(0) == 1
    assert memory.categories() == {memkv.CORE: 1}
    assert memory.internal.categories() == {"seqlog.floor": 1}


def _as_an_older_memkv_wrote_it(memory: memkv.Memory) -> None:
    """Run each domain demo, then move every internal record into the user's space
    (the layout of memkv before the internal key space)."""
    for run in DEMOS.values():
        run(memory)
    internal = memory.internal

    def move_back(tx: memkv.Transaction) -> None:
        for entry in tx.internal.list():
            tx.internal.forget(entry.key)
            tx._write(entry.key.encode(), entry, memkv.entry.encode_entry(entry), None)

    memory.transact(move_back)
    assert internal.count() == 0


def test_records_an_older_memkv_kept_among_the_users_are_adopted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with memkv.open(tmp_path / "old") as old:
        _as_an_older_memkv_wrote_it(old)
        written = [(e.id, e.key, e.content, e.timestamp) for e in old.list()]
        old.store("user/name", "Ada")
    capsys.readouterr()
    with memkv.open(tmp_path / "old") as memory:
        journal = JobJournal(memory)  # its log and pointers move now
        assert memory.internal.count() > 0
        SopAuditLogger(memory), MemoryEnhanceLogStore(memory), MemoryRunLog(memory)
        EventBuffer(memory)
        assert memory.keys() == ["user/name"]
        adopted = [(e.id, e.key, e.content, e.timestamp) for e in memory.internal.list()]
        assert adopted == written  # ids and timestamps kept
        assert journal.replay()  # the journal reads its events again
        assert memory.verify() == []
        assert memkv.legacy.adopt(memory, *sop_audit.keys.HOLDINGS) == 0  # done once
