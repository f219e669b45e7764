"""Each operation on every backend, with autopilot's design decisions."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

import memkv
import run_log
from run_log import MemoryRunLog, RunStatus, WorkflowRun
from run_log.keys import CATEGORY, run_key
from tests.memkv.helpers import child_env
from tests.run_log.conftest import T0, make_run

# -- save_run and get_stats (autopilot's design decisions) ---------------------------------


def test_double_save_counts_once(log: MemoryRunLog) -> None:
    run = make_run("r1")
    log.save_run(run)  # at start
    log.save_run(run.evolve(status=RunStatus.SUCCESS, finished_at=T0 + timedelta(seconds=5)))
    assert log.get_stats("bank_to_ynab") == {"total": 1, "successful": 1}
    log.save_run(run.evolve(status=RunStatus.SUCCESS, finished_at=T0 + timedelta(seconds=5)))
    assert log.get_stats("bank_to_ynab") == {"total": 1, "successful": 1}


def test_status_flip_success_to_failed_adjusts_stats(log: MemoryRunLog) -> None:
    log.save_run(make_run("r1", status=RunStatus.SUCCESS))
    log.save_run(make_run("r2", status=RunStatus.SUCCESS))
    assert log.get_stats("bank_to_ynab") == {"total": 2, "successful": 2}
    log.save_run(make_run("r1", status=RunStatus.FAILED, error="boom"))
    assert log.get_stats("bank_to_ynab") == {"total": 2, "successful": 1}
    log.save_run(make_run("r1", status=RunStatus.SUCCESS))
    assert log.get_stats("bank_to_ynab") == {"total": 2, "successful": 2}


def test_stats_are_exactly_total_and_successful(log: MemoryRunLog) -> None:
    assert log.get_stats("never") == {"total": 0, "successful": 0}


def test_a_run_that_is_no_workflow_run_is_refused(log: MemoryRunLog) -> None:
    with pytest.raises(memkv.InvalidArgument, match="must be of type WorkflowRun, not dict"):
        log.save_run({"id": "r1", "workflow_id": "w"})  # type: ignore[arg-type]
    with pytest.raises(memkv.InvalidContent, match="error"):
        log.save_run(make_run("r2", workflow_id="w", error=42))
    assert log.get_stats("w") == {"total": 0, "successful": 0}
    assert log.list_runs("w") == ([], None)


def test_get_run(log: MemoryRunLog) -> None:
    run = make_run("r1", metadata={"rows": 12, "source": {"bank": "x"}})
    log.save_run(run)
    assert log.get_run("bank_to_ynab", "r1") == run
    assert log.get_run("bank_to_ynab", "nope") is None
    assert log.get_run("other", "r1") is None


def test_resave_with_a_new_start_time_moves_the_run(log: MemoryRunLog) -> None:
    log.save_run(make_run("r1", minute=1))
    log.save_run(make_run("r2", minute=2))
    log.save_run(make_run("r1", minute=3))
    assert [r.id for r in log.list_runs("bank_to_ynab")[0]] == ["r1", "r2"]
    assert log.get_stats("bank_to_ynab")["total"] == 2
    assert log.memory.verify() == []


# -- list_runs -------------------------------------------------------------------------------


def test_list_runs_newest_first(log: MemoryRunLog) -> None:
    for minute, run_id in ((5, "b"), (1, "a"), (9, "c")):
        log.save_run(make_run(run_id, minute=minute))
    log.save_run(make_run("x", workflow_id="other", minute=7))
    runs, cursor = log.list_runs("bank_to_ynab")
    assert [r.id for r in runs] == ["c", "b", "a"]
    assert cursor is None


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 50])
def test_paging_with_shared_start_times_yields_every_run_once(
    log: MemoryRunLog, limit: int
) -> None:
    for i in range(23):
        log.save_run(make_run(f"run-{i:02d}", minute=i // 5))  # five runs per start time
    seen: list[WorkflowRun] = []
    cursor = None
    while True:
        runs, cursor = log.list_runs("bank_to_ynab", limit=limit, start_after=cursor)
        assert len(runs) <= limit
        seen += runs
        if cursor is None:
            break
    assert sorted(r.id for r in seen) == [f"run-{i:02d}" for i in range(23)]
    assert len(seen) == 23
    keys = [(r.started_at, r.id) for r in seen]
    assert keys == sorted(keys, reverse=True)


def test_malformed_cursor_is_a_clear_error(log: MemoryRunLog) -> None:
    log.save_run(make_run("r1"))
    for bad in ("2026-11-23T09:00:00", "garbage", "", memkv.keys.encode_cursor(("x", "y"))):
        with pytest.raises(memkv.InvalidCursor, match="cursor"):
            log.list_runs("bank_to_ynab", start_after=bad)
    for bad_limit in (-1, "10", 1.5):
        with pytest.raises(memkv.InvalidArgument, match="limit"):
            log.list_runs("bank_to_ynab", limit=bad_limit)  # type: ignore[arg-type]


def test_limit_zero_returns_nothing_and_none_returns_all(log: MemoryRunLog) -> None:
    for i in range(3):
        log.save_run(make_run(f"r{i}", minute=i))
    assert log.list_runs("bank_to_ynab", limit=0) == ([], None)  # was InvalidArgument
    runs, cursor = log.list_runs("bank_to_ynab", limit=None)  # was a TypeError
    assert ([run.id for run in runs], cursor) == (["r2", "r1", "r0"], None)
    _, cursor = log.list_runs("bank_to_ynab", limit=1)
    assert log.list_runs("bank_to_ynab", limit=0, start_after=cursor) == ([], None)


def test_list_of_a_workflow_whose_id_prefixes_another(log: MemoryRunLog) -> None:
    for workflow in ("wf", "wf_1", "wf-10", "wf\x00"):
        log.save_run(make_run(f"{workflow}-run", workflow_id=workflow))
    for workflow in ("wf", "wf_1", "wf-10", "wf\x00"):
        runs, _ = log.list_runs(workflow)
        assert [r.workflow_id for r in runs] == [workflow]
        assert log.get_stats(workflow)["total"] == 1


# -- pending and latest -------------------------------------------------------------------


def test_pending_runs_across_many_workflows_newest_first(log: MemoryRunLog) -> None:
    for i in range(30):
        status = RunStatus.PAUSED if i % 3 == 0 else RunStatus.SUCCESS
        log.save_run(
            make_run(f"r{i}", workflow_id=f"wf{i % 7}", minute=(i * 13) % 30, status=status)
        )
    pending = log.get_pending_runs()
    assert {r.id for r in pending} == {f"r{i}" for i in range(0, 30, 3)}
    assert [r.started_at for r in pending] == sorted((r.started_at for r in pending), reverse=True)
    log.save_run(make_run("r0", workflow_id="wf0", minute=0, status=RunStatus.SUCCESS))  # resumed
    assert "r0" not in {r.id for r in log.get_pending_runs()}


def test_latest_run_per_workflow(log: MemoryRunLog) -> None:
    assert log.get_latest_run("wf") is None
    for i in range(10):
        log.save_run(make_run(f"r{i}", workflow_id=f"wf{i % 3}", minute=i))
    for workflow in range(3):
        latest = log.get_latest_run(f"wf{workflow}")
        assert latest is not None
        assert latest.id == f"r{max(i for i in range(10) if i % 3 == workflow)}"


# -- retention ------------------------------------------------------------------------------


def test_retention_evicts_oldest_finished_and_keeps_lifetime_stats(log: MemoryRunLog) -> None:
    capped = MemoryRunLog(log.memory, max_runs_per_workflow=5)
    capped.save_run(make_run("live", minute=0, status=RunStatus.PAUSED))  # oldest, but live
    for i in range(1, 12):
        capped.save_run(make_run(f"r{i}", minute=i, status=RunStatus.SUCCESS))
    runs, _ = capped.list_runs("bank_to_ynab")
    assert [r.id for r in runs] == ["r11", "r10", "r9", "r8", "live"]
    assert capped.get_stats("bank_to_ynab") == {"total": 12, "successful": 11}
    assert [r.id for r in capped.get_pending_runs()] == ["live"]
    assert capped.get_run("bank_to_ynab", "r1") is None
    assert log.memory.verify() == []


def test_unlimited_by_default(log: MemoryRunLog) -> None:
    for i in range(250):  # autopilot silently kept only 200
        log.save_run(make_run(f"r{i:03d}", minute=i, status=RunStatus.SUCCESS))
    runs, _ = log.list_runs("bank_to_ynab", limit=1000)
    assert len(runs) == 250
    with pytest.raises(memkv.InvalidArgument, match="max_runs_per_workflow"):
        MemoryRunLog(log.memory, max_runs_per_workflow=0)


# -- bad records and bad input ----------------------------------------------------------------


def test_a_corrupt_run_is_reported(log: MemoryRunLog) -> None:
    log.save_run(make_run("r1"))
    log.memory.store(run_key("bank_to_ynab", "r1"), 42, CATEGORY)
    with pytest.raises(memkv.CorruptRecord, match="r1"):
        log.get_run("bank_to_ynab", "r1")


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(memkv.InvalidArgument, match="timezone-aware"):
        WorkflowRun(
            id="r", workflow_id="w", status=RunStatus.RUNNING, started_at=datetime(2026, 1, 1)
        )


def test_other_timezones_order_by_instant(log: MemoryRunLog) -> None:
    plus_two = timezone(timedelta(hours=2))
    log.save_run(
        WorkflowRun(
            id="later",
            workflow_id="w",
            status=RunStatus.RUNNING,
            started_at=datetime(2026, 1, 1, 11, 0, tzinfo=plus_two),
        )
    )  # 09:00 UTC
    log.save_run(
        WorkflowRun(
            id="earlier",
            workflow_id="w",
            status=RunStatus.RUNNING,
            started_at=datetime(2026, 1, 1, 8, 30, tzinfo=UTC),
        )
    )
    assert [r.id for r in log.list_runs("w")[0]] == ["later", "earlier"]


# -- backend selection, the singleton, tracing -----------------------------------------------


def test_create_run_log_selects_the_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUN_LOG_BACKEND", "memory")
    in_memory = run_log.create_run_log()
    assert in_memory.memory.backend.name == "in-memory"
    in_memory.close()
    monkeypatch.setenv("RUN_LOG_BACKEND", "lmdb")
    monkeypatch.setenv("RUN_LOG_PATH", str(tmp_path / "runs"))
    lmdb_log = run_log.create_run_log()
    assert lmdb_log.memory.backend.name == "lmdb"
    assert lmdb_log.memory.backend.location == str(tmp_path / "runs")
    lmdb_log.close()
    assert run_log.create_run_log("memory").memory.backend.name == "in-memory"  # argument wins
    monkeypatch.delenv("RUN_LOG_PATH")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert run_log.default_path() == tmp_path / "xdg" / "memkv" / "run_log"
    with pytest.raises(memkv.InvalidArgument, match="valid backends: memory, lmdb"):
        run_log.create_run_log("firestore")


def test_the_shared_service_can_be_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUN_LOG_BACKEND", "memory")
    run_log.reset_run_log_service()
    first = run_log.get_run_log_service()
    assert run_log.get_run_log_service() is first
    first.save_run(make_run("r1"))
    run_log.reset_run_log_service()
    assert first.memory.closed
    second = run_log.get_run_log_service()
    assert second is not first
    assert second.get_run("bank_to_ynab", "r1") is None
    run_log.reset_run_log_service()


def test_operations_are_spans_named_as_autopilot_names_them() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    log = run_log.create_run_log("memory")
    log.save_run(make_run("r1", status=RunStatus.PAUSED))
    log.list_runs("bank_to_ynab")
    log.get_run("bank_to_ynab", "r1")
    log.get_stats("bank_to_ynab")
    log.get_pending_runs()
    log.get_latest_run("bank_to_ynab")
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == [
        "run_log.save",
        "run_log.list",
        "run_log.get",
        "run_log.stats",
        "run_log.get_pending_runs",
        "run_log.get_latest",
    ]
    save = exporter.get_finished_spans()[0]
    assert save.attributes == {"workflow_id": "bank_to_ynab", "run_id": "r1"}


NO_OTEL = """
import sys
sys.modules["opentelemetry"] = None  # as if opentelemetry-api were not installed
import datetime, run_log
log = run_log.create_run_log("memory")
run = run_log.WorkflowRun(id="r", workflow_id="w", status="success",
                          started_at=datetime.datetime.now(datetime.UTC))
log.save_run(run)
print(log.get_stats("w"), run_log.tracing.trace)
"""


def test_without_opentelemetry_nothing_breaks() -> None:
    result = subprocess.run(
        [sys.executable, "-c", NO_OTEL],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=child_env(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{'total': 1, 'successful': 1} None"


def test_status_given_as_text_is_the_enum_member() -> None:
    run = WorkflowRun(id="r", workflow_id="w", status="paused", started_at=T0)  # type: ignore[arg-type]
    assert run.status is RunStatus.PAUSED
    with pytest.raises(memkv.InvalidArgument, match="skipped, paused"):
        WorkflowRun(id="r", workflow_id="w", status="done", started_at=T0)  # type: ignore[arg-type]
