from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import memkv
from enhance_log import EnhanceLogEntry, MemoryEnhanceLogStore, VerdictSummary
from tests.conftest import open_backend


def mk_entry(issue: str, blueprint: str, ts: int, **changes: object) -> EnhanceLogEntry:
    """The seed's test entry."""
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
def log(backend_name: str, tmp_path: Path) -> Iterator[MemoryEnhanceLogStore]:
    mem: memkv.Memory = open_backend(backend_name, tmp_path)
    yield MemoryEnhanceLogStore(mem)
    mem.close()
