"""The SOP audit trail's operations as transaction functions (writes, on a
`memkv.Transaction`) and read functions (on a read view): the sync logger and its
async twin both run these.

Every write is idempotent: logging a record identical to the stored one changes
nothing (no new timeline event either).
"""

from __future__ import annotations

from typing import Any, Final, Protocol

import memkv
from memkv.entry import check_record
from memkv.keys import decode_cursor, encode_cursor, unpack
from memkv.query import check_limit
from sop_audit.keys import (
    CATEGORY,
    RUNS_PREFIX,
    decision_key,
    event_key,
    events_prefix,
    index_keys,
    index_prefix,
    run_key,
    step_key,
    steps_prefix,
)
from sop_audit.types import (
    SopAuditEvent,
    SopAuditEventKind,
    SopRun,
    SopRunPage,
    SopRunStatus,
    SopStepResult,
    StaleSweepReport,
    now_iso8601,
)

_NO_STEP: Final = -1  # decision keys need a step number; revka's are per step
_RUN_ID: Final = (str,)  # the shape of a run listing's cursor


class Gets(Protocol):
    """What reads a record: a read view, a transaction, or a `memkv.Memory` itself
    (whose ``get`` is served by its read cache)."""

    def get(self, key: str, type: Any = None) -> memkv.MemoryEntry[Any] | None: ...  # noqa: A002


def read_run(view: Gets, run_id: str) -> SopRun | None:
    """The stored run, or ``None``.

    Raises:
        memkv.CorruptRecord: the record cannot be read as a `SopRun` (names the key).
    """
    run: SopRun | None = _typed(view, run_key(run_id), SopRun)
    return run


def _typed(view: Gets, key: str, record_type: type) -> Any:
    """The content at ``key`` decoded as ``record_type``; a record of another shape
    under an audit key is corruption, not a caller's mistake."""
    try:
        found = view.get(key, type=record_type)
    except memkv.TypeMismatch as exc:
        raise memkv.CorruptRecord(
            f"audit record {key!r} is not a {record_type.__name__}: {exc}", key=key
        ) from exc
    return None if found is None else found.content


def log_run(tx: memkv.Transaction, run: SopRun, kind: SopAuditEventKind) -> bool:
    """Store ``run`` (start, completion, stale mark) with its indexes and a timeline
    event (a start of a run already logged is an update); ``False`` (and nothing
    written) if the stored run is identical.

    Raises:
        memkv.InvalidArgument: ``run`` is not a `SopRun`.
        memkv.InvalidContent: a field holds another type than it declares.
    """
    check_record(run, SopRun, "a run")
    previous = read_run(tx, run.run_id)
    if previous == run:
        return False
    if kind is SopAuditEventKind.RUN_STARTED and previous is not None:
        kind = SopAuditEventKind.RUN_UPDATED
    key = run_key(run.run_id)
    tx.store(key, run, CATEGORY)
    new_index = index_keys(run.run_id, run.sop_name, run.status)
    if previous is not None:
        for old in index_keys(previous.run_id, previous.sop_name, previous.status):
            if old not in new_index:
                tx.forget(old)
    for index_key in new_index:
        tx.store(index_key, run.run_id, CATEGORY)
    _append_event(tx, run.run_id, kind, run=run)
    return True


def log_step_result(tx: memkv.Transaction, run_id: str, result: SopStepResult) -> bool:
    """Store a step result and a timeline event; ``False`` if identical to the stored.

    Raises:
        memkv.InvalidArgument: ``result`` is not a `SopStepResult`.
        memkv.InvalidContent: a field holds another type than it declares.
    """
    check_record(result, SopStepResult, "a step result")
    key = step_key(run_id, result.step_number)
    if _typed(tx, key, SopStepResult) == result:
        return False
    tx.store(key, result, CATEGORY)
    _append_event(
        tx, run_id, SopAuditEventKind.STEP_RESULT, step_number=result.step_number, step=result
    )
    return True


def log_decision(
    tx: memkv.Transaction, run: SopRun, step_number: int, kind: SopAuditEventKind
) -> bool:
    """Record an approval or timeout decision for a step (the run as it was then) and
    a timeline event; ``False`` if this decision was already logged identically.

    Raises:
        memkv.InvalidArgument: ``run`` is not a `SopRun`.
        memkv.InvalidContent: a field holds another type than it declares.
    """
    check_record(run, SopRun, "a run")
    key = decision_key(run.run_id, step_number, kind)
    if _typed(tx, key, SopRun) == run:
        return False
    tx.store(key, run, CATEGORY)
    _append_event(tx, run.run_id, kind, step_number=step_number, run=run)
    return True


