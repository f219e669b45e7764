"""`MemkvStore` against LangGraph's own `InMemoryStore`."""

from __future__ import annotations

import pytest
from langgraph.store.memory import InMemoryStore

import memkv
from memkv.langgraph import MemkvStore


def test_a_filter_mixing_operators_and_fields_is_refused(
    memory: memkv.Memory,
) -> None:
    """``{"$gt": 0, "x": 1}`` is neither a set of operators nor a nested match:
    `InMemoryStore` raises on it; memkv once read ``"x"`` as ``$lte``."""
    store = MemkvStore(memory)
    store.put(("a",), "k", {"n": 1, "x": 1})
    reference = InMemoryStore()
    reference.put(("a",), "k", {"n": 1, "x": 1})
    mixed = {"n": {"$gt": 0, "x": 1}}
    with pytest.raises(memkv.InvalidArgument, match="mixes operators and fields"):
        store.search(("a",), filter=mixed)
    with pytest.raises(ValueError, match="Unsupported operator"):
        reference.search(("a",), filter=mixed)
