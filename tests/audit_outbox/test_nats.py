"""Against a real ``nats-server -js`` on a loopback port."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import msgspec
import pytest

import memkv
from audit_outbox import AuditEntry, AuditPublisher, AuditSinkError, EventBuffer, NatsAuditSink
from tests.audit_outbox.conftest import NatsServer, entry


async def stored_entries(url: str, stream: str = "AUDIT") -> list[AuditEntry]:
    """Every message in the stream, decoded, in stream order."""
    import nats

    client = await nats.connect(url)
    try:
        js = client.jetstream()
        info = await js.stream_info(stream)
        messages = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            message = await js.get_msg(stream, seq)
            assert message.data is not None
            messages.append(msgspec.json.decode(message.data, type=AuditEntry))
        return messages
    finally:
        await client.close()


def test_outage_buffers_then_the_flush_loop_delivers_in_order(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    async def run() -> tuple[list[float], int]:
        sink = NatsAuditSink(nats_server.url, ack_timeout=1.0, reconnect_wait=0.1)
        await sink.connect()
        with memkv.open(tmp_path / "buffer") as mem:
            publisher = AuditPublisher(sink, EventBuffer(mem))
            flusher = publisher.spawn_reconnect_flush_loop(0.1)
            await publisher.publish(entry(0))
            assert publisher.counters.published == 1  # the server is up: delivered at once
            nats_server.stop()
            for _ in range(100):  # the client notices the closed connection
                if not sink.connected:
                    break
                await asyncio.sleep(0.01)
            latencies = []
            for seq in range(1, 501):
                start = time.perf_counter()
                await publisher.publish(entry(seq))  # never raises
                latencies.append(time.perf_counter() - start)
            buffered = publisher.buffered_len()
            nats_server.start()
            deadline = time.monotonic() + 30
            while publisher.buffered_len() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)
            await sink.close()
            return latencies, buffered

    latencies, buffered = asyncio.run(run())
    assert buffered == 500
    assert max(latencies) < 0.5  # briefly: a buffered publish is one durable local write
    stored = asyncio.run(stored_entries(nats_server.url))
    assert [e.seq for e in stored] == list(range(501))  # in order, no duplicates
    assert stored[7] == entry(7)  # delivered unchanged


def test_a_resend_is_deduplicated_by_message_id(nats_server: NatsServer) -> None:
    async def run() -> None:
        sink = NatsAuditSink(nats_server.url)
        await sink.connect()
        await sink.emit(entry(1))
        await sink.emit(entry(1))  # as after a lost acknowledgement
        await sink.emit(entry(2))
        await sink.close()

    asyncio.run(run())
    assert [e.seq for e in asyncio.run(stored_entries(nats_server.url))] == [1, 2]


def test_a_sink_that_starts_with_the_server_down_connects_later(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    nats_server.stop()

    async def run() -> list[int]:
        sink = NatsAuditSink(nats_server.url, reconnect_wait=0.1, connect_timeout=0.5)
        await sink.connect()  # does not raise: it keeps trying
        assert not sink.connected
        with memkv.open(tmp_path / "buffer") as mem:
            publisher = AuditPublisher(sink, EventBuffer(mem))
            await publisher.publish(entry(1))
            assert publisher.buffered_len() == 1
            nats_server.start()
            for _ in range(300):
                if sink.connected:
                    break
                await asyncio.sleep(0.02)
            assert await publisher.flush_pending() == 1
        await sink.close()
        return [e.seq for e in await stored_entries(nats_server.url)]

    assert asyncio.run(run()) == [1]


def test_settings_from_the_environment(monkeypatch: object) -> None:
    import pytest

    patch = pytest.MonkeyPatch()
    patch.setenv("NATS_URL", "nats://10.0.0.1:4222,nats://10.0.0.2:4222")
    patch.setenv("AUDIT_NATS_SUBJECT", "agents.audit")
    patch.setenv("AUDIT_NATS_STREAM", "AGENTS")
    try:
        sink = NatsAuditSink()
        assert sink.servers == ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"]
        assert (sink.subject, sink.stream) == ("agents.audit", "AGENTS")
        assert NatsAuditSink("nats://x:1", subject="s", stream="S").servers == ["nats://x:1"]
    finally:
        patch.undo()


def test_connect_to_a_server_that_is_down_returns_at_once_and_says_why(
    nats_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    """It used to block about 4 s (twice the connect timeout) and log an empty
    reason; it keeps trying in the background, as documented."""
    nats_server.stop()  # nothing listens on its port now

    async def run() -> tuple[float, bool, list[int]]:
        sink = NatsAuditSink(nats_server.url, reconnect_wait=0.1)  # connect_timeout 2 s
        start = time.perf_counter()
        with caplog.at_level(logging.DEBUG, logger="audit_outbox.nats"):
            await sink.connect()
        took = time.perf_counter() - start
        connected_at_first = sink.connected
        with pytest.raises(AuditSinkError, match="not connected"):
            await sink.emit(entry(1))  # fails fast meanwhile
        await sink.connect()  # again while it tries: nothing more
        nats_server.start()
        for _ in range(500):
            if sink.connected:
                break
            await asyncio.sleep(0.02)
        await sink.emit(entry(2))
        await sink.close()
        return took, connected_at_first, [e.seq for e in await stored_entries(nats_server.url)]

    took, connected_at_first, stored = asyncio.run(run())
    assert took < 1.0
    assert not connected_at_first
    assert stored == [2]
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]  # none at close
    assert "ConnectionRefusedError" in warning.getMessage() or "Connect call failed" in (
        warning.getMessage()
    )
    assert "will keep trying" in warning.getMessage()


def test_connect_with_settings_that_cannot_work_raises(nats_server: NatsServer) -> None:
    async def run() -> None:
        sink = NatsAuditSink("nats://127.0.0.1:notaport")
        with pytest.raises(AuditSinkError, match="notaport"):
            await sink.connect()
        await sink.close()

    asyncio.run(run())
