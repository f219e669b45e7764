"""Core benchmark: memkv beside raw py-lmdb (and SQLite, diskcache) doing the same work,
all measured in the same run.

    .venv/bin/python benchmarks/bench_core.py                 # 100k entries, 1M for scaling
    .venv/bin/python benchmarks/bench_core.py --quick         # a smoke run (small sizes)

Writes ``benchmarks/results/core.md`` (the table), ``core.json`` (every figure) and
``core.png`` (ratios against the targets). Fixed seeds; each timed phase follows a
warm-up; figures are medians and percentiles of samples, never means of one run.

The anchors do what a careful hand-written program would do with each engine:
* raw LMDB: one named database, the record (the same msgpack bytes memkv stores)
  under the key; ``with env.begin(...)`` per operation; ``putmulti`` for batches;
* SQLite: one table (key primary key, category, content, ...) with an index on
  (category, key), WAL, ``synchronous=FULL`` (durable like memkv's default);
* diskcache: a ``diskcache.Cache`` with its defaults (SQLite WAL with
  ``synchronous=NORMAL``: it does not flush every write, so it is not durable).
"""

from __future__ import annotations

import argparse
import functools
import random
import shutil
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lmdb
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import memkv
from benchmarks.common import RESULTS, Target, interleaved, report, timed, workdir
from memkv.entry import MemoryEntry, new_entry_id, now

CONTENT = (
    "The user prefers concise answers, works from Lisbon (UTC+0), reviews pull requests "
    "on Mondays and wants the release notes drafted before the Friday demo."
)  # ~190 bytes: a typical agent memory
CATEGORIES = ("core", "daily", "conversation", "sop")
ENCODER = msgspec.msgpack.Encoder()
ENTRY_DECODER = msgspec.msgpack.Decoder(MemoryEntry)


def record(key: str, category: str) -> bytes:
    """The bytes memkv stores for an entry; the raw anchors store the same."""
    entry = MemoryEntry(
        id=new_entry_id(), key=key, content=CONTENT, category=category, timestamp=now()
    )
    return ENCODER.encode(entry)


def key_of(i: int) -> str:
    return f"mem/{i:08d}"


def category_of(i: int) -> str:
    return CATEGORIES[i % len(CATEGORIES)]


# -- the systems under test ------------------------------------------------------------


class RawLmdb:
    def __init__(self, path: Path, *, sync: bool = True) -> None:
        self.env = lmdb.open(str(path), map_size=1 << 36, max_dbs=2, lib_version=0, sync=sync)
        self.db = self.env.open_db(b"entries")

    def load(self, items: list[tuple[bytes, bytes]]) -> None:
        with self.env.begin(write=True, db=self.db) as txn:
            txn.cursor().putmulti(items)

    def put(self, key: str, category: str) -> None:
        value = record(key, category)
        with self.env.begin(write=True, db=self.db) as txn:
            txn.put(key.encode(), value)

    def putmulti(self, keys: list[str], category: str) -> None:
        items = [(key.encode(), record(key, category)) for key in keys]
        with self.env.begin(write=True, db=self.db) as txn:
            txn.cursor().putmulti(items)

    def get(self, key: bytes) -> Any:
        with self.env.begin(db=self.db) as txn:
            value = txn.get(key)
            assert value is not None
            return ENTRY_DECODER.decode(value)

    def scan(self, start: bytes, count: int) -> list[Any]:
        out = []
        with self.env.begin(db=self.db) as txn, txn.cursor() as cursor:
            cursor.set_range(start)
            for _, value in cursor:
                out.append(ENTRY_DECODER.decode(value))
                if len(out) >= count:
                    break
        return out


