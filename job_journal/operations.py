"""The journal's operations as transaction and read functions on a `SequenceLog` of
`WalEvent`s: the sync journal and its async twin both run these."""

from __future__ import annotations

import memkv
from job_journal.types import JobState, WalEvent
from memkv.keys import MAX_NAME_BYTES


def check_job_id(job_id: object) -> str:
    """A job id files the job's events in a group (like a session id), so it is at
    most `memkv.MAX_NAME_BYTES` UTF-8 bytes without NUL."""
    try:
        return memkv.keys.check_name(job_id, "job_id")
    except memkv.InvalidArgument as exc:
        raise memkv.InvalidArgument(
            f"job_id {job_id!r:.80} cannot file a job's events: at most {MAX_NAME_BYTES} "
            f"UTF-8 bytes, without NUL ({exc})"
        ) from exc


def append(
    tx: memkv.Transaction, log: memkv.SequenceLog[WalEvent], event: WalEvent, max_events: int | None
) -> int:
    """Append ``event`` under the next number (its ``seq`` is set to it), and keep at
    most ``max_events`` (the newest); return the number."""
    check_job_id(event.job_id)
    stored = log.append_numbered_in(tx, lambda seq: event.evolve(seq=seq), event.job_id)
    if max_events is not None:
        excess = log.length_of(tx) - max_events
        if excess > 0:
            first = log.first_seq_of(tx) or 0
            log.trim_through_in(tx, first + excess - 1, limit=excess)
    return stored


def replay(view: memkv.Reader, log: memkv.SequenceLog[WalEvent]) -> dict[str, JobState]:
    """Fold the journal, oldest first, into each job's last known state."""
    states: dict[str, JobState] = {}
    for record in log.read_of(view):
        event = record.record
        before = states.get(event.job_id)
        if before is None:
            before = JobState(
                job_id=event.job_id, status=event.type, last_seq=record.seq, ts=event.ts, events=0
            )
        states[event.job_id] = JobState(
            job_id=event.job_id,
            status=event.type,
            last_seq=record.seq,
            ts=event.ts,
            events=before.events + 1,
            capability=event.capability or before.capability,
            output=before.output if event.output is None else event.output,
            error=event.error or before.error,
        )
    return states
