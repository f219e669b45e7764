"""Child processes for the multi-process tests of `MemkvSaver`:
``python workers.py COMMAND PATH ...``.

The graph they run, `counter_graph`, loops: ``tick`` counts and logs the count, then
``left`` and ``right`` run in parallel (two tasks of one step, each writing two
channels), until the count reaches a target. What a consistent checkpoint of it
holds is `check_values`.
"""

from __future__ import annotations

import operator
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from memkv.langgraph import MemkvSaver

# The channels each node writes: a task's pending writes hold all of them or none.
NODE_CHANNELS = (
    frozenset({"count", "log"}),
    frozenset({"left", "left_last"}),
    frozenset({"right", "right_last"}),
)


class Counter(TypedDict, total=False):
    target: int
    count: int
    log: Annotated[list[int], operator.add]
    left: Annotated[list[int], operator.add]
    left_last: int
    right: Annotated[list[int], operator.add]
    right_last: int


def tick(state: Counter) -> dict[str, Any]:
    count = state.get("count", 0)
    return {"count": count + 1, "log": [count]}


def left(state: Counter) -> dict[str, Any]:
    return {"left": [state["count"]], "left_last": state["count"]}


def right(state: Counter) -> dict[str, Any]:
    return {"right": [state["count"]], "right_last": state["count"]}


def after_tick(state: Counter) -> str | list[str]:
    return END if state["count"] >= state["target"] else ["left", "right"]


def counter_graph(saver: BaseCheckpointSaver[Any]) -> CompiledStateGraph[Any, Any, Any, Any]:
    graph = StateGraph(Counter)
    graph.add_node("tick", tick)
    graph.add_node("left", left)
    graph.add_node("right", right)
    graph.add_edge(START, "tick")
    graph.add_conditional_edges("tick", after_tick, ["left", "right", END])
    graph.add_edge(["left", "right"], "tick")
    return graph.compile(checkpointer=saver)


def config_of(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}, "recursion_limit": 100_000}


def check_values(values: dict[str, Any], *, step_done: bool = True) -> None:
    """Assert what every checkpoint of `counter_graph` holds: the whole log of its
    count, and the two parallel branches side by side. With ``step_done=False`` (a
    state with the writes of the tasks that finished applied) one branch may be a
    step ahead of the other."""
    count = values.get("count", 0)
    assert values.get("log", []) == list(range(count)), values
    branches = [values.get("left", []), values.get("right", [])]
    for branch in branches:
        assert branch == list(range(1, len(branch) + 1)), values
        assert count - 1 <= len(branch) <= count, values
    if step_done:
        assert branches[0] == branches[1], values


def run(path: str, thread_id: str, target: str) -> None:
    """Run the thread to ``target`` ticks (resuming it if it has a checkpoint); print
    ``ready COUNT`` (the count it resumed from) first, ``done COUNT`` at the end."""
    with MemkvSaver.from_path(path) as saver:
        graph = counter_graph(saver)
        config = config_of(thread_id)
        state = graph.get_state(config)
        print("ready", state.values.get("count", 0), flush=True)
        start = None if state.next else {"target": int(target)}
        graph.invoke(start, config, durability="sync")
        print("done", graph.get_state(config).values["count"], flush=True)


def lister(path: str, seconds: str, *thread_ids: str) -> None:
    """While the writers run: list every thread's checkpoints, check each, print how
    many it saw; stop once every thread is done (or after ``seconds``)."""
    deadline = time.monotonic() + float(seconds)
    with MemkvSaver.from_path(path) as saver:
        graph = counter_graph(saver)
        while time.monotonic() < deadline:
            listed = list(saver.list(None))
            for found in listed:
                check_values(found.checkpoint["channel_values"])
            print("listed", len(listed), flush=True)
            finished = [graph.get_state(config_of(thread)) for thread in thread_ids]
            if all(state.values and not state.next for state in finished):
                return
            time.sleep(0.01)
    raise SystemExit("the writers did not finish in time")


COMMANDS: dict[str, Callable[..., None]] = {"run": run, "lister": lister}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
