"""Running an async twin (`AsyncSopAuditLogger`, ...) through the sync classes'
behaviour tests: `Blocking` drives its coroutines to completion one call at a time,
so a test written against the sync class runs unchanged against the twin."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any


class Blocking:
    """The twin's attributes; its coroutine methods, run on ``runner``'s loop.
    ``memory`` is the `memkv.Memory` underneath, as on the sync classes."""

    def __init__(self, twin: Any, runner: asyncio.Runner) -> None:
        self._twin = twin
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        if name == "memory":
            return self._twin.memory.memory
        attribute = getattr(self._twin, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute
        return self._blocking(attribute)

    def _blocking(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            return self._runner.run(method(*args, **kwargs))

        return call

    def __len__(self) -> int:
        return len(self._twin)

    def __repr__(self) -> str:
        return f"Blocking({self._twin!r})"
