"""The run log's operations as transaction functions (on a `memkv.Transaction`) and
read functions (on a read view): the sync log and its async twin both run these."""

from __future__ import annotations

from typing import Final

import memkv
from memkv.entry import check_record
from memkv.keys import decode_cursor, encode_cursor
from memkv.query import check_limit
from run_log.keys import (
    CATEGORY,
    PAUSED_PREFIX,
    micros,
    paused_key,
    run_key,
    stats_key,
    time_key,
    time_prefix,
)
from run_log.types import RunStatus, WorkflowRun, WorkflowStats

_POSITION: Final = (int, str)  # (started_us, run_id): a list_runs cursor


def _typed(view: memkv.Reader, key: str, record_type: type) -> object:
    try:
        found = view.get(key, type=record_type)
    except memkv.TypeMismatch as exc:
        raise memkv.CorruptRecord(
            f"run log record {key!r} is not a {record_type.__name__}: {exc}", key=key
        ) from exc
    return None if found is None else found.content


def _listed(view: memkv.Reader, prefix: str, **options: object) -> list[WorkflowRun]:
    try:
        return [e.content for e in view.list(prefix=prefix, type=WorkflowRun, **options)]  # type: ignore[arg-type]
    except memkv.TypeMismatch as exc:
        raise memkv.CorruptRecord(
            f"run log record {exc.key!r} is not a WorkflowRun: {exc}", key=exc.key
        ) from exc


def _stats(view: memkv.Reader, workflow_id: str) -> WorkflowStats:
    stats = _typed(view, stats_key(workflow_id), WorkflowStats)
    return stats if isinstance(stats, WorkflowStats) else WorkflowStats()


def get_run(view: memkv.Reader, workflow_id: str, run_id: str) -> WorkflowRun | None:
    pointer = _typed(view, run_key(workflow_id, run_id), str)
    if pointer is None:
        return None
    run = _typed(view, str(pointer), WorkflowRun)
    if not isinstance(run, WorkflowRun):
        raise memkv.CorruptRecord(
            f"run {run_id!r} of {workflow_id!r} points at {pointer!r}, which is absent",
            key=run_key(workflow_id, run_id),
        )
    return run


def save_run(tx: memkv.Transaction, run: WorkflowRun, max_runs_per_workflow: int | None) -> None:
    """Upsert ``run`` with its indexes and its workflow's stats, atomically: a re-save
    never counts twice, and the success count follows the status both ways.

    Raises:
        memkv.InvalidArgument: ``run`` is not a `WorkflowRun`.
        memkv.InvalidContent: a field holds another type than it declares.
    """
    check_record(run, WorkflowRun, "a run")
    previous = get_run(tx, run.workflow_id, run.id)
    stats = _stats(tx, run.workflow_id)
    if previous is not None:
        _unindex(tx, previous)
    started = micros(run.started_at)
    key = time_key(run.workflow_id, started, run.id)
    tx.store(key, run, CATEGORY)
    tx.store(run_key(run.workflow_id, run.id), key, CATEGORY)
    if run.status is RunStatus.PAUSED:
        tx.store(paused_key(started, run.workflow_id, run.id), run, CATEGORY)
    was_success = previous is not None and previous.status is RunStatus.SUCCESS
    success_change = int(run.status is RunStatus.SUCCESS) - int(was_success)
    is_new = previous is None
    stats = WorkflowStats(
        total=stats.total + is_new,
        successful=stats.successful + success_change,
        stored=stats.stored + is_new,
    )
    if max_runs_per_workflow is not None and stats.stored > max_runs_per_workflow:
        evicted = _evict_oldest(tx, run.workflow_id, stats.stored - max_runs_per_workflow)
        stats = WorkflowStats(
            total=stats.total, successful=stats.successful, stored=stats.stored - evicted
        )
    tx.store(stats_key(run.workflow_id), stats, CATEGORY)


def _unindex(tx: memkv.Transaction, run: WorkflowRun) -> None:
    started = micros(run.started_at)
    tx.forget(time_key(run.workflow_id, started, run.id))
    if run.status is RunStatus.PAUSED:
        tx.forget(paused_key(started, run.workflow_id, run.id))


def _evict_oldest(tx: memkv.Transaction, workflow_id: str, excess: int) -> int:
    """Remove up to ``excess`` of the workflow's oldest finished runs (live ones are
    never evicted: their final save would count them again). Returns how many."""
    evicted = 0
    after = None
    while evicted < excess:
        batch = _listed(tx, time_prefix(workflow_id), after=after, limit=64)
        if not batch:
            break
        for old in batch:
            if old.status.is_finished:
                _unindex(tx, old)
                tx.forget(run_key(old.workflow_id, old.id))
                evicted += 1
                if evicted == excess:
                    break
        last = batch[-1]
        after = time_key(workflow_id, micros(last.started_at), last.id)
    return evicted


def list_runs(
    view: memkv.Reader, workflow_id: str, limit: int | None, start_after: str | None
) -> tuple[list[WorkflowRun], str | None]:
    """Newest first (equal start times: by run id, descending); exact cursor.
    ``limit``: None for all, 0 for none."""
    check_limit(limit)
    prefix = time_prefix(workflow_id)
    after = None
    if start_after is not None:
        started, run_id = decode_cursor(start_after, _POSITION)
        after = time_key(workflow_id, int(started), str(run_id))
    if limit == 0:  # nothing read: no page to follow either
        return [], None
    fetch = None if limit is None else limit + 1  # one more: is there a next page?
    found = _listed(view, prefix, after=after, limit=fetch, reverse=True)
    runs = found[:limit]
    if limit is None or len(found) <= limit:
        return runs, None
    last = runs[-1]
    return runs, encode_cursor((micros(last.started_at), last.id))


def get_latest_run(view: memkv.Reader, workflow_id: str) -> WorkflowRun | None:
    found = _listed(view, time_prefix(workflow_id), limit=1, reverse=True)
    return found[0] if found else None


def get_stats(view: memkv.Reader, workflow_id: str) -> dict[str, int]:
    stats = _stats(view, workflow_id)
    return {"total": stats.total, "successful": stats.successful}


def get_pending_runs(view: memkv.Reader) -> list[WorkflowRun]:
    """Every workflow's paused runs, newest first."""
    return _listed(view, PAUSED_PREFIX, reverse=True)
