"""LangGraph checkpointer benchmark: `MemkvSaver` (LMDB, durable) beside LangGraph's
`InMemorySaver` and `SqliteSaver` (a file, its defaults), all in the same run.

    .venv/bin/python benchmarks/bench_langgraph_saver.py           # 200 invocations
    .venv/bin/python benchmarks/bench_langgraph_saver.py --quick   # a smoke run

The graph (issue 18): a 5-node linear `StateGraph` whose state grows by one 200-byte
string per node. Measured: ``invoke`` on a new thread each time; ``get_state`` of a
finished thread; ``get_state_history`` of a thread of exactly 50 checkpoints; and
16 async threads invoked at once (``ainvoke``), `MemkvSaver` beside
`AsyncSqliteSaver` (aiosqlite, a file): time per invocation (its inverse is the
throughput). Writes ``benchmarks/results/langgraph_saver*``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import operator
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Durability

from benchmarks.common import RESULTS, Figures, Target, interleaved, report, workdir
from memkv.langgraph import MemkvSaver

NODES = 5
TEXT = "x" * 200  # what each node adds to the state
HISTORY = 50  # checkpoints of the get_state_history thread
CONCURRENT = 16  # async threads invoked at once
MEMKV, IN_MEMORY, SQLITE = "MemkvSaver (LMDB, durable)", "InMemorySaver", "SqliteSaver (file)"
RELAXED = "MemkvSaver (LMDB, relaxed)"  # for reference: no flush of the meta page
ASYNC_SQLITE = "AsyncSqliteSaver (file)"


class Grown(TypedDict):
    texts: Annotated[list[str], operator.add]


def node(state: Grown) -> dict[str, Any]:
    return {"texts": [TEXT]}


def linear_graph(saver: BaseCheckpointSaver[Any]) -> CompiledStateGraph[Any, Any, Any, Any]:
    graph = StateGraph(Grown)
    previous = START
    for number in range(NODES):
        graph.add_node(f"node_{number}", node)
        graph.add_edge(previous, f"node_{number}")
        previous = f"node_{number}"
    return graph.compile(checkpointer=saver)


def thread(name: str) -> RunnableConfig:
    return {"configurable": {"thread_id": name}}


def history_thread(graph: CompiledStateGraph[Any, Any, Any, Any]) -> RunnableConfig:
    """A thread of exactly `HISTORY` checkpoints (an invocation makes 7; an
    ``update_state`` one more)."""
    config = thread("history")
    while len(list(graph.get_state_history(config))) + NODES + 2 <= HISTORY:
        graph.invoke({"texts": []}, config)
    while len(list(graph.get_state_history(config))) < HISTORY:
        graph.update_state(config, {"texts": [TEXT]})
    assert len(list(graph.get_state_history(config))) == HISTORY
    return config


def full_history(graph: CompiledStateGraph[Any, Any, Any, Any], config: RunnableConfig) -> int:
    return len(list(graph.get_state_history(config)))


def sync_figures(directory: Path, invocations: int, reads: int) -> Figures:
    with (
        MemkvSaver.from_path(directory / "memkv") as memkv_saver,
        MemkvSaver.from_path(directory / "relaxed", durability="relaxed") as relaxed_saver,
        SqliteSaver.from_conn_string(str(directory / "sqlite.db")) as sqlite_saver,
    ):
        graphs = {
            MEMKV: linear_graph(memkv_saver),
            IN_MEMORY: linear_graph(InMemorySaver()),
            SQLITE: linear_graph(sqlite_saver),
        }
        numbers = itertools.count()

        def invoker(
            graph: CompiledStateGraph[Any, Any, Any, Any], durability: Durability = "async"
        ) -> Callable[[], object]:
            return lambda: graph.invoke(
                {"texts": []}, thread(f"new-{next(numbers)}"), durability=durability
            )

        figures: Figures = {}
        contenders = {name: invoker(g) for name, g in graphs.items()}
        invoke = interleaved(
            contenders | {RELAXED: invoker(linear_graph(relaxed_saver))}, invocations
        )
        figures["invoke, new thread"] = invoke
        figures["invoke, new thread (goal)"] = {name: invoke[name] for name in (MEMKV, IN_MEMORY)}
        figures["invoke, new thread, durability='exit'"] = interleaved(
            {name: invoker(g, "exit") for name, g in graphs.items()}, invocations
        )
        done = thread("done")
        for graph in graphs.values():
            graph.invoke({"texts": []}, done)
            assert len(graph.get_state(done).values["texts"]) == NODES
        figures["get_state"] = interleaved(
            {name: functools.partial(g.get_state, done) for name, g in graphs.items()}, reads
        )
        figures[f"get_state_history, {HISTORY} checkpoints"] = interleaved(
            {
                name: functools.partial(full_history, g, history_thread(g))
                for name, g in graphs.items()
            },
            max(10, reads // 10),
        )
    return figures


async def concurrent_round(graph: CompiledStateGraph[Any, Any, Any, Any], label: str) -> float:
    """Seconds per invocation, `CONCURRENT` new threads invoked at once."""
    start = time.perf_counter()
    await asyncio.gather(
        *(graph.ainvoke({"texts": []}, thread(f"{label}-{n}")) for n in range(CONCURRENT))
    )
    return (time.perf_counter() - start) / CONCURRENT


async def async_figures(directory: Path, rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {MEMKV: [], ASYNC_SQLITE: [], IN_MEMORY: []}
    async with (
        MemkvSaver.afrom_path(directory / "memkv-async") as memkv_saver,
        AsyncSqliteSaver.from_conn_string(str(directory / "async.db")) as sqlite_saver,
    ):
        graphs = {
            MEMKV: linear_graph(memkv_saver),
            ASYNC_SQLITE: linear_graph(sqlite_saver),
            IN_MEMORY: linear_graph(InMemorySaver()),
        }
        for name, graph in graphs.items():  # warm-up
            await concurrent_round(graph, f"warm-{name}")
        for number in range(rounds):
            for name, graph in graphs.items():
                samples[name].append(await concurrent_round(graph, f"{number}-{name}"))
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invocations", type=int, default=200)
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=20, help="of the concurrent benchmark")
    parser.add_argument("--dir", help="where to put the stores (default: the temp dir)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args()
    if args.quick:
        args.invocations, args.reads, args.rounds = 10, 20, 2
    with workdir(args.dir) as directory:
        figures = sync_figures(directory, args.invocations, args.reads)
        concurrent = asyncio.run(async_figures(directory, args.rounds))
        figures[f"{CONCURRENT} concurrent async threads, per invocation"] = concurrent
    history = f"get_state_history, {HISTORY} checkpoints"
    targets = {
        "invoke, new thread": Target(MEMKV, SQLITE, "slowdown", 1.0),
        "invoke, new thread (goal)": Target(MEMKV, IN_MEMORY, "slowdown", 1.2),
        "get_state": Target(MEMKV, IN_MEMORY, "slowdown", 1.2),
        history: Target(MEMKV, IN_MEMORY, "slowdown", 1.0),
    }
    command = "python benchmarks/bench_langgraph_saver.py" + (" --quick" if args.quick else "")
    notes = (
        f"A {NODES}-node linear StateGraph, each node adding a 200-byte string to the state; "
        f"{args.invocations} invocations per saver on new threads, interleaved. "
        f"The concurrent benchmark times {CONCURRENT} `ainvoke` on new threads at once, "
        f"{args.rounds} rounds: the throughput is the inverse of the time per invocation. "
        "MemkvSaver's store is durable (each commit flushed; the relaxed line, for reference, "
        "does not flush LMDB's meta page); SqliteSaver runs with its defaults (WAL, "
        "SQLite's default synchronous=FULL). LangGraph saves each step's checkpoint and "
        "writes as the graph runs (its default durability, 'async'); with "
        "durability='exit' it saves once, when the invocation ends."
    )
    report("langgraph_saver", command, figures, targets, Path(args.output), notes=notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
