"""Real graphs on `MemkvSaver` and on LangGraph's `InMemorySaver`, step for step: a
multi-step `StateGraph` with a subgraph (its checkpoints in their own namespace) that
interrupts for a human, the resume, time travel through `get_state_history`, a replay
and a fork from an old checkpoint. The states and histories must be the same (ids
and timestamps aside)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, StateSnapshot, interrupt

import memkv
from memkv.langgraph import MemkvSaver


class State(TypedDict):
    steps: Annotated[list[str], operator.add]
    approved: str


def plan(state: State) -> dict[str, Any]:
    return {"steps": [f"plan after {len(state['steps'])}"]}


class Review(TypedDict):
    """The subgraph's state: ``approved`` is shared with the parent graph."""

    notes: Annotated[list[str], operator.add]
    approved: str


def draft(state: Review) -> dict[str, Any]:
    return {"notes": ["draft"]}


def ask_human(state: Review) -> dict[str, Any]:
    answer = interrupt({"question": "approve?", "notes": state["notes"]})
    return {"notes": [f"human said {answer}"], "approved": str(answer)}


def finish(state: State) -> dict[str, Any]:
    return {"steps": [f"finish with {state['approved']}"]}


def build(saver: BaseCheckpointSaver[Any]) -> CompiledStateGraph[Any, Any, Any, Any]:
    review = StateGraph(Review)
    review.add_node("draft", draft)
    review.add_node("ask_human", ask_human)
    review.add_edge(START, "draft")
    review.add_edge("draft", "ask_human")
    review.add_edge("ask_human", END)
    graph = StateGraph(State)
    graph.add_node("plan", plan)
    graph.add_node("review", review.compile())  # checkpointed in namespace "review:<task>"
    graph.add_node("finish", finish)
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "review")
    graph.add_edge("review", "finish")
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=saver)


def seen(snapshot: StateSnapshot) -> tuple[Any, ...]:
    """What must match between savers: values, next nodes, step, source, the
    interrupts waiting, whether there is a parent."""
    interrupts = tuple(item.value for task in snapshot.tasks for item in task.interrupts)
    return (
        snapshot.values,
        snapshot.next,
        snapshot.metadata["step"] if snapshot.metadata else None,
        snapshot.metadata["source"] if snapshot.metadata else None,
        interrupts,
        snapshot.parent_config is None,
    )


def scenario(saver: BaseCheckpointSaver[Any]) -> list[Any]:
    """Run the story on ``saver``; everything it observed, in order."""
    graph = build(saver)
    config: RunnableConfig = {"configurable": {"thread_id": "story"}}
    trace: list[Any] = []
    first = graph.invoke({"steps": ["start"], "approved": ""}, config)
    trace.append(("stopped", first["steps"], [i.value for i in first["__interrupt__"]]))
    trace.append(("waiting", seen(graph.get_state(config))))
    inner = graph.get_state(config, subgraphs=True).tasks[0].state
    assert isinstance(inner, StateSnapshot)
    trace.append(("inside the subgraph", seen(inner)))
    done = graph.invoke(Command(resume="yes"), config)
    trace.append(("resumed", done))
    history = list(graph.get_state_history(config))
    trace.append(("history", [seen(snapshot) for snapshot in history]))
    trace.append(("listed with limit", [seen(s) for s in graph.get_state_history(config, limit=2)]))

    after_plan = next(s for s in history if s.next == ("review",))
    replayed = graph.invoke(None, after_plan.config)  # time travel: run again from there
    trace.append(("replayed", replayed["steps"], [i.value for i in replayed["__interrupt__"]]))
    forked = graph.update_state(after_plan.config, {"steps": ["forked"]})
    trace.append(("fork", seen(graph.get_state(forked))))
    graph.invoke(None, forked)
    trace.append(("fork resumed", graph.invoke(Command(resume="fork ok"), config)))
    trace.append(("final", seen(graph.get_state(config))))
    trace.append(("history after", [seen(s) for s in graph.get_state_history(config)]))
    return trace


async def ascenario(saver: BaseCheckpointSaver[Any]) -> list[Any]:
    """`scenario`, through the async methods."""
    graph = build(saver)
    config: RunnableConfig = {"configurable": {"thread_id": "story"}}
    trace: list[Any] = []
    first = await graph.ainvoke({"steps": ["start"], "approved": ""}, config)
    trace.append(("stopped", first["steps"], [i.value for i in first["__interrupt__"]]))
    trace.append(("waiting", seen(await graph.aget_state(config))))
    trace.append(("resumed", await graph.ainvoke(Command(resume="yes"), config)))
    history = [snapshot async for snapshot in graph.aget_state_history(config)]
    trace.append(("history", [seen(snapshot) for snapshot in history]))
    after_plan = next(s for s in history if s.next == ("review",))
    forked = await graph.aupdate_state(after_plan.config, {"steps": ["forked"]})
    await graph.ainvoke(None, forked)
    trace.append(("fork resumed", await graph.ainvoke(Command(resume="fork ok"), config)))
    trace.append(("history after", [seen(s) async for s in graph.aget_state_history(config)]))
    return trace


def test_same_story_as_in_memory_saver(memory: memkv.Memory) -> None:
    expected = scenario(InMemorySaver())
    saver = MemkvSaver(memory)
    assert scenario(saver) == expected
    # the story is the one meant: interrupted in the subgraph, resumed, forked
    assert expected[0][2] == [{"question": "approve?", "notes": ["draft"]}]
    assert expected[2][1][0] == {"notes": ["draft"], "approved": ""}  # the subgraph's state
    assert expected[3][1] == {
        "steps": ["start", "plan after 1", "finish with yes"],
        "approved": "yes",
    }
    assert expected[-3][1]["steps"] == ["start", "plan after 1", "forked", "finish with fork ok"]
    # the subgraph's checkpoints are in namespaces of their own, listed apart
    spaces = {found.config["configurable"]["checkpoint_ns"] for found in saver.list(None)}
    assert "" in spaces
    assert any(space.startswith("review:") for space in spaces)
    root = saver.list({"configurable": {"thread_id": "story", "checkpoint_ns": ""}})
    assert len(list(root)) == len(expected[-1][1])


@pytest.mark.anyio
async def test_same_story_through_the_async_methods(memory: memkv.Memory) -> None:
    expected = await ascenario(InMemorySaver())
    assert await ascenario(MemkvSaver(memory)) == expected
    assert expected[2][1]["steps"][-1] == "finish with yes"
    assert expected[-2][1]["approved"] == "fork ok"
