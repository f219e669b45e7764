"""Child processes for the run_log tests: ``python workers.py COMMAND ...``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import memkv
from run_log import MemoryRunLog


def dump(path: str, workflows: str, limit: str) -> None:
    """Print, as JSON, what a dashboard reads: pages, stats, latest and pending runs."""
    with memkv.open(path, readonly=True) as mem:
        log = MemoryRunLog(mem)
        view: dict[str, object] = {}
        for workflow in workflows.split(","):
            pages = []
            cursor = None
            while True:
                runs, cursor = log.list_runs(workflow, limit=int(limit), start_after=cursor)
                pages.append([r.id for r in runs])
                if cursor is None:
                    break
            latest = log.get_latest_run(workflow)
            view[workflow] = {
                "pages": pages,
                "stats": log.get_stats(workflow),
                "latest": latest and latest.id,
            }
        view["pending"] = [r.id for r in log.get_pending_runs()]
        print(json.dumps(view, sort_keys=True))


COMMANDS: dict[str, Callable[..., None]] = {"dump": dump}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
