"""Several processes on one log: racing appends, and a writer killed mid-stream."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import msgspec

import memkv
from enhance_log import MemoryEnhanceLogStore
from tests.enhance_log.conftest import mk_entry
from tests.memkv.helpers import child_env, run_then_kill, start_worker

WORKERS = Path(__file__).with_name("workers.py")


def test_two_processes_racing_to_append_the_same_ids(tmp_path: Path) -> None:
    path = tmp_path / "store"
    memkv.open(path).close()
    racers = {
        name: start_worker(
            "race", str(path), name, "200", script=WORKERS, stdin=subprocess.PIPE, env=child_env()
        )
        for name in ("left", "right")
    }
    for racer in racers.values():
        assert racer.stdout is not None
        assert racer.stdout.readline() == "ready\n"
    for racer in racers.values():  # both start at once
        assert racer.stdin is not None
        racer.stdin.write("go\n")
        racer.stdin.flush()
    outcomes: dict[str, dict[str, str]] = {}
    for name, racer in racers.items():
        out, err = racer.communicate(timeout=300)
        assert racer.returncode == 0, err
        outcomes[name] = {}
        for line in out.splitlines():
            result, issue = line.split("\t")
            outcomes[name][issue] = result
    with memkv.open(path) as mem:
        log = MemoryEnhanceLogStore(mem)
        assert log.count() == 200
        assert len(log.list_all()) == 200
        for i in range(200):
            issue = f"issue-{i:03d}"
            results = {name: outcomes[name][issue] for name in racers}
            assert sorted(results.values()) == ["lost", "won"], (issue, results)
            [winner] = [name for name, result in results.items() if result == "won"]
            expected = mk_entry(issue, f"bp-{i % 7}", ts=i, rationale=winner)
            assert msgspec.msgpack.encode(log.get(issue)) == msgspec.msgpack.encode(expected)
        assert mem.verify() == []


def test_sigkilled_writer_loses_nothing_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "store"
    rng = random.Random(5)
    acknowledged: list[str] = []
    for cycle in range(6):
        lines = run_then_kill(
            "append-forever", str(path), f"k{cycle}", seconds=rng.uniform(0.05, 0.3), script=WORKERS
        )
        acknowledged += lines
        with memkv.open(path) as mem:
            log = MemoryEnhanceLogStore(mem)
            stored = {e.issue_id for e in log.list_all()}
            assert set(acknowledged) <= stored  # a kill may land after the append, before the print
            assert log.count() == len(stored)
            for issue in acknowledged[-20:]:
                assert log.get(issue).issue_id == issue
            entries = log.list_all()
            assert [e.ts_ms for e in entries] == sorted(e.ts_ms for e in entries)
            assert mem.verify() == []
    assert len(acknowledged) > 6
