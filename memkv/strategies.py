"""Hypothesis strategies for code built on memkv: keys (the awkward ones too),
categories, session ids, contents and `MemoryEntry` values that memkv accepts and
gives back unchanged, and the records of the domain packages shipped with memkv.

    from hypothesis import given
    from memkv import strategies as mst

    @given(mst.keys(), mst.contents())
    def test_remembers(memkv_memory, key, content):
        memkv_memory.store(key, content)
        assert memkv_memory.get(key).content == content

Every strategy draws only what memkv accepts (keys of 1 to 256 UTF-8 bytes, names of
1 to 64 bytes without NUL, contents msgspec encodes and decodes to an equal value:
no tuples, which come back as lists, no NaN, which equals nothing). This module is
the one place where memkv imports its domain packages: it serves tests of all of
them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

from hypothesis import strategies as st

from audit_outbox.types import AuditEntry, AuditEventType
from enhance_log.types import EnhanceLogEntry, VerdictSummary
from job_journal.types import WalEvent, WalEventType
from memkv.entry import CONVERSATION, CORE, DAILY, MemoryEntry
from memkv.keys import MAX_KEY_BYTES, MAX_NAME_BYTES, pack
from run_log.types import RunStatus, WorkflowRun
from sop_audit.types import (
    SopEvent,
    SopRun,
    SopRunStatus,
    SopStepResult,
    SopStepStatus,
    SopTriggerSource,
)

_AWKWARD: Final = "\x00\x01\x02\x7f/ é漢😀\u202e\u0301\ufeff"
_INT64_MIN: Final = -(2**63)
_UINT64_MAX: Final = 2**64 - 1
_EARLIEST: Final = datetime(1970, 1, 1)
_LATEST: Final = datetime(2200, 1, 1)


def _utf8_at_most(limit: int) -> Any:
    return lambda text: len(text.encode("utf-8")) <= limit


# -- keys and names ----------------------------------------------------------------------


def keys() -> st.SearchStrategy[str]:
    """Valid memkv keys: paths, any text, packed tuples, control characters and NUL,
    right-to-left marks, and keys of exactly `MAX_KEY_BYTES` bytes."""
    return st.one_of(
        st.lists(
            st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=8),
            min_size=1,
            max_size=5,
        ).map("/".join),
        st.text(min_size=1, max_size=MAX_KEY_BYTES // 4),
        st.text(_AWKWARD, min_size=1, max_size=MAX_KEY_BYTES // 4),
        packed_keys(),
        st.sampled_from(["k", "é", "漢", "😀"]).map(
            lambda char: char * (MAX_KEY_BYTES // len(char.encode("utf-8")))
        ),
    )


def packed_keys() -> st.SearchStrategy[str]:
    """Keys made with `memkv.keys.pack` from tuples of strings and integers."""
    part = st.one_of(st.text(max_size=12), st.integers(-(2**64), 2**64))
    return (
        st.lists(part, min_size=1, max_size=5)
        .map(lambda parts: pack(tuple(parts)))
        .filter(_utf8_at_most(MAX_KEY_BYTES))
    )


def names() -> st.SearchStrategy[str]:
    """Valid category and session names: 1 to `MAX_NAME_BYTES` bytes, no NUL."""
    return st.one_of(
        st.sampled_from([CORE, DAILY, CONVERSATION]),
        st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=16),
        st.text(
            st.characters(exclude_characters="\x00"), min_size=1, max_size=MAX_NAME_BYTES
        ).filter(_utf8_at_most(MAX_NAME_BYTES)),
    )


def categories() -> st.SearchStrategy[str]:
    return names()


def session_ids() -> st.SearchStrategy[str | None]:
    """Session ids, or ``None`` (no session)."""
    return st.none() | names()


# -- contents and entries ------------------------------------------------------------------


def utc_datetimes() -> st.SearchStrategy[datetime]:
    return st.datetimes(_EARLIEST, _LATEST, timezones=st.just(UTC))


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(_INT64_MIN, _UINT64_MAX),
        st.floats(allow_nan=False),
        st.text(),
        st.binary(),
        utc_datetimes(),
    )


def contents(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Contents that round-trip: scalars, lists and string-keyed maps of them."""
    return st.recursive(
        scalars(),
        lambda inner: (
            st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
        ),
        max_leaves=max_leaves,
    )


def entry_ids() -> st.SearchStrategy[str]:
    return st.text("0123456789abcdef", min_size=32, max_size=32)


