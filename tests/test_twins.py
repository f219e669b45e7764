"""Each domain class and its async twin offer the same operations: a method of the
sync class is a coroutine of the twin, with the same parameters."""

from __future__ import annotations

import inspect

import pytest

from enhance_log import MemoryEnhanceLogStore
from enhance_log.aio import AsyncEnhanceLogStore
from job_journal import JobJournal
from job_journal.aio import AsyncJobJournal
from run_log import MemoryRunLog
from run_log.aio import AsyncRunLog
from sop_audit import SopAuditLogger
from sop_audit.aio import AsyncSopAuditLogger

PAIRS = [
    (SopAuditLogger, AsyncSopAuditLogger),
    (MemoryEnhanceLogStore, AsyncEnhanceLogStore),
    (MemoryRunLog, AsyncRunLog),
    (JobJournal, AsyncJobJournal),
]


def public_methods(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


@pytest.mark.parametrize(("sync", "twin"), PAIRS, ids=lambda cls: cls.__name__)
def test_the_twin_offers_every_operation_as_a_coroutine(sync: type, twin: type) -> None:
    twin_methods = public_methods(twin)
    for name, method in public_methods(sync).items():
        assert name in twin_methods, f"{twin.__name__} lacks {name}"
        assert inspect.iscoroutinefunction(twin_methods[name]), f"{twin.__name__}.{name}"
        sync_parameters = list(inspect.signature(method).parameters.values())  # type: ignore[arg-type]
        twin_parameters = list(inspect.signature(twin_methods[name]).parameters.values())  # type: ignore[arg-type]
        assert [(p.name, p.kind, p.default) for p in sync_parameters] == [
            (p.name, p.kind, p.default) for p in twin_parameters
        ], f"{twin.__name__}.{name} takes other parameters"
