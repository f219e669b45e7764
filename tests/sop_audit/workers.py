"""Child processes for the sop_audit tests: ``python workers.py COMMAND PATH ...``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import memkv
from sop_audit import SopAuditLogger, SopRunStatus
from tests.sop_audit.conftest import make_run, step_result


def say(*parts: object) -> None:
    print(*parts, sep="\t", flush=True)


def run_sops(path: str, cycle: str) -> None:
    """Run SOPs one after the other until killed, printing each acknowledged log."""
    with memkv.open(path) as mem:
        logger = SopAuditLogger(mem)
        say("ready")
        n = 0
        while True:
            run_id = f"{cycle}-{n:05d}"
            run = make_run(run_id, status=SopRunStatus.RUNNING)
            logger.log_run_start(run)
            say("started", run_id)
            for step in (1, 2, 3):
                logger.log_step_result(run_id, step_result(step))
                say("step", run_id, step)
            logger.log_run_complete(run.evolve(status=SopRunStatus.COMPLETED, completed_at="done"))
            say("completed", run_id)
            n += 1


COMMANDS: dict[str, Callable[..., None]] = {"run-sops": run_sops}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
