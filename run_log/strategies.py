"""Hypothesis strategies for run_log's records, for tests of code built on it
(see `memkv.testing.strategies` for keys, names and contents)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from memkv.testing import strategies as mst
from run_log.types import RunStatus, WorkflowRun


def workflow_runs() -> st.SearchStrategy[WorkflowRun]:
    """`run_log.WorkflowRun` values (timezone-aware times)."""
    started = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
    return st.builds(
        WorkflowRun,
        id=mst.ids(),
        workflow_id=mst.ids(),
        status=st.sampled_from(RunStatus),
        started_at=started,
        finished_at=st.none() | started.map(lambda moment: moment + timedelta(seconds=5)),
        error=st.none() | st.text(max_size=200),
        metadata=st.dictionaries(st.text(max_size=12), mst.contents(max_leaves=5), max_size=4),
    )


__all__ = ["workflow_runs"]
