"""Crash safety: a writer is SIGKILLed at random moments; after reopening, every
write it acknowledged is there, the store is consistent, and recall agrees with a
brute force over what the store holds (`tests.memkv.bm25_model`)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Final

import msgspec
import pytest

import memkv
from tests.memkv.bm25_model import Hit, RecallModel, Row, assert_ranking
from tests.memkv.helpers import recall, run_then_kill
from tests.memkv.workers import CRASH_UPDATED

# Queries of the writer's words (`tests.memkv.workers.CRASH_WORDS`), with filters.
RECALLS: Final[list[tuple[str, dict[str, Any]]]] = [
    ("apple", {}),
    ("東京タワー fig", {}),
    ("banana cherry 서울 김치", {"category": "single"}),
    ("apple moved", {"category": "updated"}),
    ("北京", {"session_id": "s"}),
    ("", {}),  # the newest
]


def kill_cycles(path: Path, durability: str, cycles: int, seed: int) -> int:
    """Run ``cycles`` writer processes, each killed after a random time; check after
    each. Returns the number of acknowledged writes checked."""
    rng = random.Random(seed)
    acknowledged: dict[str, Any] = {}
    model = RecallModel()  # what the store holds, after each cycle
    for cycle in range(cycles):
        lines = run_then_kill(
            "crash-writer", str(path), durability, f"c{cycle:03d}", seconds=rng.uniform(0.01, 0.25)
        )
        for line in lines:
            key, content = line.split("\t")
            acknowledged[key] = msgspec.json.decode(content)
        with memkv.open(path) as mem:
            assert mem.verify() == []
            for key, content in acknowledged.items():
                entry = mem.get(key)
                assert entry is not None, f"acknowledged key {key!r} lost (cycle {cycle})"
                # The writer may have upserted CRASH_UPDATED after the last
                # acknowledgement (the kill came before it printed): a later write,
                # never an older one.
                later = [CRASH_UPDATED] if content != CRASH_UPDATED else []
                assert entry.content in [content, *later]
            assert mem.count() >= len(acknowledged)
            recall_agrees(mem, model, cycle)
    return len(acknowledged)


def recall_agrees(mem: memkv.Memory, model: RecallModel, cycle: int) -> None:
    """Recall of a few queries is the brute force's over what the store holds (read
    into ``model``)."""
    model.sync(
        Row(entry.key, entry.content, entry.category, entry.session_id, entry.timestamp)
        for entry in mem.list()
    )
    for query, filters in RECALLS:
        got = [Hit(entry.key, entry.score) for entry in recall(mem, query, 20, **filters)]
        try:
            assert_ranking(got, model.ranking(query, **filters), 20)
        except AssertionError as exc:
            exc.add_note(f"after cycle {cycle}: recall({query!r}, 20, **{filters})")
            raise


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
