"""LangGraph's graph test of an injected store (``test_store_injected`` of
``libs/langgraph/tests/test_pregel.py`` and ``test_pregel_async.py``), ported: 51
nodes of one superstep each put an item, through the store a ``StateGraph`` is
compiled with, on `MemkvStore` (``invoke``, nodes in threads) and `AsyncMemkvStore`
(``ainvoke``, coroutine nodes), on every backend. The checkpointer is LangGraph's
``InMemorySaver`` (upstream runs each of its checkpointers; the store is the subject
here)."""

from __future__ import annotations

import operator
import uuid
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.store.base import BaseStore

from tests.langgraph.store_harness import StoreOpener, native

NODES = 50


class State(TypedDict):
    count: Annotated[int, operator.add]


def test_store_injected(stores: StoreOpener) -> None:
    store = native(stores.open())
    doc = {"some-key": "this-is-a-val"}
    doc_id = str(uuid.uuid4())
    namespace = (f"foo-{uuid.uuid4().hex}", "bar")
    thread_1, thread_2 = str(uuid.uuid4()), str(uuid.uuid4())

    def where(number: int | None, config: RunnableConfig) -> tuple[str, ...]:
        """The numbered nodes of threads 1 and 2 all write one item; the rest their own."""
        if number is not None and config["configurable"]["thread_id"] in (thread_1, thread_2):
            return namespace
        return (f"foo_{number}", "bar")

    def value(inputs: State, config: RunnableConfig) -> dict[str, Any]:
        return {
            **doc,
            "from_thread": config["configurable"]["thread_id"],
            "some_val": inputs["count"],
        }

    def sync_node(number: int | None) -> Any:
        def node(inputs: State, config: RunnableConfig, store: BaseStore) -> State:
            assert isinstance(store, BaseStore)
            store.put(where(number, config), doc_id, value(inputs, config))
            return {"count": 1}

        return node

    def async_node(number: int | None) -> Any:
        async def node(inputs: State, config: RunnableConfig, store: BaseStore) -> State:
            assert isinstance(store, BaseStore)
            await store.aput(where(number, config), doc_id, value(inputs, config))
            return {"count": 1}

        return node

    make = async_node if stores.is_async else sync_node
    builder = StateGraph(State)
    builder.add_node("node", make(None))
    builder.add_edge(START, "node")
    for number in range(NODES):
        builder.add_node(f"node_{number}", make(number))
        builder.add_edge(START, f"node_{number}")
    graph = builder.compile(store=store, checkpointer=InMemorySaver())

    def run(thread: str) -> Any:
        config: RunnableConfig = {"configurable": {"thread_id": thread}}
        if stores.is_async:
            return stores.run(graph.ainvoke({"count": 0}, config))
        return graph.invoke({"count": 0}, config)

    assert run(thread_1) == {"count": NODES + 1}
    assert store.get(namespace, doc_id).value == {**doc, "from_thread": thread_1, "some_val": 0}  # type: ignore[union-attr]
    assert len(store.search(namespace)) == 1
    assert store.get(("foo_None", "bar"), doc_id).value["from_thread"] == thread_1  # type: ignore[union-attr]

    # Another turn of the same thread: the count is carried over by the checkpointer.
    assert run(thread_1) == {"count": (NODES + 1) * 2}
    assert store.get(namespace, doc_id).value == {  # type: ignore[union-attr]
        **doc,
        "from_thread": thread_1,
        "some_val": NODES + 1,
    }
    assert len(store.search(namespace)) == 1

    assert run(thread_2) == {"count": NODES + 1}
    assert store.get(namespace, doc_id).value == {**doc, "from_thread": thread_2, "some_val": 0}  # type: ignore[union-attr]
    assert len(store.search(namespace)) == 1  # the same item, overwritten whole
    assert len(store.list_namespaces()) == 2  # namespace and ("foo_None", "bar")
