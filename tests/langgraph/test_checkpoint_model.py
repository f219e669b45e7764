"""`MemkvSaver` against LangGraph's own `InMemorySaver` as the model: random sequences
of puts (forks, reused version numbers, emptied channels), pending writes and thread
deletions, with every read (`get_tuple`, `list` with filter, before and limit) giving
the same answer on both."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.checkpoint.conformance.test_utils import generate_checkpoint, generate_metadata
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.types import ERROR, INTERRUPT

import memkv
from memkv.langgraph import MemkvSaver

THREADS = ("a", "a-1", "b")
NAMESPACES = ("", "child:1")
CHANNELS = ("x", "y", "z")

# Most puts go to one thread and namespace, so that forks and reused versions meet.
busy_thread = st.sampled_from(THREADS) | st.just(THREADS[0])
busy_namespace = st.sampled_from(NAMESPACES) | st.just(NAMESPACES[0])
puts = st.fixed_dictionaries(
    {
        "op": st.just("put"),
        "thread": busy_thread,
        "ns": busy_namespace,
        "parent": st.integers(0, 9) | st.none(),  # the n-th checkpoint made so far
        "versions": st.dictionaries(st.sampled_from(CHANNELS), st.integers(1, 2), min_size=1),
        "valued": st.sets(st.sampled_from(CHANNELS)),
        "renewed": st.sets(st.sampled_from(CHANNELS)),
        "step": st.integers(0, 2),
        "source": st.sampled_from(("input", "loop")),
    }
)
writes = st.fixed_dictionaries(
    {
        "op": st.just("put_writes"),
        "target": st.integers(0, 9),
        "writes": st.lists(
            st.tuples(st.sampled_from(("x", "y", ERROR, INTERRUPT)), st.integers(0, 9)),
            max_size=3,
        ),
        "task": st.sampled_from(("t1", "t2")),
        "path": st.sampled_from(("", "p")),
    }
)
deletes = st.fixed_dictionaries({"op": st.just("delete"), "thread": st.sampled_from(THREADS)})
reads = st.fixed_dictionaries(
    {
        "op": st.just("read"),
        "thread": st.sampled_from(THREADS),
        "ns": st.sampled_from(NAMESPACES),
        "by_id": st.integers(0, 9) | st.none(),
        "filter": st.none() | st.fixed_dictionaries({"step": st.integers(0, 2)}),
        "before": st.integers(0, 9) | st.none(),
        "limit": st.none() | st.integers(0, 3),
        "scope": st.sampled_from(("namespace", "thread", "every thread")),
    }
)
operations = st.lists(st.one_of(puts, writes, deletes, reads), min_size=1, max_size=25)


def seen(found: CheckpointTuple | None) -> Any:
    """A checkpoint tuple as both savers must give it (configs by their three ids)."""
    if found is None:
        return None

    def ids(config: RunnableConfig | None) -> Any:
        if config is None:
            return None
        part = config["configurable"]
        return (part["thread_id"], part.get("checkpoint_ns", ""), part["checkpoint_id"])

    return (
        ids(found.config),
        found.checkpoint,
        found.metadata,
        ids(found.parent_config),
        found.pending_writes,
    )


class Pair:
    """The same operations on both savers; the answers of each read."""

    def __init__(self, memory: memkv.Memory) -> None:
        self.savers: tuple[BaseCheckpointSaver[Any], ...] = (InMemorySaver(), MemkvSaver(memory))
        self.made: list[RunnableConfig] = []  # every checkpoint put, in order

    def run(self, operation: dict[str, Any]) -> list[Any]:
        return [getattr(self, operation["op"])(saver, operation) for saver in self.savers]

    def config(self, thread: str, ns: str, index: int | None = None) -> RunnableConfig:
        configurable: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ns}
        if index is not None and self.made:
            configurable["checkpoint_id"] = self.made[index % len(self.made)]["configurable"][
                "checkpoint_id"
            ]
        return {"configurable": configurable}

    def put(self, saver: BaseCheckpointSaver[Any], op: dict[str, Any]) -> None:
        if saver is self.savers[0]:  # one checkpoint (one id) for both savers
            self.checkpoint = generate_checkpoint(
                channel_values={
                    c: f"{c}@{v}" for c, v in op["versions"].items() if c in op["valued"]
                },
                channel_versions=dict(op["versions"]),
            )
        new_versions = {c: v for c, v in op["versions"].items() if c in op["renewed"]}
        metadata = generate_metadata(source=op["source"], step=op["step"])
        stored = saver.put(
            self.config(op["thread"], op["ns"], op["parent"]),
            self.checkpoint,
            metadata,
            new_versions,
        )
        if saver is self.savers[-1]:
            self.made.append(stored)

    def put_writes(self, saver: BaseCheckpointSaver[Any], op: dict[str, Any]) -> None:
        if self.made:
            target = self.made[op["target"] % len(self.made)]
            saver.put_writes(target, op["writes"], op["task"], op["path"])

    def delete(self, saver: BaseCheckpointSaver[Any], op: dict[str, Any]) -> None:
        saver.delete_thread(op["thread"])

    def read(self, saver: BaseCheckpointSaver[Any], op: dict[str, Any]) -> Any:
        config = self.config(op["thread"], op["ns"], op["by_id"])
        before = None if op["before"] is None else self.config("", "", op["before"])
        got = seen(saver.get_tuple(config))
        if op["scope"] == "namespace":
            listed = saver.list(config, filter=op["filter"], before=before, limit=op["limit"])
            return got, [seen(found) for found in listed]
        # across namespaces (or threads) the savers list in different orders: the same
        # checkpoints, without a limit
        thread_only: RunnableConfig = {"configurable": {"thread_id": op["thread"]}}
        wider = None if op["scope"] == "every thread" else thread_only
        listed = saver.list(wider, filter=op["filter"], before=before)
        return got, sorted((seen(found) for found in listed), key=repr)


@pytest.mark.parametrize("backend", ["in-memory", "lmdb"])
@settings(max_examples=300)
@given(sequence=operations)
def test_same_answers_as_in_memory_saver(backend: str, sequence: list[dict[str, Any]]) -> None:
    with contextlib.ExitStack() as stack:
        if backend == "lmdb":  # a store per example; unsynced: flushes are not the point
            directory = stack.enter_context(tempfile.TemporaryDirectory())
            memory = memkv.open(Path(directory) / "store", durability="unsynced")
        else:
            memory = memkv.open(memkv.IN_MEMORY)
        stack.enter_context(memory)
        pair = Pair(memory)
        for number, operation in enumerate(sequence):
            model, subject = pair.run(operation)
            assert subject == model, f"operation {number}: {operation}"
        for thread in THREADS:  # and at the end, every thread in full
            for ns in NAMESPACES:
                model, subject = pair.run(
                    {"op": "read", "thread": thread, "ns": ns, "by_id": None, "filter": None,
                     "before": None, "limit": None, "scope": "namespace"}
                )  # fmt: skip
                assert subject == model
