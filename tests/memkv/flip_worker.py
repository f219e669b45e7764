"""Reads of a store with a flipped byte, for `tests.memkv.test_byte_flips`: ``python
flip_worker.py STORE EXPECTED`` opens the store, reads every entry of EXPECTED (a
msgpack list of the entries stored) with ``get``, then lists the store and each
category, then verifies it. After each phase it prints one JSON line of what it saw
so far, so that a crash of LMDB itself (a signal) still leaves the earlier counts:

* ``altered``: an entry returned, without an error, that differs from the one stored;
* ``missing``: ``get`` answered ``None`` for a stored key; ``list_wrong``: a list
  returned, without an error, other keys than stored (none altered);
* ``typed``: the reads that raised a `memkv.MemkvError` (the damage reported);
* ``untyped``: any other exception, as ``Type: message`` (never acceptable);
* ``problems``: what ``verify`` reported.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import memkv

Entries = list[memkv.MemoryEntry[Any]]
FAILED = object()  # what `Seen.attempt` returns for a read that raised


class Seen:
    """What the reads returned, by kind (see the module docstring)."""

    def __init__(self) -> None:
        self.counts = {"altered": 0, "missing": 0, "list_wrong": 0, "typed": 0, "problems": 0}
        self.untyped: list[str] = []
        self.phase = "open"

    def attempt(self, read: Callable[[], Any]) -> Any:
        """``read()``, or `FAILED` if it raised (counted as typed or untyped)."""
        try:
            return read()
        except memkv.MemkvError:
            self.counts["typed"] += 1
        except Exception as exc:  # the campaign looks for exactly these
            self.untyped.append(f"{self.phase}: {type(exc).__name__}: {exc}")
        return FAILED

    def report(self, phase: str) -> None:
        print(json.dumps({"phase": phase, **self.counts, "untyped": self.untyped}), flush=True)
        self.phase = phase


def read_everything(path: str, expected_path: str) -> None:
    stored: Entries = msgspec.msgpack.decode(
        Path(expected_path).read_bytes(), type=list[memkv.MemoryEntry[Any]]
    )
    by_key = {entry.key: entry for entry in stored}
    seen = Seen()
    mem = seen.attempt(functools.partial(memkv.open, path))
    seen.report("opened")
    if mem is FAILED:
        return
    for entry in stored:
        got = seen.attempt(functools.partial(mem.get, entry.key))
        if got is None:
            seen.counts["missing"] += 1
        elif got is not FAILED and got != entry:
            seen.counts["altered"] += 1
    seen.report("got")
    categories = sorted({entry.category for entry in stored})
    for category in [None, *categories]:
        listed = seen.attempt(functools.partial(mem.list, category))
        if listed is FAILED:
            continue
        _check_list(seen, listed, by_key, category)
    seen.report("listed")
    problems = seen.attempt(mem.verify)
    seen.counts["problems"] = 0 if problems is FAILED else len(problems)
    seen.report("verified")
    seen.attempt(mem.close)


def _check_list(
    seen: Seen, listed: Entries, by_key: dict[str, memkv.MemoryEntry[Any]], category: str | None
) -> None:
    if any(by_key.get(entry.key) != entry for entry in listed):
        seen.counts["altered"] += 1
    wanted = [key for key, entry in by_key.items() if category in (None, entry.category)]
    if sorted(entry.key for entry in listed) != sorted(wanted):
        seen.counts["list_wrong"] += 1


if __name__ == "__main__":
    read_everything(*sys.argv[1:])
