"""Write throughput on this machine: memkv beside raw py-lmdb doing the same work.

``memkv bench`` prints it; ``benchmarks/bench_write_throughput.py`` adds SQLite and
diskcache and writes the report. Each system writes the same keys (``batch`` records
per transaction) from ``concurrency`` writers at once into a store that already holds
``store_size`` records, and reports transactions and records per second and the
latency of a transaction as each writer saw it:

* ``memkv async``: `memkv.aio.AsyncMemory` from asyncio tasks (group commit);
* ``memkv threads``: one `memkv.Memory` shared by threads (group commit);
* ``raw LMDB``: py-lmdb, one write transaction per transaction, from threads (the
  writers queue on LMDB's lock); the value is a msgpack record encoded per write;
* ``raw LMDB group commit``: the least a program needs to group-commit with py-lmdb:
  asyncio tasks queue their records, one thread writes all that is queued in one
  transaction, commits and wakes the tasks.

Raw LMDB runs at the LMDB flags of the chosen durability (``durable``: LMDB's
defaults, a synchronous meta page write).
"""

from __future__ import annotations

import asyncio
import math
import statistics
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import lmdb
import msgspec

import memkv
import memkv.aio
from memkv.keys import pack
from memkv.options import Durability

PREFILL_BATCH: Final = 5_000  # records per transaction while filling a store
SYSTEMS: Final = ("async", "threads", "raw", "raw-group")  # what `open_systems` makes
_record_encoder: Final = msgspec.msgpack.Encoder()


