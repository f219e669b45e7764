"""Hypothesis strategies for job_journal's records, for tests of code built on it
(see `memkv.testing.strategies` for keys, names and contents)."""

from __future__ import annotations

from hypothesis import strategies as st

from job_journal.types import WalEvent, WalEventType
from memkv.testing import strategies as mst


def wal_events() -> st.SearchStrategy[WalEvent]:
    """`job_journal.WalEvent` values (``seq`` unset: the journal assigns it)."""
    json_values = st.integers(mst.INT64_MIN, mst.UINT64_MAX) | st.text(max_size=20)
    json_maps = st.none() | st.dictionaries(st.text(max_size=12), json_values, max_size=4)
    return st.builds(
        WalEvent,
        ts=st.integers(0, 2**40),
        type=st.sampled_from(WalEventType),
        job_id=mst.ids(),
        capability=st.none() | st.text(max_size=40),
        output=st.none() | st.text(max_size=200) | st.integers(mst.INT64_MIN, mst.UINT64_MAX),
        error=st.none() | st.text(max_size=200),
        telemetry_before=json_maps,
        telemetry_after=json_maps,
        process_before=json_maps,
        process_after=json_maps,
    )


__all__ = ["wal_events"]