def _append_event(
    tx: memkv.Transaction, run_id: str, kind: SopAuditEventKind, **fields: Any
) -> None:
    last = tx.keys(prefix=events_prefix(run_id), reverse=True, limit=1)
    seq = 0 if not last else int(unpack(last[0])[-1]) + 1
    event = SopAuditEvent(seq=seq, kind=kind, run_id=run_id, recorded_at=now_iso8601(), **fields)
    tx.store(event_key(run_id, seq), event, CATEGORY)


def fail_if_interrupted(tx: memkv.Transaction, run_id: str, completed_at: str) -> bool:
    """Mark the run Failed if it is still Pending, Running or WaitingApproval (checked
    again inside the transaction); ``True`` if it was marked."""
    run = read_run(tx, run_id)
    if run is None or not run.status.is_interrupted_by_restart:
        return False
    failed = run.evolve(status=SopRunStatus.FAILED, completed_at=run.completed_at or completed_at)
    return log_run(tx, failed, SopAuditEventKind.MARKED_STALE)


def sweep(tx: memkv.Transaction, completed_at: str | None) -> StaleSweepReport:
    """Fail every interrupted run (see `fail_if_interrupted`), setting
    ``completed_at`` (now, unless given) where unset; a run whose record cannot be
    read is reported and skipped, not fatal."""
    completed_at = completed_at or now_iso8601()
    marked: list[str] = []
    corrupt: list[str] = []
    for run_id in interrupted_run_ids(tx):
        try:
            if fail_if_interrupted(tx, run_id, completed_at):
                marked.append(run_id)
        except memkv.CorruptRecord:
            corrupt.append(run_id)
    return StaleSweepReport(marked=marked, corrupt=corrupt)


def interrupted_run_ids(view: memkv.Reader) -> list[str]:
    """Runs in an interrupted status, from the status index (not every run)."""
    ids: list[str] = []
    for status in (SopRunStatus.PENDING, SopRunStatus.RUNNING, SopRunStatus.WAITING_APPROVAL):
        ids += [str(unpack(key)[-1]) for key in view.keys(prefix=index_prefix(status, None))]
    return ids


def run_ids(view: memkv.Reader) -> list[str]:
    return [str(unpack(key)[-1]) for key in view.keys(prefix=RUNS_PREFIX)]


def steps(view: memkv.Reader, run_id: str) -> list[SopStepResult]:
    return [entry.content for entry in _listed(view, steps_prefix(run_id), SopStepResult)]


def timeline(view: memkv.Reader, run_id: str) -> list[SopAuditEvent]:
    return [entry.content for entry in _listed(view, events_prefix(run_id), SopAuditEvent)]


def _listed(view: memkv.Reader, prefix: str, record_type: type) -> list[memkv.MemoryEntry[Any]]:
    try:
        return view.list(prefix=prefix, type=record_type)
    except memkv.TypeMismatch as exc:
        raise memkv.CorruptRecord(
            f"audit record {exc.key!r} is not a {record_type.__name__}: {exc}", key=exc.key
        ) from exc


def find_runs(
    view: memkv.Reader,
    status: SopRunStatus | None,
    sop_name: str | None,
    limit: int | None,
    cursor: str | None,
) -> SopRunPage:
    """Runs in run_id order, filtered by status and/or SOP name, after ``cursor``."""
    check_limit(limit)
    prefix = index_prefix(status, sop_name)
    after = None if cursor is None else prefix + memkv.keys.pack(decode_cursor(cursor, _RUN_ID))
    if limit == 0:  # nothing read: no page to follow either
        return SopRunPage(runs=[], next_cursor=None)
    fetch = None if limit is None else limit + 1
    keys = view.keys(prefix=prefix, after=after, limit=fetch)
    more = limit is not None and len(keys) > limit
    ids = [str(unpack(key)[-1]) for key in keys[:limit]]
    runs = []
    for run_id in ids:
        run = read_run(view, run_id)
        if run is None:
            raise memkv.CorruptRecord(
                f"the run index names {run_id!r}, which is absent", key=run_key(run_id)
            )
        runs.append(run)
    next_cursor = encode_cursor((ids[-1],)) if more else None
    return SopRunPage(runs=runs, next_cursor=next_cursor)