class Sqlite:
    def __init__(self, path: Path, *, synchronous: str = "FULL") -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS memories (key TEXT PRIMARY KEY, id TEXT, category TEXT,"
            " session_id TEXT, ts TEXT, content BLOB) WITHOUT ROWID"
        )
        self.db.execute("CREATE INDEX IF NOT EXISTS by_category ON memories (category, key)")

    def _row(self, key: str, category: str) -> tuple[Any, ...]:
        return (key, new_entry_id(), category, None, now().isoformat(), ENCODER.encode(CONTENT))

    def load(self, keys: list[tuple[str, str]]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT OR REPLACE INTO memories VALUES (?, ?, ?, ?, ?, ?)",
            [self._row(k, c) for k, c in keys],
        )
        self.db.execute("COMMIT")

    def put(self, key: str, category: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO memories VALUES (?, ?, ?, ?, ?, ?)", self._row(key, category)
        )

    def putmulti(self, keys: list[str], category: str) -> None:
        self.load([(k, category) for k in keys])

    def get(self, key: str) -> Any:
        row = self.db.execute("SELECT * FROM memories WHERE key = ?", (key,)).fetchone()
        return (row[0], row[1], row[2], row[3], row[4], ENCODER_DECODE(row[5]))

    def scan(self, category: str, after: str, count: int) -> list[Any]:
        rows = self.db.execute(
            "SELECT * FROM memories WHERE category = ? AND key > ? ORDER BY key LIMIT ?",
            (category, after, count),
        ).fetchall()
        return [(r[0], r[1], r[2], r[3], r[4], ENCODER_DECODE(r[5])) for r in rows]


ENCODER_DECODE = msgspec.msgpack.Decoder().decode


class DiskCache:
    def __init__(self, path: Path) -> None:
        import diskcache

        self.cache = diskcache.Cache(str(path))

    def load(self, keys: list[tuple[str, str]]) -> None:
        with self.cache.transact():
            for key, category in keys:
                self.cache.set(key, record(key, category))

    def put(self, key: str, category: str) -> None:
        self.cache.set(key, record(key, category))

    def putmulti(self, keys: list[str], category: str) -> None:
        with self.cache.transact():
            for key in keys:
                self.cache.set(key, record(key, category))

    def get(self, key: str) -> Any:
        return ENTRY_DECODER.decode(self.cache.get(key))


# -- the benchmarks --------------------------------------------------------------------


def store_all(mem: memkv.Memory, pairs: list[tuple[str, str]]) -> None:
    """Store ``(key, category)`` pairs with the benchmark content, in one transaction."""

    def write(tx: memkv.Transaction) -> None:
        for key, category in pairs:
            tx.store(key, CONTENT, category)

    mem.transact(write)


def load_all(directory: Path, entries: int) -> dict[str, Any]:
    keys = [(key_of(i), category_of(i)) for i in range(entries)]
    systems: dict[str, Any] = {}
    mem = memkv.open(directory / "memkv", durability="unsynced")
    for start in range(0, entries, 10_000):
        store_all(mem, keys[start : start + 10_000])
    mem.close()
    systems["memkv"] = memkv.open(directory / "memkv")  # reopened durable, the default
    raw = RawLmdb(directory / "raw")
    raw.load([(k.encode(), record(k, c)) for k, c in keys])
    systems["raw LMDB"] = raw
    sqlite = Sqlite(directory / "sqlite.db")
    sqlite.load(keys)
    systems["SQLite (WAL, FULL)"] = sqlite
    try:
        cache = DiskCache(directory / "diskcache")
        cache.load(keys)
        systems["diskcache"] = cache
    except ImportError:
        print("diskcache is not installed (pip install -e '.[bench]'): skipped", file=sys.stderr)
    return systems


def bench_single_store(systems: dict[str, Any], ops: int) -> dict[str, list[float]]:
    counter = iter(range(10**9))

    def memkv_store() -> None:
        i = next(counter)
        systems["memkv"].store(f"single/{i:09d}", CONTENT, "daily")

    contenders: dict[str, Callable[[], object]] = {"memkv": memkv_store}
    for name in ("raw LMDB", "SQLite (WAL, FULL)", "diskcache"):
        if name in systems:
            contenders[name] = functools.partial(_put_next, systems[name], counter)
    return interleaved(contenders, ops)


def _put_next(system: Any, counter: Iterator[int]) -> None:
    system.put(f"single/{next(counter):09d}", "daily")


