"""Checksum benchmark: cold get and durable single store, memkv before and after the
record checksum, measured in the same run.

    git archive BASE | tar -x -C /tmp/memkv-before      # memkv as it was before
    .venv/bin/python benchmarks/bench_checksum.py --before /tmp/memkv-before
    .venv/bin/python benchmarks/bench_checksum.py --quick    # a smoke run: the tree twice

Each round runs one child process per source tree (their order alternates between
rounds, so that drift in the machine falls on both alike); a child builds its own
store, then times random-key gets with the cache cold and durable single stores, as
``bench_core.py`` does. Writes ``benchmarks/results/checksum.md`` and
``checksum.json``: the median of each tree's per-round medians, and the change.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results")
CONTENT = (
    "The user prefers concise answers, works from Lisbon (UTC+0), reviews pull requests "
    "on Mondays and wants the release notes drafted before the Friday demo."
)  # ~190 bytes, as in bench_core.py
MEASURES = ("get, random keys (cold cache)", "durable single store")


def fill(numbers: range, tx: Any) -> None:
    for i in numbers:
        tx.store(f"mem/{i:08d}", CONTENT, "core")


def measure(
    tree: str, entries: int, gets: int, stores: int, seed: int, base: str | None
) -> dict[str, float]:
    """In a child: build a store (in ``base``) with the memkv of ``tree``; the median
    seconds per op."""
    sys.path.insert(0, tree)
    import time

    import memkv

    clock = time.perf_counter
    with tempfile.TemporaryDirectory(dir=base) as directory:
        mem = memkv.open(Path(directory) / "store", durability="unsynced")
        for start in range(0, entries, 10_000):
            mem.transact(functools.partial(fill, range(start, min(entries, start + 10_000))))
        mem.close()
        mem = memkv.open(Path(directory) / "store")
        rng = random.Random(seed)
        keys = [f"mem/{rng.randrange(entries):08d}" for _ in range(gets)]
        get = mem.get
        samples = []
        for at in range(0, gets, 100):  # 100 gets a sample
            chunk = keys[at : at + 100]
            began = clock()
            for key in chunk:
                get(key)
            samples.append((clock() - began) / len(chunk))
        store_times = []
        for i in range(stores):
            began = clock()
            mem.store(f"single/{i:09d}", CONTENT, "daily")
            store_times.append(clock() - began)
        mem.close()
    return {MEASURES[0]: statistics.median(samples), MEASURES[1]: statistics.median(store_times)}


def run_child(tree: Path, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", str(tree)]
    command += ["--entries", str(args.entries), "--gets", str(args.gets)]
    command += ["--stores", str(args.stores), "--seed", str(args.seed)]
    command += ["--dir", args.dir] if args.dir else []
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the child for {tree} failed:\n{done.stderr}")
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", help="a source tree of memkv before the checksum")
    parser.add_argument("--rounds", type=int, default=6, help="child processes per tree")
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--gets", type=int, default=100_000, help="gets per child")
    parser.add_argument("--stores", type=int, default=300, help="durable stores per child")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", help="where to put the stores (default: the temp dir)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--output", default=str(RESULTS), help="where to write the results")
    args = parser.parse_args()
    if args.child:
        figures = measure(args.child, args.entries, args.gets, args.stores, args.seed, args.dir)
        print(json.dumps(figures))
        return 0
    if args.quick:
        args.rounds, args.entries, args.gets, args.stores = 2, 2_000, 2_000, 10
        args.before = args.before or str(HERE)
    if not args.before:
        parser.error("--before is required (a source tree of memkv before the checksum)")
    trees = {"before": Path(args.before).resolve(), "after": HERE}
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for number in range(args.rounds):
        order = list(trees) if number % 2 == 0 else list(reversed(trees))
        for name in order:
            rounds[name].append(run_child(trees[name], args))
            print(f"round {number + 1} {name}: {rounds[name][-1]}", flush=True)
    summary: dict[str, Any] = {"command": " ".join(sys.argv), "measures": {}}
    lines = [
        f"Command: `python benchmarks/bench_checksum.py --rounds {args.rounds}` "
        f"({args.entries:,} entries, {args.gets:,} gets and {args.stores} durable stores "
        "per child; median of the per-child medians)",
        "",
        "| measure | before | after | change |",
        "|---|---:|---:|---:|",
    ]
    for measure_name in MEASURES:
        before = statistics.median(r[measure_name] for r in rounds["before"])
        after = statistics.median(r[measure_name] for r in rounds["after"])
        change = after / before - 1
        summary["measures"][measure_name] = {"before": before, "after": after, "change": change}
        lines.append(
            f"| {measure_name} | {before * 1e6:.2f} µs | {after * 1e6:.2f} µs | {change:+.1%} |"
        )
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "checksum.md").write_text("\n".join(lines) + "\n")
    (output / "checksum.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