def entries(content: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[MemoryEntry[Any]]:
    """`MemoryEntry` values as memkv stores them (``score`` unset)."""
    return st.builds(
        MemoryEntry,
        id=entry_ids(),
        key=keys(),
        content=contents() if content is None else content,
        category=categories(),
        timestamp=utc_datetimes(),
        session_id=session_ids(),
    )


# -- domain records ----------------------------------------------------------------------------


def ids() -> st.SearchStrategy[str]:
    """Identifiers for domain records: non-empty, at most 96 UTF-8 bytes (so that the
    keys built from two of them fit)."""
    return st.text(min_size=1, max_size=24)


def _iso8601() -> st.SearchStrategy[str]:
    return st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1)).map(
        lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def sop_step_results() -> st.SearchStrategy[SopStepResult]:
    return st.builds(
        SopStepResult,
        step_number=st.integers(0, 10_000),
        status=st.sampled_from(SopStepStatus),
        output=st.text(max_size=200),
        started_at=_iso8601(),
        completed_at=st.none() | _iso8601(),
    )


def sop_runs() -> st.SearchStrategy[SopRun]:
    """`sop_audit.SopRun` values."""
    return st.builds(
        SopRun,
        run_id=ids(),
        sop_name=ids(),
        trigger_event=st.builds(
            SopEvent,
            source=st.sampled_from(SopTriggerSource),
            topic=st.none() | st.text(max_size=40),
            payload=st.none() | st.text(max_size=200),
            timestamp=_iso8601(),
        ),
        status=st.sampled_from(SopRunStatus),
        current_step=st.integers(0, 100),
        total_steps=st.integers(0, 100),
        started_at=_iso8601(),
        completed_at=st.none() | _iso8601(),
        step_results=st.lists(sop_step_results(), max_size=4).map(tuple),
        waiting_since=st.none() | _iso8601(),
        llm_calls_saved=st.integers(0, 1_000),
    )


def enhance_log_entries() -> st.SearchStrategy[EnhanceLogEntry]:
    """`enhance_log.EnhanceLogEntry` values."""
    return st.builds(
        EnhanceLogEntry,
        issue_id=ids(),
        blueprint_id=ids(),
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


def workflow_runs() -> st.SearchStrategy[WorkflowRun]:
    """`run_log.WorkflowRun` values (timezone-aware times)."""
    started = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
    return st.builds(
        WorkflowRun,
        id=ids(),
        workflow_id=ids(),
        status=st.sampled_from(RunStatus),
        started_at=started,
        finished_at=st.none() | started.map(lambda moment: moment + timedelta(seconds=5)),
        error=st.none() | st.text(max_size=200),
        metadata=st.dictionaries(st.text(max_size=12), contents(max_leaves=5), max_size=4),
    )


def wal_events() -> st.SearchStrategy[WalEvent]:
    """`job_journal.WalEvent` values (``seq`` unset: the journal assigns it)."""
    json_values = st.integers(_INT64_MIN, _UINT64_MAX) | st.text(max_size=20)
    json_maps = st.none() | st.dictionaries(st.text(max_size=12), json_values, max_size=4)
    return st.builds(
        WalEvent,
        ts=st.integers(0, 2**40),
        type=st.sampled_from(WalEventType),
        job_id=ids(),
        capability=st.none() | st.text(max_size=40),
        output=st.none() | st.text(max_size=200) | st.integers(_INT64_MIN, _UINT64_MAX),
        error=st.none() | st.text(max_size=200),
        telemetry_before=json_maps,
        telemetry_after=json_maps,
        process_before=json_maps,
        process_after=json_maps,
    )


def audit_entries() -> st.SearchStrategy[AuditEntry]:
    """`audit_outbox.AuditEntry` values."""
    return st.builds(
        AuditEntry,
        seq=st.integers(0, 2**62),
        timestamp=st.integers(0, 2**48),
        event_type=st.sampled_from(AuditEventType),
        agent_id=st.uuids(),
        session_id=st.uuids(),
        payload=st.text(max_size=200),
        hash=st.binary(min_size=32, max_size=32),
    )


__all__ = [
    "audit_entries",
    "categories",
    "contents",
    "enhance_log_entries",
    "entries",
    "entry_ids",
    "ids",
    "keys",
    "names",
    "packed_keys",
    "scalars",
    "session_ids",
    "sop_runs",
    "sop_step_results",
    "utc_datetimes",
    "wal_events",
    "workflow_runs",
]
