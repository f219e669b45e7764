"""`run_log.strategies` draws records that run_log's own API stores and gives back
unchanged."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

import memkv
from run_log import MemoryRunLog, strategies


@settings(max_examples=60)
@given(strategies.workflow_runs())
def test_workflow_runs_round_trip(run: Any) -> None:
    with memkv.open(memkv.IN_MEMORY) as memory:
        runs = MemoryRunLog(memory)
        runs.save_run(run)
        assert runs.get_run(run.workflow_id, run.id) == run
