"""sop_audit benchmark: the recovery sweep beside revka's way of doing it, and
get_run / log_step_result beside a bare Memory.get / Memory.store of the same record.

    .venv/bin/python benchmarks/bench_sop_audit.py            # 100k finished runs, 10 in flight
    .venv/bin/python benchmarks/bench_sop_audit.py --quick

revka's sweep lists every run and reads each one to find the in-flight ones; here
it runs on the same store, through the same logger, and marks the same runs. Writes
``benchmarks/results/sop_audit*``.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import memkv
from benchmarks.common import RESULTS, Figures, Target, interleaved, report, workdir
from sop_audit import (
    SopAuditEventKind,
    SopAuditLogger,
    SopEvent,
    SopRun,
    SopRunStatus,
    SopStepResult,
    SopStepStatus,
    SopTriggerSource,
)
from sop_audit import operations as sop_ops
from sop_audit.keys import CATEGORY, run_key, step_key

IN_FLIGHT = 10


def make_run(run_id: str, status: SopRunStatus) -> SopRun:
    return SopRun(
        run_id=run_id,
        sop_name=f"sop-{hash(run_id) % 20}",
        trigger_event=SopEvent(
            source=SopTriggerSource.CRON, topic="nightly", timestamp="2026-11-23T02:00:00Z"
        ),
        status=status,
        current_step=3,
        total_steps=3,
        started_at="2026-11-23T02:00:00Z",
        completed_at=None if not status.is_terminal else "2026-11-23T02:05:00Z",
    )


def step(n: int) -> SopStepResult:
    return SopStepResult(
        step_number=n,
        status=SopStepStatus.COMPLETED,
        output=f"step {n} done",
        started_at="2026-11-23T02:01:00Z",
        completed_at="2026-11-23T02:02:00Z",
    )


def load(logger: SopAuditLogger, finished: int) -> None:
    for start in range(0, finished, 5_000):
        ids = range(start, min(finished, start + 5_000))

        def write(tx: memkv.Transaction, ids: range = ids) -> None:
            for i in ids:
                sop_ops.log_run(
                    tx,
                    make_run(f"run-{i:07d}", SopRunStatus.COMPLETED),
                    SopAuditEventKind.RUN_COMPLETED,
                )

        logger.memory.transact(write)


def original_sweep(logger: SopAuditLogger, completed_at: str) -> int:
    """revka's mark_stale_runs: list every run, read each, mark the stale ones."""
    marked = 0
    for run_id in logger.list_runs():
        run = logger.get_run(run_id)
        if run is None or not run.status.is_interrupted_by_restart:
            continue
        failed = run.evolve(
            status=SopRunStatus.FAILED, completed_at=run.completed_at or completed_at
        )
        logger.log_run_complete(failed)
        marked += 1
    return marked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--finished", type=int, default=100_000, help="finished runs in the store")
    parser.add_argument("--sweeps", type=int, default=10, help="sweeps of each kind")
    parser.add_argument("--ops", type=int, default=600, help="get_run / log_step_result samples")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args()
    if args.quick:
        args.finished, args.sweeps, args.ops = 5_000, 3, 100
    rng = random.Random(args.seed)
    figures: Figures = {}
    with workdir(args.dir) as directory:
        loader = SopAuditLogger(memkv.open(directory / "store", durability="unsynced"))
        load(loader, args.finished)
        loader.memory.close()
        mem = memkv.open(directory / "store")
        logger = SopAuditLogger(mem)
        sweeps: dict[str, list[float]] = {
            "memkv mark_stale_runs": [],
            "original: revka (list every run, read each)": [],
        }
        generation = itertools.count()
        for _ in range(args.sweeps):
            for name, times in sweeps.items():
                batch = next(generation)
                for i in range(IN_FLIGHT):  # fresh in-flight runs for every sweep (untimed)
                    logger.log_run_start(make_run(f"live-{batch:03d}-{i}", SopRunStatus.RUNNING))
                start = time.perf_counter()
                if name.startswith("memkv"):
                    marked = logger.mark_stale_runs(completed_at="now")
                else:
                    marked = original_sweep(logger, "now")
                times.append(time.perf_counter() - start)
                assert marked == IN_FLIGHT, marked
        figures[f"mark_stale_runs: {args.finished:,} finished runs, {IN_FLIGHT} in flight"] = sweeps

        ids = [f"run-{rng.randrange(args.finished):07d}" for _ in range(200_000)]
        picks = itertools.cycle(ids)
        figures["get_run, random runs"] = interleaved(
            {
                "memkv get_run": lambda: logger.get_run(next(picks)),
                "Memory.get": lambda: mem.get(run_key(next(picks))),
            },
            args.ops * 20,
            per_sample=10,
        )
        counter = itertools.count()
        figures["log_step_result (durable)"] = interleaved(
            {
                "memkv log_step_result": lambda: logger.log_step_result(
                    f"r{next(counter)}", step(1)
                ),
                "Memory.store": lambda: mem.store(
                    step_key(f"bare{next(counter)}", 1), step(1), CATEGORY
                ),
            },
            args.ops,
        )
        mem.close()
    sweep_name = next(iter(figures))
    targets = {
        sweep_name: Target(
            "memkv mark_stale_runs",
            "original: revka (list every run, read each)",
            "speedup",
            100.0,
        ),
        "get_run, random runs": Target("memkv get_run", "Memory.get", "slowdown", 1.5),
        "log_step_result (durable)": Target(
            "memkv log_step_result", "Memory.store", "slowdown", 1.5
        ),
    }
    command = "python benchmarks/bench_sop_audit.py" + (" --quick" if args.quick else "")
    notes = (
        "Both sweeps mark the same 10 runs (durably: revka's way in one transaction per "
        "run, memkv's in one for all). log_step_result also records a timeline event."
    )
    report("sop_audit", command, figures, targets, Path(args.output), notes=notes)

    return 0


if __name__ == "__main__":
    sys.exit(main())
