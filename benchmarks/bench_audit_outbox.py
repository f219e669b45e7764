"""audit_outbox benchmark: publish latency while the sink is down (the buffering path)
beside a raw durable LMDB put, and publish throughput to a local JetStream with the
sink up, from one publisher and from 64 concurrent ones.

    .venv/bin/python benchmarks/bench_audit_outbox.py
    .venv/bin/python benchmarks/bench_audit_outbox.py --quick

Needs ``nats-server`` for the JetStream figures (``apt-get install nats-server``);
without it they are skipped. Writes ``benchmarks/results/audit_outbox*``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import lmdb
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import memkv
from audit_outbox import (
    AuditEntry,
    AuditEventType,
    AuditPublisher,
    EventBuffer,
    InMemorySink,
    NatsAuditSink,
)
from benchmarks.common import RESULTS, Figures, Target, percentiles, report, workdir

AGENT, SESSION = uuid.UUID(int=1), uuid.UUID(int=2)
THREADED = "memkv publish (buffer write by the group commit: the default)"
INLINE = "memkv publish (buffer write inline)"
RAW = "raw LMDB durable put"
BUFFERED = "publish, sink down (buffered)"
BUFFERED_INLINE = "publish, sink down (buffered), inline write"


def make_entry(seq: int) -> AuditEntry:
    return AuditEntry(
        seq=seq,
        timestamp=1_763_884_800_000 + seq,
        event_type=AuditEventType.TOOL_CALL_INTERCEPTED,
        agent_id=AGENT,
        session_id=SESSION,
        payload='{"tool":"shell","args":["ls","-la"],"decision":"allow"}',
    )


async def timed_publishes(publisher: AuditPublisher, count: int, first: int) -> list[float]:
    samples = []
    for seq in range(first, first + count):
        start = time.perf_counter()
        await publisher.publish(make_entry(seq))
        samples.append(time.perf_counter() - start)
    return samples


def raw_puts(path: Path, count: int) -> list[float]:
    env = lmdb.open(str(path), map_size=1 << 32, max_dbs=2, lib_version=0)
    db = env.open_db(b"buffer")
    encoder = msgspec.msgpack.Encoder()
    samples = []
    for seq in range(count):
        start = time.perf_counter()
        with env.begin(write=True, db=db) as txn:
            txn.put(seq.to_bytes(8, "big"), encoder.encode(make_entry(seq)))
        samples.append(time.perf_counter() - start)
    env.close()
    return samples


def start_nats(store: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    binary = shutil.which("nats-server") or shutil.which("nats-server", path="/usr/sbin")
    if binary is None:
        return None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(500):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server, f"nats://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.02)
    server.terminate()
    return None


async def throughput(url: str, buffer: EventBuffer, total: int, publishers: int) -> float:
    """Seconds per published event, with ``publishers`` tasks sharing one publisher."""
    sink = NatsAuditSink(url)
    await sink.connect()
    publisher = AuditPublisher(sink, buffer)
    counter = itertools.count(10**6 * publishers)

    async def worker(share: int) -> None:
        for _ in range(share):
            await publisher.publish(make_entry(next(counter)))

    start = time.perf_counter()
    await asyncio.gather(*(worker(total // publishers) for _ in range(publishers)))
    elapsed = time.perf_counter() - start
    await sink.close()
    assert publisher.counters.published == total // publishers * publishers, publisher.counters
    return elapsed / (total // publishers * publishers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--publishes", type=int, default=1_000)
    parser.add_argument("--throughput-events", type=int, default=6_400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args()
    if args.quick:
        args.publishes, args.throughput_events, args.rounds = 200, 640, 2
    figures: Figures = {}
    notes = ["Publish latency: each publish buffers one entry durably (the sink is down)."]
    with workdir(args.dir) as directory:
        mem = memkv.open(directory / "buffer")
        buffer = EventBuffer(mem, capacity=10**9)
        threaded = AuditPublisher(InMemorySink(up=False), buffer)
        inline = AuditPublisher(InMemorySink(up=False), buffer, buffer_in_thread=False)
        samples: dict[str, list[float]] = {THREADED: [], INLINE: [], RAW: []}
        per_round = args.publishes // args.rounds
        for round_ in range(args.rounds):  # interleaved rounds
            first = round_ * per_round * 2
            samples[THREADED] += asyncio.run(timed_publishes(threaded, per_round, first))
            samples[INLINE] += asyncio.run(timed_publishes(inline, per_round, first + per_round))
            samples[RAW] += raw_puts(directory / f"raw-{round_}", per_round)
        figures[BUFFERED] = samples
        figures[BUFFERED_INLINE] = samples
        mem.close()
        started = start_nats(directory / "jetstream")
        if started is None:
            notes.append("nats-server not found: the JetStream throughput was not measured.")
        else:
            server, url = started
            try:
                with memkv.open(directory / "buffer-up") as up_mem:
                    for publishers in (1, 64):
                        plural = "s" if publishers > 1 else ""
                        name = f"publish to JetStream, {publishers} publisher{plural}"
                        runs = [
                            asyncio.run(
                                throughput(
                                    url, EventBuffer(up_mem), args.throughput_events, publishers
                                )
                            )
                            for _ in range(args.rounds)
                        ]
                        figures[name] = {"memkv publish (sink up)": runs}
                        rate = 1 / percentiles(runs)["p50"]
                        notes.append(
                            f"{name}: {rate:,.0f} events/s (p50 of {args.rounds} runs of "
                            f"{args.throughput_events:,} events)."
                        )
            finally:
                server.terminate()
                server.wait()
    targets = {
        BUFFERED: Target(THREADED, RAW, "slowdown", 1.5),
        BUFFERED_INLINE: Target(INLINE, RAW, "slowdown", 1.5),
    }
    command = "python benchmarks/bench_audit_outbox.py" + (" --quick" if args.quick else "")
    report("audit_outbox", command, figures, targets, Path(args.output), notes=" ".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
