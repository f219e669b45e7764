"""LangGraph on memkv (the ``memkv[langgraph]`` extra), each part over any
`memkv.Memory`: the long-term store (`MemkvStore`, `AsyncMemkvStore`), the
checkpointer (`MemkvSaver`) and the node cache (`MemkvCache`). The memkv core never
imports this package."""

from memkv.langgraph.checkpoint import MemkvSaver
from memkv.langgraph.items import CATEGORY
from memkv.langgraph.node_cache import MemkvCache
from memkv.langgraph.store import AsyncMemkvStore, MemkvStore

__all__ = ["CATEGORY", "AsyncMemkvStore", "MemkvCache", "MemkvSaver", "MemkvStore"]
