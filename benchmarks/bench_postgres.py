"""PostgreSQL benchmark: memkv on PostgreSQL beside plain psycopg sending the same SQL,
and beside memkv on LMDB, all in the same run, at 1 and 16 threads.

    .venv/bin/python benchmarks/bench_postgres.py            # 20,000 entries per store
    .venv/bin/python benchmarks/bench_postgres.py --quick    # a smoke run

Starts a throwaway PostgreSQL cluster (the Debian package's binaries) on a loopback
port: fsync on, ``synchronous_commit`` on, so a commit returns once its WAL is on
disk (memkv's ``durable``). Writes ``benchmarks/results/postgres.md``, ``-summary.md``,
``.json`` and ``.png``. Figures are seconds per operation: with 16 threads, the wall
time of a sample divided by the operations all threads made in it.

"Plain psycopg" is what a careful program would send to keep the same tables as
memkv (it writes into a store memkv created, and memkv verifies it afterwards): one
connection per thread, and for a store ``BEGIN`` with the writer lock, a read of the
old entry (to move its index entries), reads of the two counts, then the upserts
and the commit counter in one statement pipelined with ``COMMIT``; for a get one
``SELECT`` and a msgpack decode; for a list page one index range ``SELECT`` and 20
decodes. The difference to memkv is memkv itself: validation, the transaction
views, the group commit, the pool.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import memkv
from benchmarks.common import RESULTS, Figures, Target, report, workdir
from memkv import layout
from memkv.backends.base import Table
from memkv.entry import MemoryEntry, new_entry_id, now
from memkv.keys import prefix_end
from tests.postgres_cluster import ThrowawayCluster

CONTENT = (
    "The user prefers concise answers, works from Lisbon (UTC+0), reviews pull requests "
    "on Mondays and wants the release notes drafted before the Friday demo."
)
CATEGORIES = tuple(f"cat{i}" for i in range(10))
WRITE_CATEGORY = "written"
BATCH = 100
PAGE = 20
THREADS = (1, 16)
LOCK_CLASS = 0x6D6B7600
ENCODER = msgspec.msgpack.Encoder()
DECODER = msgspec.msgpack.Decoder(MemoryEntry)

Op = Callable[[int, int], object]  # (thread, n) -> anything


def record(key: str, category: str) -> bytes:
    return ENCODER.encode(
        MemoryEntry(id=new_entry_id(), key=key, content=CONTENT, category=category, timestamp=now())
    )


def count_value(count: int) -> bytes:
    return layout.encode_count(count)


class PlainSql:
    """The same SQL as memkv's PostgreSQL backend, hand-written on raw psycopg."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.local = threading.local()
        kv = f"{schema}.kv"
        self.get_sql = f"SELECT v FROM {kv} WHERE tbl = %s AND k = %s"
        self.scan_sql = (
            f"SELECT k, v FROM {kv} WHERE tbl = %s AND k >= %s AND k < %s ORDER BY k LIMIT %s"
        )
        with psycopg.connect(dsn, autocommit=True) as conn:
            row = conn.execute("SELECT %s::regnamespace::oid::integer", (schema,)).fetchone()
            assert row is not None
        self.begin_sql = f"BEGIN; SELECT pg_advisory_xact_lock({LOCK_CLASS}, {row[0]})"
        self.commit_sql = f"""
            WITH removed AS (
                DELETE FROM {kv} AS kv USING unnest(%s::smallint[], %s::bytea[]) AS gone (tbl, k)
                WHERE kv.tbl = gone.tbl AND kv.k = gone.k
            ), written AS (
                INSERT INTO {kv} (tbl, k, v)
                SELECT * FROM unnest(%s::smallint[], %s::bytea[], %s::bytea[])
                ON CONFLICT (tbl, k) DO UPDATE SET v = excluded.v
            )
            UPDATE {schema}.store_info SET last_commit = last_commit + 1 RETURNING last_commit
        """

    @property
    def conn(self) -> psycopg.Connection[Any]:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = psycopg.connect(self.dsn, autocommit=True)
        return conn

    def _get(self, conn: psycopg.Connection[Any], table: Table, key: bytes) -> bytes | None:
        row = conn.execute(self.get_sql, (int(table), key), binary=True).fetchone()
        return None if row is None else row[0]

    def store_many(self, keys: list[str], category: str) -> None:
        conn = self.conn
        conn.execute(self.begin_sql)
        tables, raw_keys, values = [], [], []
        for key in keys:
            raw = key.encode()
            if self._get(conn, Table.ENTRIES, raw) is not None:
                raise AssertionError("the benchmark writes new keys only")
            value = record(key, category)
            tables += [int(Table.ENTRIES), int(Table.INDEX)]
            raw_keys += [raw, layout.category_prefix(layout.USER_SPACE, category) + raw]
            values += [value, value]
        for count_key in layout.count_keys(layout.USER_SPACE, category, None):
            stored = self._get(conn, Table.INDEX, count_key)
            tables.append(int(Table.INDEX))
            raw_keys.append(count_key)
            values.append(count_value(layout.decode_count(stored) + len(keys)))
        with conn.pipeline():
            conn.execute(self.commit_sql, ([], [], tables, raw_keys, values), binary=True)
            conn.execute("COMMIT")

    def get(self, key: str) -> MemoryEntry[Any]:
        value = self._get(self.conn, Table.ENTRIES, key.encode())
        assert value is not None
        return DECODER.decode(value)

    def list(self, category: str, limit: int) -> list[MemoryEntry[Any]]:
        start = layout.category_prefix(layout.USER_SPACE, category)
        rows = self.conn.execute(
            self.scan_sql,
            (int(Table.INDEX), start, prefix_end(start), limit),
            binary=True,
        ).fetchall()
        return [DECODER.decode(value) for _, value in rows]

    def close(self) -> None:
        conn = getattr(self.local, "conn", None)
        if conn is not None:
            conn.close()


