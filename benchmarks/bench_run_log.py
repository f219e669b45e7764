"""run_log benchmark: the dashboard's reads beside autopilot's in-memory approach (sort
all of a workflow's runs on every call), and their cost at 1k and at 100k stored runs.

    .venv/bin/python benchmarks/bench_run_log.py            # 100k runs over 100 workflows
    .venv/bin/python benchmarks/bench_run_log.py --quick

autopilot's approach is its InMemoryRunLogService, without its 200-run cap (which
would drop most of the history), on the same runs held in dicts. Writes
``benchmarks/results/run_log*``.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import memkv
from benchmarks.common import RESULTS, Figures, Target, interleaved, report, workdir
from run_log import MemoryRunLog, RunStatus, WorkflowRun
from run_log import operations as run_ops

WORKFLOWS = 100
PAUSED = 50
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def history(total: int, rng: random.Random, workflows: int = WORKFLOWS) -> list[WorkflowRun]:
    paused = set(rng.sample(range(total), PAUSED))
    runs = []
    for i in range(total):
        status = (
            RunStatus.PAUSED if i in paused else rng.choice((RunStatus.SUCCESS, RunStatus.FAILED))
        )
        runs.append(
            WorkflowRun(
                id=f"run-{i:07d}",
                workflow_id=f"workflow-{i % workflows:03d}",
                status=status,
                started_at=T0 + timedelta(seconds=rng.randrange(10**7)),
                metadata={"rows": i % 97},
            )
        )
    return runs


class OriginalRunLog:
    """autopilot's InMemoryRunLogService reads (no cap), on {workflow: {run_id: run}}."""

    def __init__(self, runs: list[WorkflowRun]) -> None:
        self.runs: dict[str, dict[str, WorkflowRun]] = defaultdict(dict)
        for run in runs:
            self.runs[run.workflow_id][run.id] = run

    def list_runs(self, workflow_id: str, limit: int = 20) -> list[WorkflowRun]:
        runs = list(self.runs.get(workflow_id, {}).values())
        runs.sort(key=lambda r: r.started_at, reverse=True)
        return runs[:limit]

    def get_latest_run(self, workflow_id: str) -> WorkflowRun | None:
        runs = self.runs.get(workflow_id, {})
        return max(runs.values(), key=lambda r: r.started_at) if runs else None

    def get_pending_runs(self) -> list[WorkflowRun]:
        pending = [
            r for runs in self.runs.values() for r in runs.values() if r.status == RunStatus.PAUSED
        ]
        return sorted(pending, key=lambda r: r.started_at, reverse=True)


def load(path: Path, runs: list[WorkflowRun]) -> MemoryRunLog:
    with memkv.open(path, durability="unsynced") as mem:
        for start in range(0, len(runs), 5_000):
            batch = runs[start : start + 5_000]

            def save(tx: memkv.Transaction, batch: list[WorkflowRun] = batch) -> None:
                for run in batch:
                    run_ops.save_run(tx, run, None)

            mem.transact(save)
    return MemoryRunLog(memkv.open(path))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000, help="the small history, for scaling")
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args()
    if args.quick:
        args.runs, args.small, args.calls = 10_000, 1_000, 60
    rng = random.Random(args.seed)
    figures: Figures = {}
    with workdir(args.dir) as directory:
        big_runs = history(args.runs, rng)
        big = load(directory / "big", big_runs)
        # The small history keeps 50 runs per workflow, so that list_runs(limit=20)
        # returns 20 runs from both; the queries go to the workflows both have.
        small = load(directory / "small", history(args.small, rng, workflows=args.small // 50))
        original = OriginalRunLog(big_runs)
        shared = args.small // 50
        picks = itertools.cycle([f"workflow-{rng.randrange(shared):03d}" for _ in range(10_000)])
        assert [r.id for r in big.list_runs("workflow-007", limit=20)[0]] == [
            r.id for r in original.list_runs("workflow-007")
        ]
        assert {r.id for r in big.get_pending_runs()} == {r.id for r in original.get_pending_runs()}
        size = f"{args.runs:,} runs"
        figures["list_runs(limit=20)"] = interleaved(
            {
                f"memkv, {size}": lambda: big.list_runs(next(picks), limit=20),
                f"memkv, {args.small:,} runs": lambda: small.list_runs(next(picks), limit=20),
                f"original: autopilot (sort all), {size}": lambda: original.list_runs(next(picks)),
            },
            args.calls,
        )
        figures["get_latest_run"] = interleaved(
            {
                f"memkv, {size}": lambda: big.get_latest_run(next(picks)),
                f"memkv, {args.small:,} runs": lambda: small.get_latest_run(next(picks)),
                f"original: autopilot (sort all), {size}": lambda: original.get_latest_run(
                    next(picks)
                ),
            },
            args.calls * 5,
        )
        figures[f"get_pending_runs ({PAUSED} paused)"] = interleaved(
            {
                f"memkv, {size}": big.get_pending_runs,
                f"memkv, {args.small:,} runs": small.get_pending_runs,
                f"original: autopilot (sort all), {size}": original.get_pending_runs,
            },
            args.calls,
        )
        big.close()
        small.close()
    targets: dict[str, Target] = {}
    for name in figures:
        targets[name] = Target(
            f"memkv, {size}", f"original: autopilot (sort all), {size}", "speedup", 100.0
        )
        targets[f"{name}: {size} vs {args.small:,}"] = Target(
            f"memkv, {size}", f"memkv, {args.small:,} runs", "slowdown", 2.0
        )
    for name in list(figures):  # the scaling targets read the same samples
        figures[f"{name}: {size} vs {args.small:,}"] = figures[name]
    command = "python benchmarks/bench_run_log.py" + (" --quick" if args.quick else "")
    notes = (
        f"{args.runs:,} runs over {WORKFLOWS} workflows ({args.runs // WORKFLOWS:,} each), "
        f"{PAUSED} of them paused; the small history has {args.small:,} runs."
    )
    report("run_log", command, figures, targets, Path(args.output), notes=notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
