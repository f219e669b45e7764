"""`MemkvSaver`'s own promises, on each backend: the sync methods (the conformance
suite drives the async ones), where its records live, thread isolation, bad input."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, ChannelVersions
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.types import ERROR

import memkv
from memkv.langgraph import MemkvSaver
from memkv.langgraph.checkpoint_keys import CATEGORY
from tests.memkv.helpers import raises_naming
from tests.memkv.test_conformance import CountingBackend as ScanCounting


class CountingBackend(ScanCounting):
    """Counts the items scans return and the point reads (``get``) too."""

    def __init__(self, inner: memkv.Backend) -> None:
        super().__init__(inner)
        self.point_reads = 0

    def _counting(self, txn: Any) -> Any:
        outer, wrapped = self, super()._counting(txn)

        class Counted:
            def __getattr__(self, name: str) -> Any:
                return getattr(wrapped, name)

            def get(self, *args: Any, **kwargs: Any) -> Any:
                outer.point_reads += 1
                return txn.get(*args, **kwargs)

        return Counted()


def put(
    saver: BaseCheckpointSaver[Any],
    thread_id: str,
    parent: RunnableConfig | None = None,
    *,
    ns: str = "",
    values: dict[str, Any] | None = None,
    versions: ChannelVersions | None = None,
    new_versions: ChannelVersions | None = None,
    **metadata: Any,
) -> RunnableConfig:
    """Put a checkpoint (a child of ``parent``) through the sync API; its config."""
    config = generate_config(thread_id, checkpoint_ns=ns)
    if parent is not None:
        config["configurable"]["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
    checkpoint = generate_checkpoint(channel_values=values or {}, channel_versions=versions or {})
    stored = saver.put(config, checkpoint, generate_metadata(**metadata), new_versions or {})
    assert stored["configurable"]["checkpoint_id"] == checkpoint["id"]
    return stored


def ids(saver: MemkvSaver, config: RunnableConfig | None, **options: Any) -> list[str]:
    return [found.checkpoint["id"] for found in saver.list(config, **options)]


def test_sync_round_trip(memory: memkv.Memory) -> None:
    saver = MemkvSaver(memory)
    first = put(
        saver,
        "t",
        values={"a": 1, "b": [1]},
        versions={"a": 1, "b": 1},
        new_versions={"a": 1, "b": 1},
        step=0,
        source="input",
    )
    second = put(
        saver,
        "t",
        first,
        values={"a": 2, "b": [1]},
        versions={"a": 2, "b": 1},
        new_versions={"a": 2},
        step=1,
    )
    third = put(
        saver,
        "t",
        second,
        values={"a": 3},
        versions={"a": 3, "b": 2},
        new_versions={"a": 3, "b": 2},
        step=2,
    )  # b: emptied
    saver.put_writes(third, [("a", 4), ("b", "x")], "task-1", "path")

    latest = saver.get_tuple(generate_config("t"))
    assert latest is not None
    assert latest.config == third
    assert latest.checkpoint["channel_values"] == {"a": 3}
    assert latest.parent_config == second
    assert latest.pending_writes == [("task-1", "a", 4), ("task-1", "b", "x")]
    older = saver.get_tuple(second)
    assert older is not None
    assert older.checkpoint["channel_values"] == {"a": 2, "b": [1]}  # b read from `first`
    assert older.metadata["step"] == 1
    assert older.pending_writes == []
    assert saver.get_tuple(first) is not None
    assert saver.get_tuple(first).parent_config is None  # type: ignore[union-attr]

    every = [first, second, third]
    newest_first = [config["configurable"]["checkpoint_id"] for config in reversed(every)]
    assert ids(saver, generate_config("t")) == newest_first
    assert ids(saver, generate_config("t"), limit=2) == newest_first[:2]
    assert ids(saver, generate_config("t"), before=third) == newest_first[1:]
    assert ids(saver, generate_config("t"), before=third, limit=1) == newest_first[1:2]
    assert ids(saver, generate_config("t"), filter={"step": 1}) == newest_first[1:2]
    assert ids(saver, generate_config("t"), filter={"source": "input", "step": 0}) == [
        newest_first[2]
    ]
    assert ids(saver, generate_config("t"), filter={"step": 9}) == []
    assert ids(saver, second) == newest_first[1:2]  # a config naming one checkpoint
    assert ids(saver, generate_config("t"), limit=0) == []
    assert ids(saver, None) == newest_first


def test_list_pages_through_long_histories(memory: memkv.Memory) -> None:
    saver = MemkvSaver(memory)
    parent = None
    made = []
    for step in range(150):  # more than two pages
        parent = put(saver, "long", parent, step=step)
        made.append(parent["configurable"]["checkpoint_id"])
    assert ids(saver, generate_config("long")) == made[::-1]
    assert ids(saver, generate_config("long"), filter={"step": 3}) == [made[3]]
    assert (
        ids(
            saver,
            generate_config("long"),
            before={"configurable": {"checkpoint_id": made[100]}},
            limit=70,
        )
        == made[99:29:-1]
    )
    listing = saver.list(generate_config("long"))
    assert next(listing).checkpoint["id"] == made[-1]  # lazily: the rest is not read yet


def test_namespaces_and_threads_never_overlap(memory: memkv.Memory) -> None:
    saver = MemkvSaver(memory)
    threads = ["t-1", "t-10", "t-1\x00", "t-1\x01x", "t"]
    made = {
        thread: put(saver, thread, values={"v": thread}, versions={"v": 1}, new_versions={"v": 1})
        for thread in threads
    }
    child = put(
        saver, "t-1", ns="child:1", values={"v": "child"}, versions={"v": 1}, new_versions={"v": 1}
    )
    for thread in threads:
        found = saver.get_tuple(generate_config(thread))
        assert found is not None
        assert found.config == made[thread]
        assert found.checkpoint["channel_values"] == {"v": thread}
        assert len(list(saver.list(generate_config(thread)))) == 1
    assert saver.get_tuple(generate_config("t-1", checkpoint_ns="child:1")).config == child  # type: ignore[union-attr]
    thread_only: RunnableConfig = {"configurable": {"thread_id": "t-1"}}  # every namespace
    assert len(list(saver.list(thread_only))) == 2

    saver.delete_thread("t-1")
    assert saver.get_tuple(generate_config("t-1")) is None
    assert saver.get_tuple(generate_config("t-1", checkpoint_ns="child:1")) is None
    for thread in threads[1:]:
        assert saver.get_tuple(generate_config(thread)) is not None, thread
    assert len(list(saver.list(None))) == len(threads) - 1


def test_records_stay_out_of_the_users_memories(memory: memkv.Memory) -> None:
    saver = MemkvSaver(memory)
    memory.store("note", "apple pie")
    stored = put(
        saver, "apple", values={"text": "apple pie"}, versions={"text": 1}, new_versions={"text": 1}
    )
    saver.put_writes(stored, [("text", "apple")], "task")
    assert memory.count() == 1
    assert [entry.key for entry in memory.list()] == ["note"]
    assert [entry.key for entry in memory.recall("apple")] == ["note"]
    assert memory.internal.count(CATEGORY) == 3  # the checkpoint, its blob, its write
    assert memory.verify() == []


def test_too_long_keys_are_refused_before_anything_is_written(memory: memkv.Memory) -> None:
    saver = MemkvSaver(memory)
    long_thread = "t" * 250
    raises_naming(memkv.InvalidKey, "over memkv's 256", lambda: put(saver, long_thread))
    stored = put(saver, "t")
    before = memory.internal.count(CATEGORY)
    raises_naming(
        memkv.InvalidKey,
        "pending write",
        lambda: saver.put_writes(stored, [("a", 1), ("b", 2)], "task-" + "x" * 200),
    )
    raises_naming(
        memkv.InvalidKey,
        "blob",
        lambda: put(saver, "t", stored, values={"c" * 240: 1}, new_versions={"c" * 240: 1}),
    )
    assert memory.internal.count(CATEGORY) == before
    assert ids(saver, generate_config("t")) == [stored["configurable"]["checkpoint_id"]]


def test_bad_arguments_are_named(memory: memkv.Memory) -> None:
    saver = MemkvSaver(memory)
    raises_naming(memkv.InvalidArgument, "thread id", lambda: saver.get_tuple({"configurable": {}}))
    raises_naming(
        memkv.InvalidArgument,
        "checkpoint_id",
        lambda: saver.put_writes(generate_config("t"), [("a", 1)], "task"),
    )
    raises_naming(memkv.InvalidArgument, "'newest'", lambda: saver.prune(["t"], strategy="newest"))
    raises_naming(memkv.InvalidArgument, "one str", lambda: saver.delete_for_runs("run-1"))
    raises_naming(memkv.InvalidArgument, "limit", lambda: list(saver.list(None, limit="2")))  # type: ignore[arg-type]
    raises_naming(memkv.InvalidArgument, "memkv.Memory", lambda: MemkvSaver("store"))  # type: ignore[arg-type]


def test_pending_writes_kept_once_special_ones_replaced(memory: memkv.Memory) -> None:
    saver = MemkvSaver(memory)
    stored = put(saver, "t")
    saver.put_writes(stored, [("a", 1), (ERROR, "first")], "task")
    saver.put_writes(stored, [("a", 2), (ERROR, "second")], "task")
    found = saver.get_tuple(stored)
    assert found is not None
    assert sorted(found.pending_writes or []) == [("task", ERROR, "second"), ("task", "a", 1)]


def test_prune_keeps_the_blobs_the_latest_reads(memory: memkv.Memory) -> None:
    saver = MemkvSaver(memory)
    first = put(
        saver,
        "t",
        values={"kept": "old", "gone": 1},
        versions={"kept": 1, "gone": 1},
        new_versions={"kept": 1, "gone": 1},
    )
    second = put(
        saver,
        "t",
        first,
        values={"kept": "old", "gone": 2},
        versions={"kept": 1, "gone": 2},
        new_versions={"gone": 2},
    )
    saver.put_writes(first, [("gone", 2)], "task")
    other = put(saver, "u", values={"x": 1}, versions={"x": 1}, new_versions={"x": 1})
    saver.prune(["t"])
    assert ids(saver, generate_config("t")) == [second["configurable"]["checkpoint_id"]]
    latest = saver.get_tuple(generate_config("t"))
    assert latest is not None
    assert latest.checkpoint["channel_values"] == {"kept": "old", "gone": 2}
    # what is left of "t": one checkpoint and the two blobs it reads; "u" untouched
    assert memory.internal.count(CATEGORY) == 3 + 2
    assert saver.get_tuple(other) is not None
    saver.prune(["t", "u"], strategy="delete")
    assert memory.internal.count(CATEGORY) == 0


def test_copy_thread_and_delete_for_runs(memory: memkv.Memory) -> None:
    saver = MemkvSaver(memory)
    first = put(
        saver, "src", values={"v": 1}, versions={"v": 1}, new_versions={"v": 1}, run_id="run-a"
    )
    second = put(saver, "src", first, run_id="run-b", versions={"v": 1})
    saver.put_writes(second, [("v", 2)], "task")
    saver.copy_thread("src", "dst")
    copied = list(saver.list(generate_config("dst")))
    assert [found.checkpoint["id"] for found in copied] == ids(saver, generate_config("src"))
    assert copied[0].pending_writes == [("task", "v", 2)]
    assert copied[0].checkpoint["channel_values"] == {"v": 1}
    assert copied[0].parent_config == {
        "configurable": {**first["configurable"], "thread_id": "dst"}
    }

    saver.delete_for_runs(["run-b", "no-such-run"])
    for thread in ("src", "dst"):
        left = list(saver.list(generate_config(thread)))
        assert [found.metadata["run_id"] for found in left] == ["run-a"]
        assert left[0].checkpoint["channel_values"] == {"v": 1}
    saver.delete_for_runs([])
    assert len(list(saver.list(None))) == 2


def test_next_versions_grow_as_strings() -> None:
    saver = MemkvSaver.__new__(MemkvSaver)
    versions = [saver.get_next_version(None, None)]
    for _ in range(12):
        versions.append(saver.get_next_version(versions[-1], None))
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions)
    assert saver.get_next_version(7, None).startswith("0" * 30 + "08.")  # type: ignore[arg-type]


def test_from_path_opens_and_closes(tmp_path: Path) -> None:
    with MemkvSaver.from_path(tmp_path / "store", durability="relaxed") as saver:
        stored = put(saver, "t")
        memory = saver.memory
    assert memory.closed
    with MemkvSaver.from_path(tmp_path / "store") as saver:
        assert ids(saver, generate_config("t")) == [stored["configurable"]["checkpoint_id"]]


@pytest.mark.anyio
async def test_concurrent_async_threads(memory: memkv.Memory, tmp_path: Path) -> None:
    saver = MemkvSaver(memory)

    async def thread(n: int) -> list[str]:
        parent = None
        made = []
        for step in range(5):
            config = generate_config(f"thread-{n}")
            if parent is not None:
                config["configurable"]["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
            checkpoint = generate_checkpoint(
                channel_values={"n": step}, channel_versions={"n": step}
            )
            parent = await saver.aput(config, checkpoint, generate_metadata(step=step), {"n": step})
            await saver.aput_writes(parent, [("n", step + 1)], f"task-{step}")
            made.append(parent["configurable"]["checkpoint_id"])
        return made

    made = await asyncio.gather(*(thread(n) for n in range(16)))
    for n, thread_ids in enumerate(made):
        listed = [found async for found in saver.alist(generate_config(f"thread-{n}"))]
        assert [found.checkpoint["id"] for found in listed] == thread_ids[::-1]
        assert [found.checkpoint["channel_values"] for found in listed] == [
            {"n": step} for step in reversed(range(5))
        ]
        assert all(len(found.pending_writes or []) == 1 for found in listed)
    async with MemkvSaver.afrom_path(tmp_path / "async-store") as opened:
        assert [found async for found in opened.alist(None)] == []
    assert opened.memory.closed


def test_latest_checkpoint_costs_the_same_whatever_the_history(memory: memkv.Memory) -> None:
    counting = CountingBackend(memory.backend)
    saver = MemkvSaver(memkv.Memory(counting))

    def grow(thread_id: str, checkpoints: int) -> RunnableConfig:
        parent = None
        for step in range(checkpoints):
            parent = put(
                saver,
                thread_id,
                parent,
                values={"v": step},
                versions={"v": step + 1},
                new_versions={"v": step + 1},
                step=step,
            )
            saver.put_writes(parent, [("v", step)], f"task-{step}")
        assert parent is not None
        return parent

    def cost(read: Callable[[], object]) -> tuple[int, int]:
        counting.scanned = counting.point_reads = 0
        read()
        return counting.scanned, counting.point_reads

    short, long = grow("short", 3), grow("long", 100)
    for thread_id, made in (("short", short), ("long", long)):
        found = saver.get_tuple(generate_config(thread_id))
        assert found is not None
        assert found.config == made

    def latest(thread_id: str) -> object:
        return saver.get_tuple(generate_config(thread_id))

    def page(thread_id: str) -> object:
        return ids(saver, generate_config(thread_id), limit=2)

    latest_costs = {cost(functools.partial(latest, t)) for t in ("short", "long")}
    by_id_costs = {cost(functools.partial(saver.get_tuple, c)) for c in (short, long)}
    page_costs = {cost(functools.partial(page, t)) for t in ("short", "long")}
    assert len(latest_costs) == len(by_id_costs) == len(page_costs) == 1  # the same for both
    ((scanned, point_reads),) = latest_costs
    assert scanned <= 2  # the checkpoint, its one write: no scan of the history
    assert point_reads <= 2


def test_an_emptied_version_reads_as_empty_as_in_memory_saver(memory: memkv.Memory) -> None:
    """A fork that reuses a version number for an empty channel empties it for every
    checkpoint that reads that version, as LangGraph's own savers do."""
    results = []
    for saver in (InMemorySaver(), MemkvSaver(memory)):
        first = put(saver, "t", values={"a": 1}, versions={"a": 1}, new_versions={"a": 1})
        put(saver, "t", values={}, versions={"a": 1}, new_versions={"a": 1})
        found = saver.get_tuple(first)
        assert found is not None
        results.append(found.checkpoint["channel_values"])
    assert results == [{}, {}]


def test_a_checkpoint_put_again_is_filed_under_its_new_run(memory: memkv.Memory) -> None:
    saver = MemkvSaver(memory)
    config = generate_config("t")
    checkpoint = generate_checkpoint()
    saver.put(config, checkpoint, generate_metadata(run_id="old"), {})
    stored = saver.put(config, checkpoint, generate_metadata(run_id="new"), {})
    saver.delete_for_runs(["old"])
    found = saver.get_tuple(stored)
    assert found is not None
    assert found.metadata["run_id"] == "new"
    saver.delete_for_runs(["new"])
    assert saver.get_tuple(stored) is None
    assert memory.internal.count(CATEGORY) == 0
