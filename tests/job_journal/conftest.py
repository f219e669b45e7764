from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

import memkv
from job_journal import JobJournal, WalEvent, WalEventType
from job_journal.aio import AsyncJobJournal
from memkv.aio import AsyncMemory
from tests.conftest import open_backend
from tests.twins import Blocking


def event(
    job_id: str,
    ts: int = 1715800000,
    type: WalEventType = WalEventType.JOB_STARTED,  # noqa: A002
    **fields: object,
) -> WalEvent:
    return WalEvent(ts=ts, type=type, job_id=job_id, **fields)  # type: ignore[arg-type]


@pytest.fixture
def journal(
    backend_name: str, tmp_path: Path, flavour: str, runner: asyncio.Runner
) -> Iterator[JobJournal]:
    """The class on each backend, and its async twin (through `Blocking`)."""
    mem: memkv.Memory = open_backend(backend_name, tmp_path)
    if flavour == "sync":
        yield JobJournal(mem)
    else:
        yield cast(JobJournal, Blocking(AsyncJobJournal(AsyncMemory(mem)), runner))
    mem.close()
