"""Child processes for the enhance_log tests: ``python workers.py COMMAND PATH ...``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import memkv
from enhance_log import EnhanceLogConflict, MemoryEnhanceLogStore
from tests.enhance_log.conftest import mk_entry


def say(*parts: object) -> None:
    print(*parts, flush=True)


def race(path: str, name: str, count: str) -> None:
    """Append issue ids 0..count-1 (rationale: our name) once stdin says go; print
    ``won`` or ``lost`` per id."""
    with memkv.open(path) as mem:
        log = MemoryEnhanceLogStore(mem)
        say("ready")
        sys.stdin.readline()
        for i in range(int(count)):
            try:
                log.append(mk_entry(f"issue-{i:03d}", f"bp-{i % 7}", ts=i, rationale=name))
                say(f"won\tissue-{i:03d}")
            except EnhanceLogConflict:
                say(f"lost\tissue-{i:03d}")


def append_forever(path: str, cycle: str) -> None:
    """Append until killed; print each issue id once its append has returned."""
    with memkv.open(path) as mem:
        log = MemoryEnhanceLogStore(mem)
        say("ready")
        n = 0
        while True:
            issue = f"{cycle}-{n:06d}"
            log.append(mk_entry(issue, f"bp-{n % 5}", ts=n % 13, rationale=cycle))
            say(issue)
            n += 1


COMMANDS: dict[str, Callable[..., None]] = {"race": race, "append-forever": append_forever}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