def fill(mem: memkv.Memory, size: int) -> None:
    def store_range(tx: memkv.Transaction, start: int) -> None:
        for i in range(start, min(size, start + 1000)):
            tx.store(f"mem/{i:08d}", CONTENT, category=CATEGORIES[i % len(CATEGORIES)])

    for start in range(0, size, 1000):
        mem.transact(functools.partial(store_range, start=start))


def operations(
    system: str, mem: memkv.Memory | None, plain: PlainSql | None, size: int
) -> dict[str, Op]:
    """The four operations of one system; each writes keys of its own."""
    fresh = itertools.count()

    def new_key(thread: int) -> str:
        return f"w/{system}/{thread}/{next(fresh)}"

    def read_key(n: int) -> str:
        return f"mem/{(n * 7919) % size:08d}"

    if mem is not None:
        memory = mem
        return {
            "durable store": lambda t, n: memory.store(new_key(t), CONTENT, WRITE_CATEGORY),
            f"batched store ({BATCH} per transaction)": lambda t, n: memory.transact(
                lambda tx: [tx.store(new_key(t), CONTENT, WRITE_CATEGORY) for _ in range(BATCH)]
            ),
            "get": lambda t, n: memory.get(read_key(n)),
            f"list {PAGE} of a category": lambda t, n: memory.list(
                CATEGORIES[n % len(CATEGORIES)], limit=PAGE
            ),
        }
    assert plain is not None
    sql = plain
    return {
        "durable store": lambda t, n: sql.store_many([new_key(t)], WRITE_CATEGORY),
        f"batched store ({BATCH} per transaction)": lambda t, n: sql.store_many(
            [new_key(t) for _ in range(BATCH)], WRITE_CATEGORY
        ),
        "get": lambda t, n: sql.get(read_key(n)),
        f"list {PAGE} of a category": lambda t, n: sql.list(CATEGORIES[n % len(CATEGORIES)], PAGE),
    }


