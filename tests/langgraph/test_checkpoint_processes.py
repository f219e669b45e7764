"""`MemkvSaver` across processes on one LMDB store: a process running a graph is
SIGKILLed at random moments and the thread resumes in the next from its last
checkpoint, never a half-written one; two processes run threads at once while a
third lists them (`tests.langgraph.workers` runs the graphs)."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from memkv.langgraph import MemkvSaver
from tests.langgraph.workers import NODE_CHANNELS, check_values, config_of, counter_graph
from tests.memkv.helpers import child_env, start_worker

WORKERS = Path(__file__).with_name("workers.py")
TARGET = 1_000_000  # ticks: more than a killed run ever reaches


def run_until_killed(path: Path, seconds: float) -> int:
    """Start a runner of thread "crash", SIGKILL it ``seconds`` after it is ready;
    return the count it said it resumed from."""
    child = start_worker("run", str(path), "crash", str(TARGET), script=WORKERS, env=child_env())
    assert child.stdout is not None
    first = child.stdout.readline()
    assert first.startswith("ready "), child.stderr.read() if child.stderr else first
    time.sleep(seconds)
    os.kill(child.pid, signal.SIGKILL)
    child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return int(first.split()[1])


def check_store(path: Path) -> int:
    """Every checkpoint of thread "crash" whole, the latest one's pending writes whole
    per task, the store consistent; return the count the thread resumes from (its
    state: the latest checkpoint with the writes of the tasks that finished)."""
    with MemkvSaver.from_path(path) as saver:
        assert saver.memory.verify() == []
        graph = counter_graph(saver)
        history = list(graph.get_state_history(config_of("crash")))
        assert history, "no checkpoint at all"
        for snapshot in history:
            check_values(snapshot.values)
        counts = [snapshot.values.get("count", 0) for snapshot in history]
        assert counts == sorted(counts, reverse=True)  # newest first, never going back
        latest = saver.get_tuple(config_of("crash"))
        assert latest is not None
        by_task: dict[str, set[str]] = {}
        for task_id, channel, _ in latest.pending_writes or []:
            by_task.setdefault(task_id, set()).add(channel)
        for task_id, channels in by_task.items():
            data = frozenset(channels) & frozenset().union(*NODE_CHANNELS)
            assert not data or data in NODE_CHANNELS, (task_id, channels)
        state = graph.get_state(config_of("crash"))  # with the pending writes applied
        check_values(state.values, step_done=False)
        return int(state.values.get("count", 0))


def kill_cycles(path: Path, cycles: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    counts = [0]
    for cycle in range(cycles):
        resumed_from = run_until_killed(path, rng.uniform(0.05, 0.6))
        assert resumed_from == counts[-1], f"cycle {cycle} did not resume from the last checkpoint"
        counts.append(check_store(path))
    return counts


def test_sigkill_while_running_a_graph(tmp_path: Path) -> None:
    counts = kill_cycles(tmp_path / "store", cycles=3, seed=1)
    assert counts[-1] > 0  # the graph got going


@pytest.mark.slow
def test_sigkill_while_running_a_graph_many_times(tmp_path: Path) -> None:
    counts = kill_cycles(tmp_path / "store", cycles=20, seed=2)
    assert counts == sorted(counts)
    assert len(set(counts)) > 10  # most cycles made progress


def expected_history(target: int) -> list[tuple[Any, ...]]:
    """The history of a thread run to ``target`` on LangGraph's `InMemorySaver`."""
    graph = counter_graph(InMemorySaver())
    graph.invoke({"target": target}, config_of("t"))
    return [(s.values, s.next, s.metadata) for s in graph.get_state_history(config_of("t"))]


def test_two_processes_run_threads_while_a_third_lists(tmp_path: Path) -> None:
    path = tmp_path / "store"
    targets = {"first": 40, "second": 25}
    env = child_env()
    runners = [
        start_worker("run", str(path), thread, str(target), script=WORKERS, env=env)
        for thread, target in targets.items()
    ]
    lister = start_worker("lister", str(path), "60", *targets, script=WORKERS, env=env)
    outputs = [child.communicate(timeout=120) for child in [*runners, lister]]
    for child, (_, err) in zip([*runners, lister], outputs, strict=True):
        assert child.returncode == 0, err
        assert err == ""
    for (out, _), target in zip(outputs[:2], targets.values(), strict=True):
        assert out.splitlines() == ["ready 0", f"done {target}"]
    listed = [int(line.split()[1]) for line in outputs[-1][0].splitlines()]
    assert listed == sorted(listed)  # each listing saw at least what the one before saw
    assert listed[-1] > 0

    with MemkvSaver.from_path(path) as saver:
        graph = counter_graph(saver)
        for thread, target in targets.items():
            history = [
                (s.values, s.next, {k: v for k, v in (s.metadata or {}).items() if k != "run_id"})
                for s in graph.get_state_history(config_of(thread))
            ]
            expected = [
                (values, following, {k: v for k, v in metadata.items() if k != "run_id"})
                for values, following, metadata in expected_history(target)
            ]
            assert history == expected, thread
        assert len(list(saver.list(None))) == sum(
            len(expected_history(t)) for t in targets.values()
        )