@dataclass(frozen=True, kw_only=True)
class Workload:
    """What every system is asked to do; see the module docstring."""

    durability: Durability = Durability.DURABLE
    value_size: int = 200  # characters of content per record
    batch: int = 1  # records per transaction
    transactions: int = 2_000  # per run, shared among the writers
    store_size: int = 10_000  # records stored before the timing starts

    def __post_init__(self) -> None:
        for name in ("value_size", "batch", "transactions"):
            if getattr(self, name) < 1:
                raise memkv.InvalidArgument(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.store_size < 0:
            raise memkv.InvalidArgument(f"store_size must be >= 0, not {self.store_size}")

    @property
    def content(self) -> str:
        return ("memkv bench " * (self.value_size // 12 + 1))[: self.value_size]

    def per_writer(self, concurrency: int) -> int:
        """Transactions each writer makes (the total rounded up to a multiple)."""
        return math.ceil(self.transactions / concurrency)

    def run_keys(self, run: int, concurrency: int) -> list[list[list[str]]]:
        """The keys of each writer's transactions in run ``run``, made before the
        timing starts: ``[writer][n]`` is a list of ``batch`` keys."""
        return [
            [
                [pack(("bench", writer, run, n, i)) for i in range(self.batch)]
                for n in range(self.per_writer(concurrency))
            ]
            for writer in range(concurrency)
        ]

    def prefill_keys(self) -> Iterator[list[str]]:
        for start in range(0, self.store_size, PREFILL_BATCH):
            stop = min(self.store_size, start + PREFILL_BATCH)
            yield [pack(("bench", i % 256, -1, i)) for i in range(start, stop)]


class Result(msgspec.Struct, frozen=True, kw_only=True):
    """One system's run at one concurrency."""

    system: str
    concurrency: int
    transactions: int
    records: int
    seconds: float
    latency_ms: dict[str, float]  # p50, p90, p99 of a transaction, as its writer saw it

    @property
    def transactions_per_second(self) -> float:
        return self.transactions / self.seconds

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds


Results = dict[tuple[str, int], list["Result"]]  # (system, concurrency) -> its runs


class System(Protocol):
    """A store under test: filled once, then run at several concurrencies."""

    name: str

    def run(self, run: int, concurrency: int) -> Result: ...

    def close(self) -> None: ...


def measured(
    system: str, workload: Workload, concurrency: int, seconds: float, latencies: list[float]
) -> Result:
    ordered = sorted(latencies)
    cut = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else None
    p50 = statistics.median(ordered)
    return Result(
        system=system,
        concurrency=concurrency,
        transactions=len(latencies),
        records=len(latencies) * workload.batch,
        seconds=seconds,
        latency_ms={
            "p50": p50 * 1e3,
            "p90": (cut[89] if cut else p50) * 1e3,
            "p99": (cut[98] if cut else p50) * 1e3,
        },
    )


def run_threads(
    concurrency: int, per_writer: int, write: Callable[[int, int], object]
) -> tuple[float, list[float]]:
    """``write(writer, n)`` from ``concurrency`` threads, ``per_writer`` times each;
    the wall time and every call's latency."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    start_line = threading.Barrier(concurrency + 1)
    clock = time.perf_counter

    def writer(index: int) -> None:
        mine = latencies[index]
        start_line.wait()
        for n in range(per_writer):
            began = clock()
            write(index, n)
            mine.append(clock() - began)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = clock()
    for thread in threads:
        thread.join()
    return clock() - began, [latency for mine in latencies for latency in mine]


async def run_tasks(
    concurrency: int, per_writer: int, write: Callable[[int, int], Awaitable[object]]
) -> tuple[float, list[float]]:
    """``await write(writer, n)`` from ``concurrency`` tasks, ``per_writer`` times each."""
    latencies: list[float] = []
    clock = time.perf_counter

    async def writer(index: int) -> None:
        for n in range(per_writer):
            began = clock()
            await write(index, n)
            latencies.append(clock() - began)

    began = clock()
    await asyncio.gather(*(writer(i) for i in range(concurrency)))
    return clock() - began, latencies


# -- memkv ---------------------------------------------------------------------------------


class MemkvSystem:
    """memkv at ``path``, written from asyncio tasks (``mode="async"``) or threads."""

    def __init__(self, path: Path, workload: Workload, mode: str) -> None:
        if mode not in ("async", "threads"):
            raise memkv.InvalidArgument(f"mode must be 'async' or 'threads', not {mode!r}")
        self.name = f"memkv {mode}"
        self.mode = mode
        self.workload = workload
        self.memory = memkv.open(path, durability=workload.durability)
        for keys in workload.prefill_keys():
            self.memory.transact(self._transaction(keys))

    def _transaction(self, keys: list[str]) -> Callable[[memkv.Transaction], None]:
        content = self.workload.content

        def write(tx: memkv.Transaction) -> None:
            for key in keys:
                tx.store(key, content)

        return write

    def run(self, run: int, concurrency: int) -> Result:
        workload = self.workload
        keys = workload.run_keys(run, concurrency)
        per_writer = workload.per_writer(concurrency)
        if self.mode == "threads":

            def write(writer: int, n: int) -> object:
                batch = keys[writer][n]
                if len(batch) == 1:  # as a user would: one store
                    return self.memory.store(batch[0], workload.content)
                return self.memory.transact(self._transaction(batch))

            seconds, latencies = run_threads(concurrency, per_writer, write)
        else:
            seconds, latencies = asyncio.run(self._run_async(keys, concurrency, per_writer))
        return measured(self.name, workload, concurrency, seconds, latencies)

    async def _run_async(
        self, keys: list[list[list[str]]], concurrency: int, per_writer: int
    ) -> tuple[float, list[float]]:
        amemory = memkv.aio.AsyncMemory(self.memory)

        content = self.workload.content

        def write(writer: int, n: int) -> Awaitable[object]:
            batch = keys[writer][n]
            if len(batch) == 1:  # as a user would: one store
                return amemory.store(batch[0], content)
            return amemory.transact(self._transaction(batch))

        return await run_tasks(concurrency, per_writer, write)

    def close(self) -> None:
        self.memory.close()


# -- raw py-lmdb -------------------------------------------------------------------------------


def open_raw_lmdb(path: Path, durability: Durability) -> lmdb.Environment:
    """An LMDB environment at the flags of ``durability`` (``durable``: LMDB's own)."""
    flags = {
        Durability.DURABLE: {"sync": True, "metasync": True},
        Durability.RELAXED: {"sync": True, "metasync": False},
        Durability.UNSYNCED: {"sync": False, "metasync": False},
    }[durability]
    path.mkdir(parents=True, exist_ok=True)
    return lmdb.open(str(path), map_size=1 << 36, **flags)


def raw_record(key: bytes, content: str) -> bytes:
    """What a hand-written program would store: the key, content and time, packed."""
    return _record_encoder.encode((key, content, time.time()))


class RawLmdbSystem:
    """py-lmdb at ``path``: one write transaction per transaction, from threads; or
    (``grouped``) the bare group-commit loop of the module docstring."""

    def __init__(self, path: Path, workload: Workload, *, grouped: bool) -> None:
        self.name = "raw LMDB group commit" if grouped else "raw LMDB"
        self.grouped = grouped
        self.workload = workload
        self.env = open_raw_lmdb(path, workload.durability)
        content = workload.content
        for keys in workload.prefill_keys():
            with self.env.begin(write=True) as txn:
                for key in keys:
                    encoded = key.encode()
                    txn.put(encoded, raw_record(encoded, content))

    def _put_all(self, keys: list[str]) -> None:
        content = self.workload.content
        with self.env.begin(write=True) as txn:
            for key in keys:
                encoded = key.encode()
                txn.put(encoded, raw_record(encoded, content))

    def run(self, run: int, concurrency: int) -> Result:
        workload = self.workload
        keys = workload.run_keys(run, concurrency)
        per_writer = workload.per_writer(concurrency)
        if self.grouped:
            seconds, latencies = asyncio.run(self._run_grouped(keys, concurrency, per_writer))
        else:
            seconds, latencies = run_threads(
                concurrency, per_writer, lambda writer, n: self._put_all(keys[writer][n])
            )
        return measured(self.name, workload, concurrency, seconds, latencies)

    async def _run_grouped(
        self, keys: list[list[list[str]]], concurrency: int, per_writer: int
    ) -> tuple[float, list[float]]:
        loop = asyncio.get_running_loop()
        queue: list[tuple[list[str], asyncio.Future[None]]] = []
        wake = threading.Condition()
        stopping = False

        def wake_all(futures: list[asyncio.Future[None]]) -> None:
            for future in futures:
                future.set_result(None)

        def writer_thread() -> None:
            while True:
                with wake:
                    while not queue and not stopping:
                        wake.wait()
                    if not queue:
                        return
                    taken = queue[:]
                    queue.clear()
                self._put_all([key for keys, _ in taken for key in keys])
                loop.call_soon_threadsafe(wake_all, [future for _, future in taken])

        thread = threading.Thread(target=writer_thread, daemon=True)
        thread.start()

        def write(writer: int, n: int) -> Awaitable[None]:
            future: asyncio.Future[None] = loop.create_future()
            with wake:
                queue.append((keys[writer][n], future))
                wake.notify()
            return future

        try:
            return await run_tasks(concurrency, per_writer, write)
        finally:
            with wake:
                stopping = True
                wake.notify()
            thread.join()

    def close(self) -> None:
        self.env.close()


# -- the command ---------------------------------------------------------------------------


def open_systems(directory: Path, workload: Workload, names: list[str]) -> list[System]:
    """The named systems (of `SYSTEMS`), filled."""
    makers: dict[str, Callable[[], System]] = {
        "async": lambda: MemkvSystem(directory / "memkv-async", workload, "async"),
        "threads": lambda: MemkvSystem(directory / "memkv-threads", workload, "threads"),
        "raw": lambda: RawLmdbSystem(directory / "raw", workload, grouped=False),
        "raw-group": lambda: RawLmdbSystem(directory / "raw-group", workload, grouped=True),
    }
    unknown = [name for name in names if name not in makers]
    if unknown:
        raise memkv.InvalidArgument(
            f"unknown system(s) {', '.join(unknown)}; choose from {', '.join(makers)}"
        )
    return [makers[name]() for name in names]


def measure(systems: list[System], concurrencies: list[int], rounds: int = 1) -> Results:
    """Each system at each concurrency, ``rounds`` times, taking turns (so that drift
    in the machine falls on all alike)."""
    results: Results = {}
    for run in range(rounds):
        for concurrency in concurrencies:
            for system in systems:
                result = system.run(run, concurrency)
                results.setdefault((system.name, concurrency), []).append(result)
    return results


def median_result(results: list[Result]) -> Result:
    """The run of median throughput."""
    return sorted(results, key=lambda result: result.transactions_per_second)[len(results) // 2]


def table(results: Results, anchor: str = "raw LMDB") -> str:
    """A plain-text table: one row per system and concurrency."""
    lines = [
        f"{'system':<24}{'writers':>8}{'tx/s':>11}{'records/s':>12}"
        f"{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'vs ' + anchor:>16}"
    ]
    anchors = {
        concurrency: median_result(runs).transactions_per_second
        for (name, concurrency), runs in results.items()
        if name == anchor
    }
    for (_, concurrency), runs in sorted(results.items(), key=lambda item: item[0][1]):
        result = median_result(runs)
        ratio = ""
        if concurrency in anchors:
            ratio = f"{result.transactions_per_second / anchors[concurrency]:.2f}x"
        latency = result.latency_ms
        lines.append(
            f"{result.system:<24}{concurrency:>8}{result.transactions_per_second:>11,.0f}"
            f"{result.records_per_second:>12,.0f}{latency['p50']:>9.2f}{latency['p90']:>9.2f}"
            f"{latency['p99']:>9.2f}{ratio:>16}"
        )
    return "\n".join(lines)


def describe_results(results: Results) -> list[dict[str, Any]]:
    """The median runs as plain data (for ``--json``)."""
    return [msgspec.to_builtins(median_result(runs)) for runs in results.values()]