def bench_batch(systems: dict[str, Any], batches: int, size: int = 1000) -> dict[str, list[float]]:
    counter = iter(range(10**9))

    def keys() -> list[str]:
        n = next(counter)
        return [f"batch/{n:06d}/{i:04d}" for i in range(size)]

    def memkv_batch() -> None:
        batch = keys()
        systems["memkv"].transact(lambda tx: [tx.store(k, CONTENT, "daily") for k in batch])

    contenders: dict[str, Callable[[], object]] = {"memkv": memkv_batch}
    for name in ("raw LMDB", "SQLite (WAL, FULL)", "diskcache"):
        if name in systems:
            contenders[name] = functools.partial(_putmulti_next, systems[name], keys)
    per_batch = interleaved(contenders, batches)
    return {name: [t / size for t in times] for name, times in per_batch.items()}


def _putmulti_next(system: Any, keys: Callable[[], list[str]]) -> None:
    system.putmulti(keys(), "daily")


def bench_get(systems: dict[str, Any], keys: list[int], samples: int) -> dict[str, list[float]]:
    """Gets of ``keys`` in order, 100 per sample, in a tight loop per system (each
    reads the same sequence)."""
    per_sample = 100
    text_chunks = [
        [key_of(i) for i in keys[at : at + per_sample]] for at in range(0, len(keys), per_sample)
    ]
    byte_chunks = [[key.encode() for key in chunk] for chunk in text_chunks]
    loops: dict[str, Callable[[int], object]] = {}
    get = systems["memkv"].get

    def memkv_loop(n: int) -> None:
        for key in text_chunks[n]:
            get(key)

    loops["memkv"] = memkv_loop
    raw = systems["raw LMDB"]
    env, db, decode = raw.env, raw.db, ENTRY_DECODER.decode

    def raw_loop(n: int) -> None:
        for key in byte_chunks[n]:
            with env.begin(db=db) as txn:
                decode(txn.get(key))

    loops["raw LMDB"] = raw_loop
    if "SQLite (WAL, FULL)" in systems:
        execute, decode_any = systems["SQLite (WAL, FULL)"].db.execute, ENCODER_DECODE

        def sqlite_loop(n: int) -> None:
            for key in text_chunks[n]:
                row = execute("SELECT * FROM memories WHERE key = ?", (key,)).fetchone()
                decode_any(row[5])

        loops["SQLite (WAL, FULL)"] = sqlite_loop
    if "diskcache" in systems:
        cache_get = systems["diskcache"].cache.get

        def diskcache_loop(n: int) -> None:
            for key in text_chunks[n]:
                decode(cache_get(key))

        loops["diskcache"] = diskcache_loop
    positions = {name: iter(range(10**9)) for name in loops}
    chunks = len(text_chunks)
    contenders: dict[str, Callable[[], object]] = {
        name: functools.partial(_next_chunk, loop, positions[name], chunks)
        for name, loop in loops.items()
    }
    per_chunk = interleaved(contenders, samples)
    return {name: [t / per_sample for t in times] for name, times in per_chunk.items()}


def _next_chunk(loop: Callable[[int], object], position: Iterator[int], chunks: int) -> None:
    loop(next(position) % chunks)


def bench_list(
    systems: dict[str, Any], entries: int, calls: int, count: int = 1000
) -> dict[str, list[float]]:
    rng = random.Random(7)
    starts = [rng.randrange(0, entries - 4 * count) for _ in range(calls)]
    mem, raw, sqlite = systems["memkv"], systems["raw LMDB"], systems["SQLite (WAL, FULL)"]
    position = {"memkv": 0, "raw": 0, "sqlite": 0}

    def start(name: str) -> int:
        position[name] += 1
        return starts[position[name] % calls] // 4 * 4

    def memkv_list() -> None:
        got = mem.list("core", after=key_of(start("memkv")), limit=count)
        assert len(got) == count

    def raw_scan() -> None:  # the same 1000 records in key order (the anchor: its own table)
        got = raw.scan(key_of(start("raw")).encode(), count)
        assert len(got) == count

    def sqlite_scan() -> None:
        got = sqlite.scan("core", key_of(start("sqlite")), count)
        assert len(got) == count

    per_call = interleaved(
        {"memkv": memkv_list, "raw LMDB": raw_scan, "SQLite (WAL, FULL)": sqlite_scan}, calls
    )
    return {name: [t / count for t in times] for name, times in per_call.items()}


