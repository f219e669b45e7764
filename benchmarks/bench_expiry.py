"""Expiry benchmark: sweeping expired entries out of a large store, and what a sweep
costs when nothing has expired.

    .venv/bin/python benchmarks/bench_expiry.py           # 1,000,000 entries, 100,000 expired
    .venv/bin/python benchmarks/bench_expiry.py --quick   # a smoke run (20,000 and 2,000)

The store (LMDB, durable, with its recall index) holds short memories in a few
categories and sessions, filled in transactions of 1,000; one in ten is stored with a
ttl that the clock (a `memkv.testing.ManualClock`) then passes. Measured:

* ``Memory.sweep()`` of every expired entry: its total time, and the time of each of
  its write transactions, timed one by one (the longest is what another writer may
  wait behind);
* a durable ``store`` by another thread while the sweep runs, against the same
  stores with no sweep running: how long a writer waits;
* ``sweep()`` of a store with nothing expired (every entry live).

Writes ``benchmarks/results/expiry.md`` and ``expiry.json``.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Final

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import memkv
from benchmarks.common import RESULTS, format_time, percentiles, workdir
from memkv.memory import SWEEP_BATCH, _sweep
from memkv.testing import ManualClock

TTL: Final = 60.0  # seconds; the clock then moves past it
EXPIRING_EVERY: Final = 10  # one entry in ten expires
BATCH: Final = 1000


class Results(msgspec.Struct, frozen=True, kw_only=True):
    command: str
    entries: int
    expired: int
    fill_seconds: float
    sweep_seconds: float
    swept: int
    transactions: int
    longest_transaction_ms: float
    transaction_p50_ms: float
    writer_during_sweep_ms: dict[str, float]  # p50, p99, max of a durable store
    writer_alone_ms: dict[str, float]
    empty_sweep_ms: dict[str, float]  # p50, max over repeated calls
    removed_per_transaction: float


def fill(mem: memkv.Memory, entries: int) -> None:
    def batch(start: int, tx: memkv.Transaction) -> None:
        for i in range(start, min(entries, start + BATCH)):
            tx.store(
                f"memory/{i:08d}",
                f"note {i} about topic {i % 97} for user {i % 13}",
                ("core", "daily", "conversation")[i % 3],
                f"session-{i % 50}",
                ttl=TTL if i % EXPIRING_EVERY == 0 else None,
            )

    for start in range(0, entries, BATCH):
        mem.transact(functools.partial(batch, start))


def store_latencies(mem: memkv.Memory, stop: threading.Event, out: list[float], name: str) -> None:
    """Durable stores of new keys, one after another, until ``stop``: seconds each."""
    i = 0
    while not stop.is_set():
        begin = time.perf_counter()
        mem.store(f"{name}/{i:08d}", "a note written meanwhile", "core")
        out.append(time.perf_counter() - begin)
        i += 1


def summary(samples: list[float]) -> dict[str, float]:
    stats = percentiles(samples)
    return {
        "p50": stats["p50"] * 1e3,
        "p99": stats["p99"] * 1e3,
        "max": max(samples) * 1e3,
    }


def sweep_timed(mem: memkv.Memory) -> tuple[int, list[float]]:
    """`Memory.sweep`, transaction by transaction (its own loop, each timed)."""
    swept, times = 0, []
    while True:
        begin = time.perf_counter()
        removed = mem.transact(lambda tx: _sweep(SWEEP_BATCH, tx))
        times.append(time.perf_counter() - begin)
        swept += removed
        if not removed:
            return swept, times


def run(directory: Path, entries: int) -> Results:
    clock = ManualClock()
    with memkv.open(directory / "store", clock=clock) as mem:
        print(f"filling {entries:,} entries ...", flush=True)
        begin = time.perf_counter()
        fill(mem, entries)
        fill_seconds = time.perf_counter() - begin
        expired = len(range(0, entries, EXPIRING_EVERY))
        print("a sweep with nothing expired ...", flush=True)
        empty = []
        for _ in range(50):
            begin = time.perf_counter()
            assert mem.sweep() == 0
            empty.append(time.perf_counter() - begin)
        print("a writer alone ...", flush=True)
        alone: list[float] = []
        stop = threading.Event()
        writer = threading.Thread(target=store_latencies, args=(mem, stop, alone, "alone"))
        writer.start()
        time.sleep(2)
        stop.set()
        writer.join()
        clock.advance(TTL)
        print(f"sweeping {expired:,} expired entries, a writer running ...", flush=True)
        during: list[float] = []
        stop = threading.Event()
        writer = threading.Thread(target=store_latencies, args=(mem, stop, during, "during"))
        writer.start()
        begin = time.perf_counter()
        swept, times = sweep_timed(mem)
        sweep_seconds = time.perf_counter() - begin
        stop.set()
        writer.join()
        assert mem.count() == entries - expired + len(alone) + len(during)
        return Results(
            command=" ".join(["python", *sys.argv]),
            entries=entries,
            expired=expired,
            fill_seconds=fill_seconds,
            sweep_seconds=sweep_seconds,
            swept=swept,
            transactions=len(times),
            longest_transaction_ms=max(times) * 1e3,
            transaction_p50_ms=statistics.median(times) * 1e3,
            writer_during_sweep_ms=summary(during),
            writer_alone_ms=summary(alone),
            empty_sweep_ms={"p50": statistics.median(empty) * 1e3, "max": max(empty) * 1e3},
            removed_per_transaction=swept / max(1, len(times) - 1),
        )


def ms(value: float) -> str:
    return format_time(value / 1e3)


def report(results: Results) -> str:
    during, alone = results.writer_during_sweep_ms, results.writer_alone_ms
    return "\n".join(
        [
            f"Command: `{results.command}`",
            "",
            f"{results.entries:,} entries (LMDB, durable, recall index kept), "
            f"{results.expired:,} of them expired; filled in {results.fill_seconds:.1f} s.",
            "",
            "| measure | figure | target |",
            "|---|---:|---:|",
            f"| sweep of {results.swept:,} expired entries, total | "
            f"{results.sweep_seconds:.2f} s | |",
            f"| its write transactions | {results.transactions:,} "
            f"({results.removed_per_transaction:.0f} entries each) | |",
            f"| longest write transaction of the sweep | {ms(results.longest_transaction_ms)} "
            "| < 10 ms |",
            f"| median write transaction of the sweep | {ms(results.transaction_p50_ms)} | |",
            f"| durable store by another thread during the sweep (p50 / p99 / max) | "
            f"{ms(during['p50'])} / {ms(during['p99'])} / {ms(during['max'])} | |",
            f"| the same with no sweep running (p50 / p99 / max) | "
            f"{ms(alone['p50'])} / {ms(alone['p99'])} / {ms(alone['max'])} | |",
            f"| `sweep()` with nothing expired (p50 / max of 50) | "
            f"{ms(results.empty_sweep_ms['p50'])} / {ms(results.empty_sweep_ms['max'])} | < 1 ms |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="a smoke run (20,000 entries)")
    parser.add_argument("--dir", help="where to put the store (default: the temp dir)")
    parser.add_argument("--output", default=str(RESULTS), help="where to write the results")
    args = parser.parse_args()
    entries = 20_000 if args.quick else args.entries
    with workdir(args.dir) as directory:
        results = run(directory, entries)
    text = report(results)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "expiry.md").write_text(text + "\n")
    (output / "expiry.json").write_bytes(msgspec.json.format(msgspec.json.encode(results)))
    print(text)


if __name__ == "__main__":
    main()
