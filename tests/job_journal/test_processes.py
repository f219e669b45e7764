"""Writers in other processes: killed mid-stream, and two at once."""

from __future__ import annotations

import random
from pathlib import Path

import memkv
from job_journal import JobJournal
from tests.memkv.helpers import child_env, run_then_kill, start_worker

WORKERS = Path(__file__).with_name("workers.py")


def test_sigkill_loop_keeps_every_printed_seq(tmp_path: Path) -> None:
    path = tmp_path / "store"
    rng = random.Random(9)
    printed: list[int] = []
    for cycle in range(12):
        lines = run_then_kill(
            "append-forever", str(path), f"w{cycle}", seconds=rng.uniform(0.02, 0.3), script=WORKERS
        )
        printed += [int(line.split("\t")[0]) for line in lines]
        with memkv.open(path) as mem:
            events = JobJournal(mem).events()
            seqs = [e.seq for e in events]
            assert seqs == list(range(len(seqs)))  # in order, no gaps
            assert set(printed) <= set(seqs)  # every acknowledged seq is there
            assert printed == sorted(printed)
    assert len(printed) > 12


def test_two_processes_append_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "store"
    memkv.open(path).close()
    writers = {
        name: start_worker("append-some", str(path), name, "300", script=WORKERS, env=child_env())
        for name in ("left", "right")
    }
    acknowledged: dict[int, str] = {}
    for writer in writers.values():
        out, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
        for line in out.splitlines()[1:]:  # after "ready"
            seq, who, _ = line.split("\t")
            assert int(seq) not in acknowledged, f"seq {seq} given twice"
            acknowledged[int(seq)] = who
    with memkv.open(path) as mem:
        events = JobJournal(mem).events()
    assert [e.seq for e in events] == list(range(600))
    assert {e.seq: e.output["writer"] for e in events} == acknowledged
    for name in writers:
        assert [e.output["n"] for e in events if e.output["writer"] == name] == list(range(300))
