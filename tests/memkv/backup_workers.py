"""Child processes of the backup and compaction tests: ``python backup_workers.py
COMMAND PATH ...`` (run as `tests.memkv.workers`' are: `tests.memkv.helpers`)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import memkv
from tests.memkv.workers import say

PROBE = "probe"  # the key `reopen` stores and forgets in turn


def reopen(path: str, entries: str, seconds: str) -> None:
    """For ``seconds``, open the store, check that it holds ``entries`` entries
    besides `PROBE`, store or forget `PROBE` (in turn, so that the last commit's id
    changes parity), close; print ``ok N`` (N rounds) at the end, or the first
    ``wrong ...`` found (and exit 1)."""
    deadline = time.monotonic() + float(seconds)
    rounds = 0
    while time.monotonic() < deadline:
        with memkv.open(path) as mem:
            probe = mem.get(PROBE) is not None
            found = mem.count() - probe
            if found != int(entries) or mem.get("k000001") is None:
                say("wrong", rounds, found)
                sys.exit(1)
            if probe:
                mem.forget(PROBE)
            else:
                mem.store(PROBE, rounds)
        rounds += 1
    say("ok", rounds)


COMMANDS: dict[str, Callable[..., None]] = {"reopen": reopen}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
