"""LangGraph on memkv (the ``memkv[langgraph]`` extra): the long-term store
(`MemkvStore`, `AsyncMemkvStore`), the checkpointer and the node cache, each over
any `memkv.Memory`. The memkv core never imports this package."""

from memkv.langgraph.items import CATEGORY
from memkv.langgraph.store import AsyncMemkvStore, MemkvStore

__all__ = ["CATEGORY", "AsyncMemkvStore", "MemkvStore"]

from memkv.langgraph.node_cache import MemkvCache

__all__ += ["MemkvCache"]

from memkv.langgraph.checkpoint import MemkvSaver  # noqa: E402 - each part adds its own lines

__all__ += ["MemkvSaver"]
