"""Child processes for the audit_outbox tests: ``python workers.py COMMAND URL PATH ...``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import memkv
from audit_outbox import AuditEntry, AuditPublisher, EventBuffer, NatsAuditSink
from tests.audit_outbox.conftest import entry


def say(*parts: object) -> None:
    print(*parts, sep="\t", flush=True)


def publish(url: str, path: str, count: str) -> None:
    """Publish ``count`` entries, printing each seq once publish returned; then wait
    (to be killed)."""

    async def run() -> None:
        sink = NatsAuditSink(url, reconnect_wait=0.1, connect_timeout=0.3)
        await sink.connect()
        with memkv.open(path) as mem:
            publisher = AuditPublisher(sink, EventBuffer(mem))
            say("ready")
            for seq in range(int(count)):
                await publisher.publish(entry(seq))
                say(seq)
            await asyncio.sleep(3600)

    asyncio.run(run())


class SlowSink(NatsAuditSink):
    """Pauses after each delivery, so that a kill lands mid-flush."""

    async def emit(self, entry: AuditEntry) -> None:
        await super().emit(entry)
        say("sent", entry.seq)
        await asyncio.sleep(0.005)


def flush(url: str, path: str, slow: str) -> None:
    """Flush the buffer until it is empty; print how many this process delivered."""

    async def run() -> None:
        sink = (SlowSink if slow == "slow" else NatsAuditSink)(url, reconnect_wait=0.1)
        await sink.connect()
        with memkv.open(path) as mem:
            publisher = AuditPublisher(sink, EventBuffer(mem))
            say("ready")
            total = 0
            while publisher.buffered_len():
                total += await publisher.flush_pending()
            say("flushed", total)
        await sink.close()

    asyncio.run(run())


COMMANDS: dict[str, Callable[..., None]] = {"publish": publish, "flush": flush}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
