"""Write-throughput suite: durable writes from 1, 8, 64 and 256 concurrent writers,
memkv beside raw py-lmdb, SQLite and diskcache, all measured in the same run; then
reads and category listing beside the same peers.

    .venv/bin/python benchmarks/bench_write_throughput.py           # the full run
    .venv/bin/python benchmarks/bench_write_throughput.py --quick   # a smoke run

Writes ``benchmarks/results/write_throughput.md`` (every figure),
``write_throughput-summary.md`` (the targets), ``write_throughput.json`` and
``write_throughput.png`` (throughput against concurrency).

The writers (`memkv.cli.bench` describes the memkv and raw LMDB ones):

* memkv async / memkv threads: group commit, durable (the default);
* raw LMDB: one write transaction per write, from threads, LMDB's durable defaults;
* raw LMDB group commit: the bare loop (one thread commits all queued writes);
* SQLite (WAL, FULL) and (WAL, NORMAL): one table (key primary key, category,
  record) with an index on (category, key), like memkv's; one connection, writes
  serialised by a lock (SQLite admits one writer; its busy handler would sleep in
  millisecond steps), one transaction per write. NORMAL does not flush each commit:
  a power loss may lose the last ones;
* diskcache: ``Cache.set`` with its defaults (SQLite WAL, NORMAL), from threads.

Each point is the median of ``--rounds`` runs, the systems taking turns.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import bench_core
from benchmarks.common import RESULTS, Target, format_time, percentiles, workdir
from memkv.cli import bench
from memkv.cli.bench import (
    Result,
    Results,
    System,
    Workload,
    median_result,
    raw_record,
    run_threads,
)

SQLITE_FULL = "SQLite (WAL, FULL)"
SQLITE_NORMAL = "SQLite (WAL, NORMAL)"
DISKCACHE = "diskcache"
CONCURRENCY = (1, 8, 64, 256)

TARGETS = {
    "64 writers: memkv async vs one transaction per write": (
        64,
        Target("memkv async", "raw LMDB", "speedup", 10.0),
    ),
    "64 writers: memkv async vs a bare group-commit loop": (
        64,
        Target("memkv async", "raw LMDB group commit", "speedup", 0.8),
    ),
    "8 writers: memkv async vs one transaction per write": (
        8,
        Target("memkv async", "raw LMDB", "speedup", 3.0),
    ),
    "moonshot, 64 writers: durable memkv vs SQLite (WAL, NORMAL)": (
        64,
        Target("memkv async", SQLITE_NORMAL, "speedup", 1.0),
    ),
}


class ThreadedPeer:
    """A peer written from threads, one `_write` of a transaction's keys each."""

    name: str
    workload: Workload

    def _write(self, keys: list[str]) -> None:
        raise NotImplementedError

    def run(self, run: int, concurrency: int) -> Result:
        keys = self.workload.run_keys(run, concurrency)
        seconds, latencies = run_threads(
            concurrency,
            self.workload.per_writer(concurrency),
            lambda writer, n: self._write(keys[writer][n]),
        )
        return bench.measured(self.name, self.workload, concurrency, seconds, latencies)


class SqliteSystem(ThreadedPeer):
    """SQLite as the module docstring describes."""

    def __init__(self, path: Path, workload: Workload, synchronous: str) -> None:
        self.name = SQLITE_FULL if synchronous == "FULL" else SQLITE_NORMAL
        self.workload = workload
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.execute(
            "CREATE TABLE memories (key TEXT PRIMARY KEY, category TEXT, record BLOB) WITHOUT ROWID"
        )
        self.db.execute("CREATE INDEX by_category ON memories (category, key)")
        self.lock = threading.Lock()
        for keys in workload.prefill_keys():
            self._write(keys)

    def _write(self, keys: list[str]) -> None:
        content = self.workload.content
        rows = [(key, "core", raw_record(key.encode(), content)) for key in keys]
        with self.lock:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO memories VALUES (?, ?, ?)", rows)
            self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()


class DiskcacheSystem(ThreadedPeer):
    """diskcache with its defaults, written from threads."""

    def __init__(self, path: Path, workload: Workload) -> None:
        import diskcache

        self.name = DISKCACHE
        self.workload = workload
        self.cache = diskcache.Cache(str(path))
        for keys in workload.prefill_keys():
            self._write(keys)

    def _write(self, keys: list[str]) -> None:
        content = self.workload.content
        if len(keys) == 1:
            self.cache.set(keys[0], raw_record(keys[0].encode(), content))
            return
        with self.cache.transact():
            for key in keys:
                self.cache.set(key, raw_record(key.encode(), content))

    def close(self) -> None:
        self.cache.close()


def open_all(directory: Path, workload: Workload) -> list[System]:
    systems = bench.open_systems(directory, workload, ["async", "threads", "raw", "raw-group"])
    systems.append(SqliteSystem(directory / "full.db", workload, "FULL"))
    systems.append(SqliteSystem(directory / "normal.db", workload, "NORMAL"))
    try:
        systems.append(DiskcacheSystem(directory / "diskcache", workload))
    except ImportError:
        print("diskcache is not installed (pip install -e '.[bench]'): skipped", file=sys.stderr)
    return systems


# -- reads and listing -------------------------------------------------------------------------


def reads(directory: Path, entries: int, samples: int, calls: int) -> dict[str, dict[str, Any]]:
    """`bench_core`'s cold get and category list benchmarks, on stores of
    ``entries`` records."""
    systems = bench_core.load_all(directory, entries)
    try:
        rng = random.Random(3)
        cold = [rng.randrange(entries) for _ in range(100_000)]
        figures = {
            "get, random keys (per get)": bench_core.bench_get(systems, cold, samples),
            "list(category) of 1,000 (per entry)": bench_core.bench_list(systems, entries, calls),
        }
    finally:
        systems["memkv"].close()
    return {
        name: {system: percentiles(samples) for system, samples in by_system.items()}
        for name, by_system in figures.items()
    }


