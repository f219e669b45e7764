"""LangGraph on memkv (the ``memkv[langgraph]`` extra): the long-term store
(`MemkvStore`, `AsyncMemkvStore`), the checkpointer and the node cache, each over
any `memkv.Memory`. The memkv core never imports this package."""

from memkv.langgraph.checkpoint import MemkvSaver

__all__ = ["MemkvSaver"]
