"""A LangGraph agent without an LLM: one deterministic node that picks facts about
the user out of a message ("my name is Ada", "I like green tea"), puts them in the
graph's store under ``("users", user_id, "facts")`` and replies with every fact the
store holds for that user. Run by `tests.langgraph.store_workers` (``run-agent``)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Final, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore

from memkv.langgraph import MemkvStore

FACTS: Final = (
    ("name", re.compile(r"my name is (\w+)", re.IGNORECASE)),
    ("likes", re.compile(r"i like ([\w ]+)", re.IGNORECASE)),
)


@dataclass
class UserContext:
    user_id: str


class Turn(TypedDict, total=False):
    message: str
    reply: str


def remember(state: Turn, runtime: Runtime[UserContext]) -> Turn:
    """Put the facts the message states, then reply with all those stored."""
    store = runtime.store
    assert store is not None, "compile the graph with store="
    namespace = ("users", runtime.context.user_id, "facts")
    for fact, pattern in FACTS:
        if found := pattern.search(state.get("message", "")):
            store.put(namespace, fact, {"fact": fact, "value": found.group(1).strip()})
    known = sorted((item.key, item.value["value"]) for item in store.search(namespace))
    return {"reply": "; ".join(f"{fact}: {value}" for fact, value in known) or "nothing yet"}


def build(store: BaseStore) -> CompiledStateGraph[Turn, UserContext, Turn, Turn]:
    """The agent's graph, compiled with ``store`` as its long-term memory."""
    graph = StateGraph(Turn, context_schema=UserContext)
    graph.add_node("remember", remember)
    graph.add_edge(START, "remember")
    graph.add_edge("remember", END)
    return graph.compile(store=store)


def run(path: str | os.PathLike[str], user_id: str, message: str) -> str:
    """One run of the agent on the memkv store at ``path`` (opened and closed here):
    its reply."""
    with MemkvStore.from_path(path) as store:
        result = build(store).invoke({"message": message}, context=UserContext(user_id))
    return str(result["reply"])
