"""Hypothesis strategies for sop_audit's records, for tests of code built on it
(see `memkv.testing.strategies` for keys, names and contents)."""

from __future__ import annotations

from hypothesis import strategies as st

from memkv.testing import strategies as mst
from sop_audit.types import (
    SopEvent,
    SopRun,
    SopRunStatus,
    SopStepResult,
    SopStepStatus,
    SopTriggerSource,
)


def sop_step_results() -> st.SearchStrategy[SopStepResult]:
    return st.builds(
        SopStepResult,
        step_number=st.integers(0, 10_000),
        status=st.sampled_from(SopStepStatus),
        output=st.text(max_size=200),
        started_at=mst.iso8601(),
        completed_at=st.none() | mst.iso8601(),
    )


def sop_runs() -> st.SearchStrategy[SopRun]:
    """`sop_audit.SopRun` values."""
    return st.builds(
        SopRun,
        run_id=mst.ids(),
        sop_name=mst.ids(),
        trigger_event=st.builds(
            SopEvent,
            source=st.sampled_from(SopTriggerSource),
            topic=st.none() | st.text(max_size=40),
            payload=st.none() | st.text(max_size=200),
            timestamp=mst.iso8601(),
        ),
        status=st.sampled_from(SopRunStatus),
        current_step=st.integers(0, 100),
        total_steps=st.integers(0, 100),
        started_at=mst.iso8601(),
        completed_at=st.none() | mst.iso8601(),
        step_results=st.lists(sop_step_results(), max_size=4).map(tuple),
        waiting_since=st.none() | mst.iso8601(),
        llm_calls_saved=st.integers(0, 1_000),
    )


__all__ = ["sop_runs", "sop_step_results"]
