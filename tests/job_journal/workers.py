"""Child processes for the job_journal tests: ``python workers.py COMMAND PATH ...``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import memkv
from job_journal import JobJournal, WalEvent, WalEventType


def say(*parts: object) -> None:
    print(*parts, sep="\t", flush=True)


def append_forever(path: str, writer: str) -> None:
    """Append until killed (or ``count`` times); print each seq once append returned."""
    append_some(path, writer, "-1")


def append_some(path: str, writer: str, count: str) -> None:
    with memkv.open(path) as mem:
        journal = JobJournal(mem)
        say("ready")
        n = 0
        while n != int(count):
            seq = journal.append(
                WalEvent(
                    ts=n,
                    type=WalEventType.JOB_STARTED,
                    job_id=f"{writer}-{n % 5}",
                    output={"writer": writer, "n": n},
                )
            )
            say(seq, writer, n)
            n += 1


COMMANDS: dict[str, Callable[..., None]] = {
    "append-forever": append_forever,
    "append-some": append_some,
}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
