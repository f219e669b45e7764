from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import memkv
from job_journal import JobJournal, WalEvent, WalEventType
from tests.conftest import open_backend


def event(
    job_id: str,
    ts: int = 1715800000,
    type: WalEventType = WalEventType.JOB_STARTED,  # noqa: A002
    **fields: object,
) -> WalEvent:
    return WalEvent(ts=ts, type=type, job_id=job_id, **fields)  # type: ignore[arg-type]


@pytest.fixture
def journal(backend_name: str, tmp_path: Path) -> Iterator[JobJournal]:
    mem: memkv.Memory = open_backend(backend_name, tmp_path)
    yield JobJournal(mem)
    mem.close()
