"""Hypothesis strategies for enhance_log's records, for tests of code built on it
(see `memkv.testing.strategies` for keys, names and contents)."""

from __future__ import annotations

from hypothesis import strategies as st

from enhance_log.types import EnhanceLogEntry, VerdictSummary
from memkv.testing import strategies as mst


def enhance_log_entries() -> st.SearchStrategy[EnhanceLogEntry]:
    """`enhance_log.EnhanceLogEntry` values."""
    return st.builds(
        EnhanceLogEntry,
        issue_id=mst.ids(),
        blueprint_id=mst.ids(),
        prev_hash=st.text("0123456789abcdef", min_size=8, max_size=64),
        new_hash=st.text("0123456789abcdef", max_size=64),
        intent=st.text(max_size=200),
        rationale=st.text(max_size=200),
        verdicts=st.lists(
            st.builds(
                VerdictSummary,
                axis=st.sampled_from(["des", "canonical", "noop", "agent-ref"]),
                status=st.sampled_from(["pass", "deny"]),
                detail=st.text(max_size=80),
            ),
            max_size=4,
        ).map(tuple),
        status=st.sampled_from(["applied", "rejected"]),
        reasons=st.lists(st.text(max_size=60), max_size=3).map(tuple),
        ts_ms=st.integers(0, 2**48),
    )


__all__ = ["enhance_log_entries"]
