from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

import memkv
from memkv.aio import AsyncMemory
from sop_audit import (
    SopAuditLogger,
    SopEvent,
    SopRun,
    SopRunStatus,
    SopStepResult,
    SopStepStatus,
    SopTriggerSource,
)
from sop_audit.aio import AsyncSopAuditLogger
from tests.conftest import open_backend
from tests.twins import Blocking


def make_run(run_id: str = "run-test-001", **changes: object) -> SopRun:
    """revka's test_run()."""
    run = SopRun(
        run_id=run_id,
        sop_name="test-sop",
        trigger_event=SopEvent(
            source=SopTriggerSource.MANUAL,
            topic=None,
            payload=None,
            timestamp="2026-02-19T12:00:00Z",
        ),
        status=SopRunStatus.RUNNING,
        current_step=1,
        total_steps=3,
        started_at="2026-02-19T12:00:00Z",
        completed_at=None,
        step_results=(),
        waiting_since=None,
        llm_calls_saved=0,
    )
    return run.evolve(**changes) if changes else run


def step_result(n: int, **changes: object) -> SopStepResult:
    """revka's test_step_result()."""
    fields: dict[str, object] = {
        "step_number": n,
        "status": SopStepStatus.COMPLETED,
        "output": f"Step {n} completed",
        "started_at": "2026-02-19T12:00:00Z",
        "completed_at": "2026-02-19T12:00:05Z",
    }
    fields.update(changes)
    return SopStepResult(**fields)  # type: ignore[arg-type]


@pytest.fixture
def logger(
    backend_name: str, tmp_path: Path, flavour: str, runner: asyncio.Runner
) -> Iterator[SopAuditLogger]:
    """The class on each backend, and its async twin (through `Blocking`)."""
    mem: memkv.Memory = open_backend(backend_name, tmp_path)
    if flavour == "sync":
        yield SopAuditLogger(mem)
    else:
        yield cast(SopAuditLogger, Blocking(AsyncSopAuditLogger(AsyncMemory(mem)), runner))
    mem.close()
