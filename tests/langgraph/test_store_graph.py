"""A real `StateGraph` compiled with ``store=MemkvStore(...)``
(`tests.langgraph.facts_agent`), run in one process and then in another on the same
LMDB store: the second run sees what the first remembered."""

from __future__ import annotations

from pathlib import Path

from langgraph.config import get_store
from langgraph.graph import END, START, StateGraph

from memkv.langgraph import MemkvStore
from tests.langgraph import facts_agent
from tests.memkv.helpers import child_env, run_worker

WORKERS = Path(__file__).with_name("store_workers.py")


def run_agent(path: Path, user_id: str, message: str) -> str:
    """The agent's reply, from a run in a process of its own."""
    result = run_worker("run-agent", str(path), user_id, message, script=WORKERS, env=child_env())
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_second_process_sees_what_the_first_remembered(tmp_path: Path) -> None:
    path = tmp_path / "agent-memory"
    assert run_agent(path, "u-ada", "Hello, my name is Ada") == "name: Ada\n"
    assert run_agent(path, "u-ada", "I like green tea") == "likes: green tea; name: Ada\n"
    assert run_agent(path, "u-bob", "Hi there") == "nothing yet\n"  # another user's facts
    with MemkvStore.from_path(path) as store:
        name = store.get(("users", "u-ada", "facts"), "name")
        assert name is not None
        assert name.value == {"fact": "name", "value": "Ada"}
        assert store.list_namespaces() == [("users", "u-ada", "facts")]


def test_a_fact_restated_is_replaced_and_keeps_when_it_was_first_learned(
    tmp_path: Path,
) -> None:
    path = tmp_path / "agent-memory"
    facts_agent.run(path, "u-ada", "my name is Ada")
    with MemkvStore.from_path(path) as store:
        first = store.get(("users", "u-ada", "facts"), "name")
    assert run_agent(path, "u-ada", "my name is Augusta") == "name: Augusta\n"
    with MemkvStore.from_path(path) as store:
        again = store.get(("users", "u-ada", "facts"), "name")
    assert first is not None
    assert again is not None
    assert again.value["value"] == "Augusta"
    assert again.created_at == first.created_at
    assert again.updated_at > first.updated_at


def test_a_node_reaches_the_store_by_get_store_too(tmp_path: Path) -> None:
    """`langgraph.config.get_store()` in a node is the `MemkvStore` the graph was
    compiled with: what the agent put is there, and a put by it is stored."""

    def recall_name(state: facts_agent.Turn) -> facts_agent.Turn:
        store = get_store()
        assert isinstance(store, MemkvStore)
        store.put(("audit",), "last", {"message": state.get("message", "")})
        name = store.get(("users", "u-ada", "facts"), "name")
        return {"reply": name.value["value"] if name is not None else "unknown"}

    path = tmp_path / "agent-memory"
    assert facts_agent.run(path, "u-ada", "my name is Ada") == "name: Ada"
    with MemkvStore.from_path(path) as store:
        graph = StateGraph(facts_agent.Turn)
        graph.add_node("recall_name", recall_name)
        graph.add_edge(START, "recall_name")
        graph.add_edge("recall_name", END)
        result = graph.compile(store=store).invoke({"message": "who am I?"})
        assert result["reply"] == "Ada"
        last = store.get(("audit",), "last")
        assert last is not None
        assert last.value == {"message": "who am I?"}
