"""One LMDB store, written and searched at once by 16 asyncio tasks (`AsyncMemkvStore`)
and 4 processes (`MemkvStore`, `tests.langgraph.store_workers`): no task or process
meets an error, each search finds exactly what its writer has put so far, and
afterwards every item put is there and every count is exact."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from memkv.langgraph import AsyncMemkvStore, MemkvStore
from tests.langgraph.store_workers import writer_value
from tests.memkv.helpers import child_env

WORKERS = Path(__file__).with_name("store_workers.py")
TASKS = 16
PROCESSES = 4
EVERYTHING = 10**6


async def task_writer(store: AsyncMemkvStore, writer: str, count: int) -> None:
    """``count`` items in ``("tasks", writer)`` and as many in ``("shared",)``, each
    followed by searches that must find exactly what this task has put so far."""
    own = ("tasks", writer)
    for number in range(count):
        value = writer_value(writer, number)
        await asyncio.gather(
            store.aput(own, f"item-{number:05d}", value),
            store.aput(("shared",), f"{writer}-{number:05d}", value),
        )
        even = await store.asearch(own, filter={"parity": 0}, limit=EVERYTHING)
        assert len(even) == number // 2 + 1
        mine = await store.asearch(("shared",), filter={"writer": writer}, limit=EVERYTHING)
        assert len(mine) == number + 1
        assert {item.value["i"] for item in mine} == set(range(number + 1))
        namespaces = await store.alist_namespaces(prefix=("tasks", writer))
        assert namespaces == [own]


async def write_from_tasks(
    path: Path, count: int, go: asyncio.Event, children: list[subprocess.Popen[str]]
) -> None:
    """The tasks; when they are done and the processes too, the same store object
    (which keeps searches and listings between commits) sees every item."""
    async with AsyncMemkvStore.from_path(path) as store:
        await go.wait()
        await asyncio.gather(*(task_writer(store, f"t{n:02d}", count) for n in range(TASKS)))
        await store.asearch(("shared",), limit=EVERYTHING)  # kept, maybe before the last
        await store.alist_namespaces(limit=EVERYTHING)  # commits of the processes
        await asyncio.gather(*(asyncio.to_thread(child.wait, 300) for child in children))
        shared = await store.asearch(("shared",), limit=EVERYTHING)
        assert len(shared) == count * (TASKS + PROCESSES)
        namespaces = await store.alist_namespaces(limit=EVERYTHING)
        assert len(namespaces) == TASKS + PROCESSES + 1


def start_processes(path: Path, count: int) -> list[subprocess.Popen[str]]:
    """The writer processes, each opened and waiting for a line on stdin."""
    children = [
        subprocess.Popen(
            [sys.executable, str(WORKERS), "put-and-search", str(path), f"p{n}", str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for n in range(PROCESSES)
    ]
    for child in children:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line == "ready\n", child.stderr.read() if child.stderr else line
    return children


def run_everyone(path: Path, count: int) -> None:
    """The processes and the tasks, let go together; every one must finish cleanly."""
    with MemkvStore.from_path(path):
        pass  # create the store before the processes open it
    children = start_processes(path, count)

    async def main() -> None:
        go = asyncio.Event()
        tasks = asyncio.create_task(write_from_tasks(path, count, go, children))
        await asyncio.sleep(0.2)  # the tasks' store opened and waiting
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        go.set()
        await tasks

    try:
        asyncio.run(main())
    finally:
        outcomes = [child.communicate(timeout=300) for child in children]
    for child, (out, err) in zip(children, outcomes, strict=True):
        assert child.returncode == 0, err
        assert out == "done\n", (out, err)


def check_everything_is_there(path: Path, count: int) -> None:
    writers = {("tasks", f"t{n:02d}"): f"t{n:02d}" for n in range(TASKS)}
    writers |= {("procs", f"p{n}"): f"p{n}" for n in range(PROCESSES)}
    with MemkvStore.from_path(path) as store:
        for namespace, writer in writers.items():
            for number in range(count):
                expected = writer_value(writer, number)
                item = store.get(namespace, f"item-{number:05d}")
                assert item is not None, (namespace, number)
                assert item.value == expected
                shared = store.get(("shared",), f"{writer}-{number:05d}")
                assert shared is not None, (writer, number)
                assert shared.value == expected
            assert len(store.search(namespace, limit=EVERYTHING)) == count
            odd = store.search(namespace, filter={"parity": 1}, limit=EVERYTHING)
            assert len(odd) == count // 2
        assert len(store.search(("shared",), limit=EVERYTHING)) == count * len(writers)
        assert len(store.search((), limit=EVERYTHING)) == 2 * count * len(writers)
        assert store.list_namespaces(limit=EVERYTHING) == sorted([*writers, ("shared",)])
        assert store.list_namespaces(max_depth=1) == [("procs",), ("shared",), ("tasks",)]
        assert store.memory.count("langgraph") == 2 * count * len(writers)
        assert store.memory.verify() == []


def test_tasks_and_processes_put_and_search_one_store(tmp_path: Path) -> None:
    path = tmp_path / "store"
    run_everyone(path, count=20)
    check_everything_is_there(path, count=20)


@pytest.mark.slow
def test_tasks_and_processes_put_and_search_one_store_long(tmp_path: Path) -> None:
    path = tmp_path / "store"
    run_everyone(path, count=300)
    check_everything_is_there(path, count=300)
