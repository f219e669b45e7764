from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

import memkv
from enhance_log import EnhanceLogEntry, MemoryEnhanceLogStore, VerdictSummary
from enhance_log.aio import AsyncEnhanceLogStore
from memkv.aio import AsyncMemory
from tests.conftest import open_backend
from tests.twins import Blocking


def mk_entry(issue: str, blueprint: str, ts: int, **changes: object) -> EnhanceLogEntry:
    """mlua_swarm's test entry."""
    fields: dict[str, object] = {
        "issue_id": issue,
        "blueprint_id": blueprint,
        "prev_hash": "00" * 32,
        "new_hash": "ff" * 32,
        "intent": "test intent",
        "rationale": "test rationale",
        "verdicts": [VerdictSummary(axis="des", status="pass", detail="ok")],
        "status": "applied",
        "reasons": [],
        "ts_ms": ts,
    }
    fields.update(changes)
    return EnhanceLogEntry(**fields)  # type: ignore[arg-type]


@pytest.fixture
def log(
    backend_name: str, tmp_path: Path, flavour: str, runner: asyncio.Runner
) -> Iterator[MemoryEnhanceLogStore]:
    """The class on each backend, and its async twin (through `Blocking`)."""
    mem: memkv.Memory = open_backend(backend_name, tmp_path)
    if flavour == "sync":
        yield MemoryEnhanceLogStore(mem)
    else:
        yield cast(MemoryEnhanceLogStore, Blocking(AsyncEnhanceLogStore(AsyncMemory(mem)), runner))
    mem.close()