# -- the report ----------------------------------------------------------------------------------


def throughput(results: Results, system: str, concurrency: int) -> float:
    return median_result(results[(system, concurrency)]).transactions_per_second


def write_report(
    output: Path,
    command: str,
    workload: Workload,
    results: Results,
    read_figures: dict[str, dict[str, Any]],
) -> None:
    output.mkdir(parents=True, exist_ok=True)
    systems = list(dict.fromkeys(name for name, _ in results))
    concurrencies = sorted({concurrency for _, concurrency in results})
    lines = [
        f"Command: `{command}`",
        "",
        f"Durable writes of {workload.batch} record(s) of {workload.value_size} characters per "
        f"transaction, {workload.transactions} transactions per run, into stores holding "
        f"{workload.store_size} records; the median of the runs. Transactions per second "
        "(p50 / p99 latency of a transaction):",
        "",
        "| system | "
        + " | ".join(f"{c} writer{'s' if c > 1 else ''}" for c in concurrencies)
        + " |",
        "|---|" + "---:|" * len(concurrencies),
    ]
    for system in systems:
        cells = []
        for concurrency in concurrencies:
            result = median_result(results[(system, concurrency)])
            cells.append(
                f"{result.transactions_per_second:,.0f} ({result.latency_ms['p50']:.2f} / "
                f"{result.latency_ms['p99']:.2f} ms)"
            )
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    lines += ["", "Reads, single caller, same peers (p50 per operation):", ""]
    read_systems = list(dict.fromkeys(s for stats in read_figures.values() for s in stats))
    lines += [
        "| benchmark | " + " | ".join(read_systems) + " |",
        "|---|" + "---:|" * len(read_systems),
    ]
    for name, stats in read_figures.items():
        cells = [format_time(stats[s]["p50"]) if s in stats else "n/a" for s in read_systems]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    summary = summary_lines(results)
    (output / "write_throughput.md").write_text("\n".join(lines) + "\n")
    (output / "write_throughput-summary.md").write_text("\n".join(summary) + "\n")
    document = {
        "command": command,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "workload": {
            "durability": workload.durability.value,
            "value_size": workload.value_size,
            "batch": workload.batch,
            "transactions": workload.transactions,
            "store_size": workload.store_size,
        },
        "writes": [msgspec.to_builtins(r) for runs in results.values() for r in runs],
        "reads": read_figures,
        "targets": {
            name: {"ratio": ratio_of(results, concurrency, target), "goal": target.goal}
            for name, (concurrency, target) in TARGETS.items()
        },
    }
    (output / "write_throughput.json").write_text(json.dumps(document, indent=2) + "\n")
    plot(results, output / "write_throughput.png")
    print("\n".join(lines) + "\n\n" + "\n".join(summary))


def ratio_of(results: Results, concurrency: int, target: Target) -> float:
    return throughput(results, target.subject, concurrency) / throughput(
        results, target.anchor, concurrency
    )


def summary_lines(results: Results) -> list[str]:
    lines = [
        "| target | memkv tx/s | anchor tx/s | ratio | goal | met |",
        "|---|---:|---:|---:|---:|:-:|",
    ]
    for name, (concurrency, target) in TARGETS.items():
        ratio = ratio_of(results, concurrency, target)
        lines.append(
            f"| {name} | {throughput(results, target.subject, concurrency):,.0f} | "
            f"{throughput(results, target.anchor, concurrency):,.0f} ({target.anchor}) | "
            f"{ratio:.2f}x | >= {target.goal}x | {'yes' if ratio >= target.goal else '**no**'} |"
        )
    return lines


def plot(results: Results, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for system in dict.fromkeys(name for name, _ in results):
        points = sorted(c for name, c in results if name == system)
        ax.plot(
            points,
            [throughput(results, system, c) for c in points],
            marker="o",
            linewidth=2.5 if system.startswith("memkv") else 1.2,
            label=system,
        )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(list(CONCURRENCY), [str(c) for c in CONCURRENCY])
    ax.set_xlabel("concurrent writers")
    ax.set_ylabel("transactions per second (log scale)")
    ax.set_title("Durable writes: throughput against concurrency (same run)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=4000, help="per run (default 4000)")
    parser.add_argument("--store-size", type=int, default=100_000, help="records stored first")
    parser.add_argument("--value-size", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--read-entries", type=int, default=50_000, help="store size for reads")
    parser.add_argument("--dir", help="where to put the stores (default: the temp dir)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--output", default=str(RESULTS), help="where to write the results")
    args = parser.parse_args()
    if args.quick:
        args.transactions, args.store_size, args.rounds, args.read_entries = 600, 5_000, 1, 8_000
    workload = Workload(
        transactions=args.transactions, store_size=args.store_size, value_size=args.value_size
    )
    command = "python benchmarks/bench_write_throughput.py" + (" --quick" if args.quick else "")
    with workdir(args.dir) as directory:
        print(f"filling each store with {workload.store_size:,} records ...", flush=True)
        systems = open_all(directory / "writes", workload)
        try:
            results = bench.measure(systems, list(CONCURRENCY), args.rounds)
        finally:
            for system in systems:
                system.close()
        print("reads ...", flush=True)
        read_figures = reads(
            directory / "reads", args.read_entries, samples=300 if args.quick else 1500, calls=60
        )
    write_report(Path(args.output), command, workload, results, read_figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
