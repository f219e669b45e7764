"""job_journal benchmark: durable appends at 1k and 100k events, beside raw LMDB and
runtimo's rewrite-the-file approach; tail(100) on a 1M-event journal beside a raw
LMDB reverse cursor over the same records.

    .venv/bin/python benchmarks/bench_job_journal.py
    .venv/bin/python benchmarks/bench_job_journal.py --quick

Writes ``benchmarks/results/job_journal*``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

import lmdb
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import memkv
from benchmarks.common import RESULTS, Figures, Target, interleaved, report, workdir
from job_journal import JobJournal, WalEvent, WalEventType
from job_journal import operations as journal_ops

ENCODER = msgspec.json.Encoder()
DECODER = msgspec.msgpack.Decoder(WalEvent)


def make_event(n: int) -> WalEvent:
    return WalEvent(
        ts=1_715_800_000 + n,
        type=WalEventType.JOB_COMPLETED,
        job_id=f"job-{n % 500}",
        capability="FileRead",
        output={"bytes": n % 4096, "path": "/data/in.csv"},
        telemetry_after={"cpu": 0.31, "mem_mb": 412},
    )


def fill(journal: JobJournal, count: int) -> None:
    """Load ``count`` events quickly (transactions of 5,000)."""
    start = len(journal)
    for at in range(start, count, 5_000):
        batch = [make_event(n) for n in range(at, min(count, at + 5_000))]

        def append(tx: memkv.Transaction, batch: list[WalEvent] = batch) -> None:
            for event in batch:
                journal_ops.append(tx, journal.log, journal.name, event, None)

        journal.memory.transact(append)


class OriginalWal:
    """runtimo's WalWriter::append: read the whole file, write it and the new line to
    a temporary file, fsync, rename over the original, fsync the directory."""

    def __init__(self, path: Path, events: int) -> None:
        self.path = path
        path.write_bytes(b"".join(ENCODER.encode(make_event(n)) + b"\n" for n in range(events)))
        self.seq = events

    def append(self, event: WalEvent) -> None:
        line = ENCODER.encode(event.evolve(seq=self.seq))
        existing = self.path.read_bytes()
        temporary = self.path.with_suffix(".wal.tmp")
        with open(temporary, "wb") as out:
            out.write(existing + line + b"\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        self.seq += 1


class RawLmdbLog:
    """One put per durable commit, the seq as an 8-byte big-endian key."""

    def __init__(self, path: Path) -> None:
        self.env = lmdb.open(str(path), map_size=1 << 36, max_dbs=2, lib_version=0)
        self.db = self.env.open_db(b"events")
        self.seq = 0

    def load(self, count: int) -> None:
        encoder = msgspec.msgpack.Encoder()
        for at in range(0, count, 50_000):
            items = [
                (n.to_bytes(8, "big"), encoder.encode(make_event(n).evolve(seq=n)))
                for n in range(at, min(count, at + 50_000))
            ]
            with self.env.begin(write=True, db=self.db) as txn:
                txn.cursor().putmulti(items)
        self.seq = count

    def append(self, event: WalEvent) -> None:
        value = msgspec.msgpack.encode(event.evolve(seq=self.seq))
        with self.env.begin(write=True, db=self.db) as txn:
            txn.put(self.seq.to_bytes(8, "big"), value)
        self.seq += 1

    def tail(self, n: int) -> list[WalEvent]:
        out = []
        with self.env.begin(db=self.db) as txn, txn.cursor() as cursor:
            cursor.last()
            for _, value in cursor.iterprev():
                out.append(DECODER.decode(value))
                if len(out) == n:
                    break
        return out[::-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appends", type=int, default=300, help="durable appends per contender")
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--original-events", type=int, default=10_000, help="runtimo's file size")
    parser.add_argument("--tail-events", type=int, default=1_000_000)
    parser.add_argument("--tail-calls", type=int, default=300)
    parser.add_argument("--dir")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args()
    if args.quick:
        args.appends, args.large, args.original_events, args.tail_events, args.tail_calls = (
            60,
            10_000,
            2_000,
            20_000,
            50,
        )
    figures: Figures = {}
    with workdir(args.dir) as directory:
        small = JobJournal(memkv.open(directory / "small", durability="unsynced"))
        large = JobJournal(memkv.open(directory / "large", durability="unsynced"))
        fill(small, args.small)
        fill(large, args.large)
        small.memory.close()
        large.memory.close()
        small = JobJournal(memkv.open(directory / "small"))  # durable from here on
        large = JobJournal(memkv.open(directory / "large"))
        original = OriginalWal(directory / "original.wal", args.original_events)
        raw = RawLmdbLog(directory / "raw")
        raw.load(args.small)
        counter = itertools.count(10**7)
        figures["durable append"] = interleaved(
            {
                f"memkv, {args.large:,} events": lambda: large.append(make_event(next(counter))),
                f"memkv, {args.small:,} events": lambda: small.append(make_event(next(counter))),
                "raw LMDB, one put per commit": lambda: raw.append(make_event(next(counter))),
                f"original: runtimo (rewrite + rename), {args.original_events:,} events": lambda: (
                    original.append(make_event(next(counter)))
                ),
            },
            args.appends,
        )
        small.memory.close()
        large.memory.close()

        big = JobJournal(memkv.open(directory / "big", durability="unsynced"))
        fill(big, args.tail_events)
        raw_big = RawLmdbLog(directory / "raw-big")
        raw_big.load(args.tail_events)
        assert [e.job_id for e in big.tail(100)] == [e.job_id for e in raw_big.tail(100)]
        figures[f"tail(100) of {args.tail_events:,} events"] = interleaved(
            {
                "memkv tail": lambda: big.tail(100),
                "raw LMDB reverse cursor": lambda: raw_big.tail(100),
            },
            args.tail_calls,
        )
        big.memory.close()
    append_name = "durable append"
    targets = {
        append_name: Target(
            f"memkv, {args.large:,} events", f"memkv, {args.small:,} events", "slowdown", 1.2
        ),
        f"{append_name} ": Target(
            f"memkv, {args.large:,} events",
            f"original: runtimo (rewrite + rename), {args.original_events:,} events",
            "speedup",
            20.0,
        ),
        f"tail(100) of {args.tail_events:,} events": Target(
            "memkv tail", "raw LMDB reverse cursor", "slowdown", 2.0
        ),
    }
    figures[f"{append_name} "] = figures[append_name]  # the second target reads the same samples
    command = "python benchmarks/bench_job_journal.py" + (" --quick" if args.quick else "")
    notes = (
        "An append is durable in every contender (LMDB flushes each commit; runtimo's writer "
        "fsyncs the file and the directory). The raw LMDB log stores the same records."
    )
    report("job_journal", command, figures, targets, Path(args.output), notes=notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