def sample(op: Op, threads: int, per_thread: int) -> float:
    """Seconds per operation: ``threads`` threads making ``per_thread`` calls each."""
    if threads == 1:
        start = time.perf_counter()
        for n in range(per_thread):
            op(0, n)
        return (time.perf_counter() - start) / per_thread
    barrier = threading.Barrier(threads + 1)

    def run(thread: int) -> None:
        barrier.wait()
        for n in range(per_thread):
            op(thread, thread * per_thread + n)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    return (time.perf_counter() - start) / (threads * per_thread)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few samples")
    parser.add_argument("--size", type=int, default=None, help="entries per store")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    size = args.size or (2_000 if args.quick else 20_000)
    samples = 3 if args.quick else 9
    # calls per thread per sample, by operation (writes at 16 threads wait on one lock)
    per_thread = {"durable store": 40, "batched": 3, "get": 300, "list": 100}
    if args.quick:
        per_thread = {name: max(1, calls // 4) for name, calls in per_thread.items()}

    figures: Figures = {}
    with ThrowawayCluster() as cluster, workdir(None) as directory:
        dsn = cluster.dsn
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) >= 2:  # the server on one core, this process on another (see `pin`)
            cluster.pin({cpus[-1]})
            os.sched_setaffinity(0, {cpus[0]})
        systems: dict[str, dict[str, Op]] = {}
        opened: list[memkv.Memory] = []
        for name, target in (("memkv postgres", dsn), ("memkv lmdb", str(directory / "lmdb"))):
            options: dict[str, Any] = {"schema": "bench", "pool_size": 16} if target == dsn else {}
            mem = memkv.open(target, **options)
            fill(mem, size)
            opened.append(mem)
            systems[name] = operations(name, mem, None, size)
        with memkv.open(dsn, schema="plain") as plain_store:  # the same tables, filled alike
            fill(plain_store, size)
        plain = PlainSql(dsn, "plain")
        systems["plain psycopg"] = operations("plain", None, plain, size)

        for op_name in systems["memkv postgres"]:
            calls = next(v for k, v in per_thread.items() if op_name.startswith(k))
            for threads in THREADS:
                bench = f"{op_name}, {threads} thread{'s' if threads > 1 else ''}"
                by_system: dict[str, list[float]] = {name: [] for name in systems}
                for ops in systems.values():  # warm-up
                    sample(ops[op_name], threads, max(1, calls // 4))
                for _ in range(samples):  # interleaved: drift falls on all alike
                    for name, ops in systems.items():
                        by_system[name].append(sample(ops[op_name], threads, calls))
                figures[bench] = by_system
                print(f"{bench}: done", file=sys.stderr)

        with memkv.open(dsn, schema="plain") as plain_store:
            problems = plain_store.verify()
            assert problems == [], problems  # plain SQL kept memkv's tables consistent
        plain.close()
        for mem in opened:
            assert mem.verify() == []
            mem.close()

    targets = {
        bench: Target(subject="memkv postgres", anchor="plain psycopg", form="slowdown", goal=1.3)
        for bench in figures
    }
    report(
        "postgres",
        "benchmarks/bench_postgres.py" + (" --quick" if args.quick else ""),
        figures,
        targets,
        args.output,
        notes=(
            f"Stores of {size:,} entries (~190-byte content) in a throwaway PostgreSQL "
            "cluster on loopback, fsync and synchronous_commit on; the server runs on one "
            "core and the benchmark on the other (a round trip then costs the same for "
            "every connection: about 100 µs here); memkv's pool holds up "
            "to 16 connections, plain psycopg has one per thread; LMDB is memkv's default "
            "backend on the local disk, for scale. With 16 threads, memkv's writers share "
            "group commits; plain psycopg's each commit alone."
        ),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
