"""The job_journal part of ``memkv demo``: a runtime's job journal, replayed."""

from __future__ import annotations

import memkv
from job_journal.journal import JobJournal
from job_journal.types import WalEvent, WalEventType

TITLE = "job_journal: crash-safe, sequence-numbered job events"


def run(memory: memkv.Memory) -> None:
    journal = JobJournal(memory)
    t = 1_763_884_800
    steps = [
        ("copy-1", WalEventType.JOB_SUBMITTED, {"capability": "FileRead"}),
        ("copy-1", WalEventType.JOB_VALIDATED, {}),
        ("copy-1", WalEventType.JOB_STARTED, {"telemetry_before": {"cpu": 0.12}}),
        ("shell-2", WalEventType.JOB_SUBMITTED, {"capability": "Shell"}),
        ("copy-1", WalEventType.JOB_COMPLETED, {"output": {"bytes": 4096}}),
        ("shell-2", WalEventType.JOB_FAILED, {"error": "exit status 2"}),
    ]
    for offset, (job_id, kind, extra) in enumerate(steps):
        seq = journal.append(WalEvent(ts=t + offset, type=kind, job_id=job_id, **extra))  # type: ignore[arg-type]
        print(f"   seq {seq}: {job_id} {kind}")
    print("   after a crash, replay() says:")
    for job_id, state in journal.replay().items():
        print(
            f"     {job_id}: {state.status} after {state.events} events"
            f" (capability {state.capability}, error {state.error})"
        )
    print(f"   events_for('copy-1'): {[str(e.type) for e in journal.events_for('copy-1')]}")
