"""Runs saved by one process are listed, counted and paged identically by another."""

from __future__ import annotations

import json
from pathlib import Path

import memkv
from run_log import MemoryRunLog, RunStatus
from tests.memkv.helpers import child_env, run_worker
from tests.run_log.conftest import make_run

WORKERS = Path(__file__).with_name("workers.py")


def test_a_new_process_sees_the_same_history(tmp_path: Path) -> None:
    path = tmp_path / "store"
    workflows = ["bank_to_ynab", "invoice", "invoice_2"]
    with memkv.open(path) as mem:
        log = MemoryRunLog(mem)
        for i in range(60):
            status = [RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.PAUSED][i % 3]
            run = make_run(f"run-{i:02d}", workflow_id=workflows[i % 3], minute=i // 4)
            log.save_run(run)  # at start
            log.save_run(run.evolve(status=status))  # at the end
        here: dict[str, object] = {}
        for workflow in workflows:
            pages = []
            cursor = None
            while True:
                runs, cursor = log.list_runs(workflow, limit=7, start_after=cursor)
                pages.append([r.id for r in runs])
                if cursor is None:
                    break
            latest = log.get_latest_run(workflow)
            here[workflow] = {
                "pages": pages,
                "stats": log.get_stats(workflow),
                "latest": latest and latest.id,
            }
        here["pending"] = [r.id for r in log.get_pending_runs()]
    result = run_worker(
        "dump", str(path), ",".join(workflows), "7", script=WORKERS, env=child_env()
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(json.dumps(here))
    bank = json.loads(result.stdout)["bank_to_ynab"]
    assert bank["stats"] == {"total": 20, "successful": 20}  # saved twice, counted once
    assert bank["latest"] == "run-57"
    assert sum(len(page) for page in bank["pages"]) == 20
