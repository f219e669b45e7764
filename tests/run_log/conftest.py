from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest

import memkv
from memkv.aio import AsyncMemory
from run_log import MemoryRunLog, RunStatus, WorkflowRun
from run_log.aio import AsyncRunLog
from tests.conftest import open_backend
from tests.twins import Blocking

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def make_run(
    run_id: str,
    workflow_id: str = "bank_to_ynab",
    minute: int = 0,
    status: RunStatus = RunStatus.RUNNING,
    **changes: object,
) -> WorkflowRun:
    run = WorkflowRun(
        id=run_id, workflow_id=workflow_id, status=status, started_at=T0 + timedelta(minutes=minute)
    )
    return run.evolve(**changes) if changes else run


@pytest.fixture
def log(
    backend_name: str, tmp_path: Path, flavour: str, runner: asyncio.Runner
) -> Iterator[MemoryRunLog]:
    """The class on each backend, and its async twin (through `Blocking`)."""
    mem: memkv.Memory = open_backend(backend_name, tmp_path)
    if flavour == "sync":
        yield MemoryRunLog(mem)
    else:
        yield cast(MemoryRunLog, Blocking(AsyncRunLog(AsyncMemory(mem)), runner))
    mem.close()
