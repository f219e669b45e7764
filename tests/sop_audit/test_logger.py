"""revka's six tests on every backend, then what the port adds."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

import memkv
from sop_audit import (
    SopAuditEventKind,
    SopAuditLogger,
    SopRunPage,
    SopRunStatus,
    SopStepStatus,
)
from sop_audit.keys import CATEGORY, run_key, step_key
from tests.sop_audit.conftest import make_run, step_result

# -- revka's tests ------------------------------------------------------------------------


def test_audit_roundtrip(logger: SopAuditLogger) -> None:
    run = make_run()
    logger.log_run_start(run)
    step = step_result(1)
    logger.log_step_result(run.run_id, step)
    completed = run.evolve(
        status=SopRunStatus.COMPLETED, completed_at="2026-02-19T12:05:00Z", step_results=[step]
    )
    logger.log_run_complete(completed)
    retrieved = logger.get_run("run-test-001")
    assert retrieved is not None
    assert retrieved.run_id == "run-test-001"
    assert retrieved.status == SopRunStatus.COMPLETED
    assert len(retrieved.step_results) == 1
    assert "run-test-001" in logger.list_runs()  # run ids, not storage keys


@pytest.mark.parametrize(
    ("log_decision", "kind"),
    [
        ("log_approval", SopAuditEventKind.APPROVED),
        ("log_timeout_auto_approve", SopAuditEventKind.TIMEOUT_AUTO_APPROVED),
        ("log_timeout_held", SopAuditEventKind.TIMEOUT_HELD),
    ],
)
def test_decision_persists_entry(
    logger: SopAuditLogger, log_decision: str, kind: SopAuditEventKind
) -> None:
    """revka's log_approval_persists_entry, log_timeout_auto_approve_persists_entry
    and log_timeout_held_persists_entry."""
    run = make_run()
    getattr(logger, log_decision)(run, 1)
    decisions = [
        e for e in logger.memory.list(CATEGORY) if memkv.keys.unpack(e.key)[1] == "decision"
    ]
    assert len(decisions) == 1
    assert memkv.keys.unpack(decisions[0].key)[2] == "run-test-001"
    [event] = logger.timeline("run-test-001")
    assert (event.kind, event.step_number, event.run) == (kind, 1, run)


def test_mark_stale_runs_fails_non_terminal_and_leaves_terminal(logger: SopAuditLogger) -> None:
    def persist(run_id: str, status: SopRunStatus) -> None:
        run = make_run(run_id, status=status)
        if status.is_terminal:
            logger.log_run_complete(run)
        else:
            logger.log_run_start(run)

    persist("run-running", SopRunStatus.RUNNING)
    persist("run-waiting", SopRunStatus.WAITING_APPROVAL)
    persist("run-completed", SopRunStatus.COMPLETED)
    persist("run-paused", SopRunStatus.PAUSED_CHECKPOINT)
    assert logger.mark_stale_runs() == 2

    def status_of(run_id: str) -> SopRunStatus:
        run = logger.get_run(run_id)
        assert run is not None
        return run.status

    assert status_of("run-running") == SopRunStatus.FAILED
    assert status_of("run-waiting") == SopRunStatus.FAILED
    assert status_of("run-completed") == SopRunStatus.COMPLETED
    assert status_of("run-paused") == SopRunStatus.PAUSED_CHECKPOINT
    failed = logger.get_run("run-running")
    assert failed is not None
    assert failed.completed_at is not None
    assert logger.mark_stale_runs() == 0  # idempotent


def test_a_record_that_is_no_struct_of_its_type_is_refused(logger: SopAuditLogger) -> None:
    """A dict used to raise AttributeError; a str where an int is declared used to be
    stored, and then the trail could not be read."""
    as_dict = {"run_id": "r", "sop_name": "s"}
    calls: list[Callable[[], object]] = [
        lambda: logger.log_run_start(as_dict),  # type: ignore[arg-type]
        lambda: logger.log_approval(as_dict, 1),  # type: ignore[arg-type]
        lambda: logger.log_step_result("r", {"step_number": 1}),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(memkv.InvalidArgument, match=r"must be of type Sop.*, not dict"):
            call()
    with pytest.raises(memkv.InvalidContent, match="current_step"):
        logger.log_run_start(make_run("r", current_step="1"))
    with pytest.raises(memkv.InvalidContent, match="step_number"):
        logger.log_step_result("r", step_result(1.5))  # type: ignore[arg-type]
    assert logger.list_runs() == []
    assert logger.timeline("r") == []


def test_get_nonexistent_run_returns_none(logger: SopAuditLogger) -> None:
    assert logger.get_run("nonexistent") is None


# -- beyond the original ------------------------------------------------------------------


def test_pending_runs_are_marked_and_completed_at_is_kept(logger: SopAuditLogger) -> None:
    logger.log_run_start(make_run("p", status=SopRunStatus.PENDING, completed_at="earlier"))
    assert logger.mark_stale_runs(completed_at="2026-03-01T00:00:00Z") == 1
    run = logger.get_run("p")
    assert run is not None
    assert (run.status, run.completed_at) == (SopRunStatus.FAILED, "earlier")
    assert [e.kind for e in logger.timeline("p")] == [
        SopAuditEventKind.RUN_STARTED,
        SopAuditEventKind.MARKED_STALE,
    ]


def test_steps_in_step_order(logger: SopAuditLogger) -> None:
    for n in (10, 9, 2, 1, 11):
        logger.log_step_result("r", step_result(n))
    assert [s.step_number for s in logger.list_steps("r")] == [1, 2, 9, 10, 11]


def test_timeline_in_the_order_things_happened(logger: SopAuditLogger) -> None:
    run = make_run("r", status=SopRunStatus.RUNNING)
    logger.log_run_start(run)
    logger.log_step_result("r", step_result(1))
    waiting = run.evolve(status=SopRunStatus.WAITING_APPROVAL, waiting_since="12:01")
    logger.log_timeout_held(waiting, 2)
    logger.log_approval(waiting, 2)
    logger.log_step_result("r", step_result(2))
    logger.log_step_result("r", step_result(1, status=SopStepStatus.FAILED))  # a later result
    logger.log_run_complete(run.evolve(status=SopRunStatus.COMPLETED))
    events = logger.timeline("r")
    assert [(e.kind, e.step_number) for e in events] == [
        (SopAuditEventKind.RUN_STARTED, None),
        (SopAuditEventKind.STEP_RESULT, 1),
        (SopAuditEventKind.TIMEOUT_HELD, 2),
        (SopAuditEventKind.APPROVED, 2),
        (SopAuditEventKind.STEP_RESULT, 2),
        (SopAuditEventKind.STEP_RESULT, 1),
        (SopAuditEventKind.RUN_COMPLETED, None),
    ]
    assert [e.seq for e in events] == list(range(7))
    assert events[5].step is not None
    assert events[5].step.status == SopStepStatus.FAILED
    assert logger.list_steps("r")[0].status == SopStepStatus.FAILED


def test_logging_twice_is_logging_once(logger: SopAuditLogger) -> None:
    run = make_run("r")
    for _ in range(2):
        logger.log_run_start(run)
        logger.log_step_result("r", step_result(1))
        logger.log_approval(run, 1)
        logger.log_timeout_auto_approve(run, 2)
        logger.log_timeout_held(run, 3)
    logger.log_run_complete(run.evolve(status=SopRunStatus.COMPLETED))
    before = logger.memory.list()
    logger.log_run_complete(run.evolve(status=SopRunStatus.COMPLETED))
    assert [(e.key, e.content) for e in logger.memory.list()] == [
        (e.key, e.content) for e in before
    ]
    assert len(logger.timeline("r")) == 6


@pytest.mark.parametrize("run_ids", [("a", "a_1", "a_10", "a\x00b")])
def test_run_ids_that_prefix_each_other_stay_apart(
    logger: SopAuditLogger, run_ids: tuple[str, ...]
) -> None:
    for n, run_id in enumerate(run_ids):
        run = make_run(run_id, total_steps=n)
        logger.log_run_start(run)
        for step in range(1, n + 2):
            logger.log_step_result(run_id, step_result(step, output=f"{run_id}/{step}"))
        logger.log_approval(run, n + 1)
    assert sorted(logger.list_runs()) == sorted(run_ids)
    for n, run_id in enumerate(run_ids):
        steps = logger.list_steps(run_id)
        assert [s.output for s in steps] == [f"{run_id}/{step}" for step in range(1, n + 2)]
        events = logger.timeline(run_id)
        assert {e.run_id for e in events} == {run_id}
        assert len(events) == 1 + (n + 1) + 1
        stored = logger.get_run(run_id)
        assert stored is not None
        assert stored.total_steps == n


def test_find_runs_by_status_and_name_with_pages(logger: SopAuditLogger) -> None:
    for i in range(23):
        status = SopRunStatus.RUNNING if i % 2 else SopRunStatus.COMPLETED
        logger.log_run_start(
            make_run(f"run-{i:02d}", sop_name="deploy" if i % 3 else "backup", status=status)
        )

    def collect(**filters: object) -> list[str]:
        ids: list[str] = []
        cursor = None
        while True:
            page = logger.find_runs(limit=4, cursor=cursor, **filters)  # type: ignore[arg-type]
            assert len(page.runs) <= 4
            ids += [r.run_id for r in page.runs]
            if page.next_cursor is None:
                return ids
            cursor = page.next_cursor

    everything = [f"run-{i:02d}" for i in range(23)]
    assert collect() == everything
    assert collect(status=SopRunStatus.RUNNING) == [r for i, r in enumerate(everything) if i % 2]
    assert collect(sop_name="backup") == [r for i, r in enumerate(everything) if i % 3 == 0]
    assert collect(sop_name="deploy", status=SopRunStatus.COMPLETED) == [
        r for i, r in enumerate(everything) if i % 3 and i % 2 == 0
    ]
    logger.mark_stale_runs()
    assert collect(status=SopRunStatus.RUNNING) == []
    assert len(collect(status=SopRunStatus.FAILED)) == 11
    with pytest.raises(memkv.InvalidCursor):
        logger.find_runs(cursor="garbage")
    assert logger.find_runs(limit=0) == SopRunPage(runs=[], next_cursor=None)  # was refused
    assert logger.find_runs(limit=0, status=SopRunStatus.FAILED).runs == []
    with pytest.raises(memkv.InvalidCursor):  # limit=0 still checks the cursor
        logger.find_runs(limit=0, cursor="garbage")
    with pytest.raises(memkv.InvalidArgument, match="limit"):
        logger.find_runs(limit=-1)


def test_corrupt_run_is_reported_never_absent(
    logger: SopAuditLogger, caplog: pytest.LogCaptureFixture
) -> None:
    logger.log_run_start(make_run("good"))
    logger.log_run_start(make_run("bad"))
    logger.memory.store(run_key("bad"), {"not": "a run"}, CATEGORY)
    with pytest.raises(memkv.CorruptRecord, match="bad") as raised:
        logger.get_run("bad")
    assert raised.value.key == run_key("bad")
    with caplog.at_level(logging.ERROR, logger="sop_audit"):
        report = logger.sweep_stale_runs()
    assert report.marked == ["good"]  # the sweep went on past the corrupt run
    assert report.corrupt == ["bad"]
    assert "bad" in caplog.text
    assert logger.sweep_stale_runs().corrupt == ["bad"]  # still reported, untouched


def test_corrupt_step_is_reported(logger: SopAuditLogger) -> None:
    logger.log_step_result("r", step_result(1))
    logger.memory.store(step_key("r", 1), [1, 2, 3], CATEGORY)
    with pytest.raises(memkv.CorruptRecord):
        logger.list_steps("r")
    with pytest.raises(memkv.CorruptRecord):
        logger.log_step_result("r", step_result(1))


def test_trail_survives_reopen(tmp_path: Path) -> None:
    with memkv.open(tmp_path / "store") as mem:
        logger = SopAuditLogger(mem)
        logger.log_run_start(make_run("r"))
        logger.log_step_result("r", step_result(1))
        before = (logger.get_run("r"), logger.list_steps("r"), logger.timeline("r"))
    with memkv.open(tmp_path / "store") as mem:
        logger = SopAuditLogger(mem)
        assert (logger.get_run("r"), logger.list_steps("r"), logger.timeline("r")) == before
        assert logger.mark_stale_runs() == 1