def bench_scale(directory: Path, small: int, big: int, calls: int) -> dict[str, list[float]]:
    """list(category, limit=100) on a store of ``small`` entries and one of ``big``."""
    return {
        f"{size:,} entries": _list_page_times(directory / f"scale-{size}", size, calls)
        for size in (small, big)
    }


def _list_page_times(path: Path, size: int, calls: int) -> list[float]:
    with memkv.open(path, durability="unsynced") as mem:
        for start in range(0, size, 20_000):
            store_all(
                mem, [(key_of(i), category_of(i)) for i in range(start, min(size, start + 20_000))]
            )
    rng = random.Random(11)
    with memkv.open(path) as mem:

        def listing() -> None:
            got = mem.list("core", after=key_of(rng.randrange(size - 1000)), limit=100)
            assert len(got) == 100

        timed(listing, calls // 10)
        times = timed(listing, calls)
    shutil.rmtree(path, ignore_errors=True)
    return times


# -- report ----------------------------------------------------------------------------


def targets(small: int, big: int) -> dict[str, Target]:
    return {
        "durable single store": Target("memkv", "raw LMDB", "speedup", 0.9),
        "1,000 stores in one transaction (per record)": Target("memkv", "raw LMDB", "speedup", 0.5),
        "get, random keys (cold cache)": Target("memkv", "raw LMDB", "speedup", 0.8),
        "get, 1k-key hot set": Target("memkv", "raw LMDB", "speedup", 3.0),
        "list(category) of 1,000 (per item)": Target("memkv", "raw LMDB", "slowdown", 1.5),
        "list(category, limit=100): large vs small store": Target(
            f"{big:,} entries", f"{small:,} entries", "slowdown", 2.0
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000, help="store size (default 100k)")
    parser.add_argument("--big", type=int, default=1_000_000, help="large store for scaling")
    parser.add_argument("--small", type=int, default=10_000, help="small store for scaling")
    parser.add_argument("--store-ops", type=int, default=1000, help="durable single stores")
    parser.add_argument("--batches", type=int, default=30, help="1,000-store batches")
    parser.add_argument("--get-samples", type=int, default=1500, help="100-get samples")
    parser.add_argument("--list-calls", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", help="where to put the stores (default: the temp dir)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--output", default=str(RESULTS), help="where to write the results")
    args = parser.parse_args()
    if args.quick:
        args.entries, args.big, args.small = 20_000, 50_000, 5_000
        args.store_ops, args.batches, args.get_samples, args.list_calls = 100, 5, 200, 30
    rng = random.Random(args.seed)
    figures: dict[str, dict[str, list[float]]] = {}
    with workdir(args.dir) as directory:
        print(f"loading {args.entries:,} entries into each system ...", flush=True)
        systems = load_all(directory, args.entries)
        print("durable single store ...", flush=True)
        figures["durable single store"] = bench_single_store(systems, args.store_ops)
        print("batches ...", flush=True)
        figures["1,000 stores in one transaction (per record)"] = bench_batch(systems, args.batches)
        print("gets ...", flush=True)
        cold = [rng.randrange(args.entries) for _ in range(200_000)]
        figures["get, random keys (cold cache)"] = bench_get(systems, cold, args.get_samples)
        hot_set = rng.sample(range(args.entries), 1000)
        hot = [rng.choice(hot_set) for _ in range(200_000)]
        figures["get, 1k-key hot set"] = bench_get(systems, hot, args.get_samples)
        print("lists ...", flush=True)
        figures["list(category) of 1,000 (per item)"] = bench_list(
            systems, args.entries, args.list_calls
        )
        systems["memkv"].close()
        print(f"scaling: {args.small:,} vs {args.big:,} entries ...", flush=True)
        figures["list(category, limit=100): large vs small store"] = bench_scale(
            directory, args.small, args.big, args.list_calls
        )
    command = "python benchmarks/bench_core.py" + (" --quick" if args.quick else "")
    report(
        "core",
        command,
        figures,
        targets(args.small, args.big),
        Path(args.output),
        notes=f"{args.entries:,} entries; scaling {args.small:,} vs {args.big:,} entries.",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
