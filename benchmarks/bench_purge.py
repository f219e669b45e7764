"""Purge benchmark: `Memory.purge` of one large session on a durable LMDB store while
writer threads keep writing elsewhere; on a store that keeps a recall index and on
one that keeps none (``recall=False``).

    .venv/bin/python benchmarks/bench_purge.py            # 100k entries purged, 100k kept
    .venv/bin/python benchmarks/bench_purge.py --quick    # a smoke run (5k and 5k)

Reports the purge's total time, and how long each of its write transactions held
the write lock: the whole transaction (the batch, the writes of other callers that
shared its group commit, and the commit, which on LMDB flushes the data pages) and
the batch's own work (reading its keys, removing the entries with their indexes,
counts and recall documents, bringing recall's segments up to date when due). The
writers' latencies during the purge show what waiting behind it costs them. Writes
``benchmarks/results/purge.md`` and ``purge.json``.

With the recall index, the longest transactions are not the batches' own work but
recall's upkeep, which a batch's end may trigger as any write's may: rewriting a
segment left with more documents gone than held, or merging segments
(`memkv.recall.writing`), in one transaction whose cost grows with the segment.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import memkv
from benchmarks.common import RESULTS, percentiles, workdir
from memkv.backends.base import Outcome, WriteTxn
from memkv.purge import BATCH, Purge, PurgeFilter

PURGED_SESSION = "s-purged"
TEXT = "the user asked about the release notes and the Friday demo, turn {i}"
LOAD_BATCH = 1_000


def load(mem: memkv.Memory, purged: int, kept: int) -> None:
    """``purged`` entries in the purged session, ``kept`` in ten others."""

    def write(start: int, stop: int) -> Callable[[memkv.Transaction], None]:
        def fn(tx: memkv.Transaction) -> None:
            for i in range(start, stop):
                if i < purged:
                    tx.store(f"turn/{i:08d}", TEXT.format(i=i), memkv.CONVERSATION, PURGED_SESSION)
                else:
                    tx.store(f"note/{i:08d}", TEXT.format(i=i), memkv.DAILY, f"s-{i % 10}")

        return fn

    total = purged + kept
    for start in range(0, total, LOAD_BATCH):
        mem.transact(write(start, min(total, start + LOAD_BATCH)))


class TimedWrites:
    """Wraps a backend's ``write_group``: the time of each write transaction holding
    a purge batch, and of the functions it ran (the work without the commit)."""

    def __init__(self, mem: memkv.Memory) -> None:
        self.backend = mem.backend
        self.inner = mem.backend.write_group
        self.transactions: list[float] = []
        self.work: list[float] = []
        self.purging = False  # set by the batch run in the transaction under way
        self.backend.write_group = self.write_group  # type: ignore[method-assign]

    def write_group(self, fns: list[Callable[[WriteTxn], Any]]) -> tuple[list[Outcome], int]:
        spent = [0.0]

        def timed(fn: Callable[[WriteTxn], Any]) -> Callable[[WriteTxn], Any]:
            def run(txn: WriteTxn) -> Any:
                start = time.perf_counter()
                try:
                    return fn(txn)
                finally:
                    spent[0] += time.perf_counter() - start

            return run

        self.purging = False
        start = time.perf_counter()
        result = self.inner([timed(fn) for fn in fns])
        if self.purging:
            self.transactions.append(time.perf_counter() - start)
            self.work.append(spent[0])
        return result

    def restore(self) -> None:
        self.backend.write_group = self.inner  # type: ignore[method-assign]


def writers_during(
    mem: memkv.Memory, count: int, stop: threading.Event
) -> tuple[list[threading.Thread], list[list[float]], list[list[str]]]:
    """``count`` threads storing entries elsewhere until ``stop``: each one's write
    latencies and acknowledged keys."""
    latencies: list[list[float]] = [[] for _ in range(count)]
    written: list[list[str]] = [[] for _ in range(count)]

    def write(n: int) -> None:
        i = 0
        while not stop.is_set():
            key = f"live/{n}/{i:08d}"
            start = time.perf_counter()
            mem.store(key, TEXT.format(i=i), memkv.DAILY, f"live-{n}")
            latencies[n].append(time.perf_counter() - start)
            written[n].append(key)
            i += 1

    threads = [threading.Thread(target=write, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    return threads, latencies, written


def run(
    directory: Path, purged: int, kept: int, writers: int, batch: int, *, recall: bool
) -> dict[str, Any]:
    with memkv.open(directory / f"store-recall-{recall}", recall=recall) as mem:
        print(f"loading {purged:,} + {kept:,} entries ...", flush=True)
        load(mem, purged, kept)
        timing = TimedWrites(mem)
        stop = threading.Event()
        threads, latencies, written = writers_during(mem, writers, stop)
        time.sleep(0.2)  # the writers under way
        run = Purge(PurgeFilter.of(session_id=PURGED_SESSION), batch_size=batch)
        print(f"purging {purged:,} entries beside {writers} writers ...", flush=True)
        start = time.perf_counter()
        while not run.done:
            step = run.batch()

            def marked(tx: memkv.Transaction, step: Callable[..., Any] = step) -> Any:
                timing.purging = True
                return step(tx)

            run.record(mem.transact(marked))
        seconds = time.perf_counter() - start
        stop.set()
        for thread in threads:
            thread.join()
        timing.restore()
        acknowledged = [key for keys in written for key in keys]
        landed = sum(mem.get(key) is not None for key in acknowledged)
        problems = mem.verify()
        left = mem.count(session_id=PURGED_SESSION)
        kept_now = mem.count() - len(acknowledged)
    writes = [t for per_writer in latencies for t in per_writer]
    return {
        "recall": recall,
        "purged": purged,
        "kept": kept,
        "writers": writers,
        "batch": batch,
        "removed": run.removed,
        "seconds": seconds,
        "entries_per_second": run.removed / seconds,
        "transactions": len(timing.transactions),
        "transaction_ms": _ms(timing.transactions),
        "work_ms": _ms(timing.work),
        "writes": len(acknowledged),
        "writes_landed": landed,
        "write_latency_ms": _ms(writes) if writes else None,
        "left_in_session": left,
        "kept_after": kept_now,
        "verify": problems,
    }


def _ms(samples: list[float]) -> dict[str, float]:
    figures = percentiles(samples)
    return {
        "p50": figures["p50"] * 1e3,
        "p99": figures["p99"] * 1e3,
        "max": max(samples) * 1e3,
    }


def write_report(output: Path, command: str, results: list[dict[str, Any]]) -> None:
    output.mkdir(parents=True, exist_ok=True)
    first = results[0]
    lines = [
        f"Command: `{command}`",
        "",
        f"`purge(session_id=...)` of {first['purged']:,} entries from a durable LMDB store "
        f"also holding {first['kept']:,} others, in batches of {first['batch']}, while "
        f"{first['writers']} threads store entries elsewhere. Times of a purge transaction: "
        "p50 / p99 / max.",
        "",
        "| figure | " + " | ".join(_column(result) for result in results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("total time", lambda r: f"{r['seconds']:.2f} s ({r['entries_per_second']:,.0f}/s)"),
        ("write transactions", lambda r: f"{r['transactions']:,}"),
        ("a transaction, whole", lambda r: _spread(r["transaction_ms"])),
        ("its work, without the commit", lambda r: _spread(r["work_ms"])),
        ("the writers' stores meanwhile", lambda r: f"{r['writes']:,}"),
        ("their latency", lambda r: _spread(r["write_latency_ms"])),
        (
            "after: left in the session / writes landed / others / verify",
            lambda r: (
                f"{r['left_in_session']} / {r['writes_landed']:,} / {r['kept_after']:,}"
                f" / {'clean' if not r['verify'] else 'PROBLEMS'}"
            ),
        ),
    ]
    for name, cell in rows:
        lines.append(f"| {name} | " + " | ".join(cell(result) for result in results) + " |")
    (output / "purge.md").write_text("\n".join(lines) + "\n")
    document = {
        "command": command,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "purge": results,
    }
    (output / "purge.json").write_text(json.dumps(document, indent=2) + "\n")
    print("\n".join(lines))


def _column(result: dict[str, Any]) -> str:
    return "recall index" if result["recall"] else "no recall index (recall=False)"


def _spread(figures: dict[str, float] | None) -> str:
    if figures is None:
        return "n/a"
    return f"{figures['p50']:.2f} / {figures['p99']:.2f} / {figures['max']:.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000, help="in the purged session")
    parser.add_argument("--others", type=int, default=100_000, help="entries kept")
    parser.add_argument("--writers", type=int, default=8, help="threads writing meanwhile")
    parser.add_argument("--batch", type=int, default=BATCH, help="entries per transaction")
    parser.add_argument("--dir", help="where to put the store (default: the temp dir)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--output", default=str(RESULTS), help="where to write the results")
    args = parser.parse_args()
    if args.quick:
        args.entries, args.others = 5_000, 5_000
    command = "python benchmarks/bench_purge.py" + (" --quick" if args.quick else "")
    results = []
    with workdir(args.dir) as directory:
        for recall in (True, False):
            results.append(
                run(directory, args.entries, args.others, args.writers, args.batch, recall=recall)
            )
    write_report(Path(args.output), command, results)
    failed = [
        result
        for result in results
        if result["verify"]
        or result["left_in_session"]
        or result["writes_landed"] != result["writes"]
        or result["kept_after"] != args.others
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
