"""The journal's operations as transaction and read functions: the sync journal and
its async twin both run these. A journal is its `SequenceLog` of `JournalRecord`s
plus one pointer per job (see `job_journal.keys`)."""

from __future__ import annotations

from typing import Final

import memkv
from job_journal.keys import LAST_CATEGORY, last_key
from job_journal.types import JobState, JournalRecord, WalEvent
from memkv.entry import check_instance

Log = memkv.SequenceLog[JournalRecord]
_JOB_ID_MAX: Final = 200  # bytes: the pointer key must fit memkv.MAX_KEY_BYTES


def check_job_id(job_id: object) -> str:
    """Raises memkv.InvalidArgument unless ``job_id`` is a non-empty str of at most
    200 UTF-8 bytes."""
    if not isinstance(job_id, str) or not job_id:
        raise memkv.InvalidArgument(f"job_id must be a non-empty str, not {job_id!r:.80}")
    if len(job_id.encode("utf-8", errors="replace")) > _JOB_ID_MAX:
        raise memkv.InvalidArgument(f"job_id {job_id!r:.80} is longer than {_JOB_ID_MAX} bytes")
    return job_id


def append(
    tx: memkv.Transaction, log: Log, journal: str, event: WalEvent, max_events: int | None
) -> int:
    """Append ``event`` under the next number (its ``seq`` is set to it), chained to
    its job's previous event, and keep at most ``max_events`` (the newest).

    Raises:
        memkv.InvalidArgument: ``event`` is not a `WalEvent`, or a bad job id.
        memkv.InvalidContent: a field of ``event`` holds another type than it declares.
    """
    check_instance(event, WalEvent, "a journal event")
    check_job_id(event.job_id)
    pointer = last_key(journal, event.job_id)
    found = tx.get(pointer, type=int)
    prev = None if found is None else found.content
    seq = log.append_numbered_in(
        tx, lambda seq: JournalRecord(event=event.evolve(seq=seq), prev=prev)
    )
    tx.store(pointer, seq, LAST_CATEGORY)
    if max_events is not None:
        excess = log.length_of(tx) - max_events
        if excess > 0:
            first = log.first_seq_of(tx) or 0
            log.trim_through_in(tx, first + excess - 1, excess, forget_pointer(journal))
    return seq


def forget_pointer(journal: str) -> memkv.seqlog.OnRemove[JournalRecord]:
    """For trims: drop a job's pointer when its latest event goes."""

    def on_remove(tx: memkv.Transaction, removed: memkv.SeqRecord[JournalRecord]) -> None:
        pointer = last_key(journal, removed.record.event.job_id)
        found = tx.get(pointer, type=int)
        if found is not None and found.content == removed.seq:
            tx.forget(pointer)

    return on_remove


def events_for(view: memkv.Reader, log: Log, journal: str, job_id: str) -> list[WalEvent]:
    """A job's events, oldest first, following its chain back from the pointer."""
    found = view.get(last_key(journal, check_job_id(job_id)), type=int)
    seq = None if found is None else found.content
    first = log.first_seq_of(view)
    chain: list[WalEvent] = []
    while seq is not None and first is not None and seq >= first:
        stored = view.get(log.key(seq), type=JournalRecord)
        if stored is None:  # trims remove prefixes: a number above the first is kept
            raise memkv.CorruptRecord(
                f"journal {journal!r}: job {job_id!r} links to event {seq}, which is absent",
                key=log.key(seq),
            )
        chain.append(stored.content.event)
        seq = stored.content.prev
    return chain[::-1]


def replay(view: memkv.Reader, log: Log) -> dict[str, JobState]:
    """Fold the journal, oldest first, into each job's last known state."""
    states: dict[str, JobState] = {}
    for record in log.read_values_of(view):
        event = record.event
        before = states.get(event.job_id)
        if before is None:
            before = JobState(
                job_id=event.job_id, status=event.type, last_seq=0, ts=event.ts, events=0
            )
        states[event.job_id] = JobState(
            job_id=event.job_id,
            status=event.type,
            last_seq=event.seq or 0,
            ts=event.ts,
            events=before.events + 1,
            capability=event.capability or before.capability,
            output=before.output if event.output is None else event.output,
            error=event.error or before.error,
        )
    return states
