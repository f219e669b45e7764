"""LangGraph's own checkpointer suite (`langgraph-checkpoint-conformance`) against
`MemkvSaver` on each backend: all 8 capabilities detected, every test of each passing."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES

from memkv.langgraph import MemkvSaver
from tests.conftest import open_backend

pytestmark = pytest.mark.anyio


async def test_every_capability_detected_and_passing(backend_name: str, tmp_path: Path) -> None:
    stores = itertools.count()

    @checkpointer_test(name=f"MemkvSaver on {backend_name}")
    async def fresh_saver() -> AsyncIterator[MemkvSaver]:
        # one fresh store per capability suite, as the suite asks
        memory = open_backend(backend_name, tmp_path / f"suite-{next(stores)}")
        try:
            yield MemkvSaver(memory)
        finally:
            memory.close()

    report = await validate(fresh_saver)
    results = report.results
    assert set(results) == {capability.value for capability in ALL_CAPABILITIES}
    failures = {name: result.failures for name, result in results.items() if not result.passed}
    assert failures == {}
    for name, result in results.items():
        assert result.detected, name
        assert result.tests_passed > 0, name
        assert result.tests_failed == 0, name
    assert next(stores) == 8  # a store for each capability
