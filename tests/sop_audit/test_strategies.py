"""`sop_audit.strategies` draws records that sop_audit's own API stores and gives back
unchanged."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

import memkv
from sop_audit import SopAuditLogger, strategies


@settings(max_examples=60)
@given(strategies.sop_runs(), strategies.sop_step_results())
def test_sop_records_round_trip(run: Any, step: Any) -> None:
    with memkv.open(memkv.IN_MEMORY) as memory:
        audit = SopAuditLogger(memory)
        audit.log_run_start(run)
        audit.log_step_result(run.run_id, step)
        assert audit.get_run(run.run_id) == run
        assert audit.list_steps(run.run_id) == [step]
