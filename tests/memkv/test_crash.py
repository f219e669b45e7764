"""Crash safety: a writer is SIGKILLed at random moments; after reopening, every
write it acknowledged is there and the store is consistent."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import memkv
from tests.memkv.helpers import run_then_kill


def kill_cycles(path: Path, durability: str, cycles: int, seed: int) -> int:
    """Run ``cycles`` writer processes, each killed after a random time; check after
    each. Returns the number of acknowledged writes checked."""
    rng = random.Random(seed)
    acknowledged: dict[str, str] = {}
    for cycle in range(cycles):
        lines = run_then_kill(
            "crash-writer", str(path), durability, f"c{cycle:03d}", seconds=rng.uniform(0.01, 0.25)
        )
        for line in lines:
            key, content = line.split("\t")
            acknowledged[key] = content
        with memkv.open(path) as mem:
            assert mem.verify() == []
            for key, content in acknowledged.items():
                entry = mem.get(key)
                assert entry is not None, f"acknowledged key {key!r} lost (cycle {cycle})"
                # The writer may have upserted "updated" after the last acknowledgement
                # (the kill came before it printed): a later write, never an older one.
                later = {"updated"} if content == key else set()
                assert entry.content in {content, *later}
            assert mem.count() >= len(acknowledged)
    return len(acknowledged)


def test_sigkill_loses_no_acknowledged_write(tmp_path: Path) -> None:
    checked = kill_cycles(tmp_path / "store", "durable", cycles=30, seed=1)
    assert checked > 30  # the writer got going in most cycles


@pytest.mark.parametrize("durability", ["relaxed", "unsynced"])
def test_lighter_levels_survive_a_process_crash(tmp_path: Path, durability: str) -> None:
    """Their promise: a process crash loses nothing (only an OS crash may)."""
    assert kill_cycles(tmp_path / "store", durability, cycles=8, seed=2) > 8


@pytest.mark.slow
def test_sigkill_many_cycles(tmp_path: Path) -> None:
    kill_cycles(tmp_path / "store", "durable", cycles=200, seed=3)
