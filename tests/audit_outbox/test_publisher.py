"""aa-runtime's four tests with the in-memory sink, then order, full buffers, the flush
loop, counters and the hash chain."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

import prometheus_client
import pytest

import memkv
from audit_outbox import (
    AuditChain,
    AuditEntry,
    AuditPublisher,
    EventBuffer,
    InMemorySink,
    WhenFull,
    verify_chain,
)
from tests.audit_outbox.conftest import entry

# -- aa-runtime's tests -------------------------------------------------------------------


def test_publish_succeeds_when_sink_up(buffer: EventBuffer) -> None:
    sink = InMemorySink(up=True)
    publisher = AuditPublisher(sink, buffer)
    asyncio.run(publisher.publish(entry(1)))
    assert sink.captured_seqs() == [1]
    assert publisher.buffered_len() == 0


def test_buffers_when_sink_down(buffer: EventBuffer) -> None:
    sink = InMemorySink(up=False)
    publisher = AuditPublisher(sink, buffer)

    async def run() -> None:
        await publisher.publish(entry(1))
        await publisher.publish(entry(2))

    asyncio.run(run())
    assert sink.captured_seqs() == []
    assert publisher.buffered_len() == 2


def test_reconnect_drains_buffer_in_fifo_order(buffer: EventBuffer) -> None:
    sink = InMemorySink(up=False)
    publisher = AuditPublisher(sink, buffer)

    async def run() -> int:
        for seq in (1, 2, 3):
            await publisher.publish(entry(seq))
        assert publisher.buffered_len() == 3
        sink.set_up(True)
        return await publisher.flush_pending()

    assert asyncio.run(run()) == 3
    assert publisher.buffered_len() == 0
    assert sink.captured_seqs() == [1, 2, 3]


def test_records_all_four_audit_metrics(buffer: EventBuffer) -> None:
    def sample(name: str) -> float:
        return prometheus_client.REGISTRY.get_sample_value(name) or 0.0

    names = [
        "aa_audit_published_total",
        "aa_audit_publish_errors_total",
        "aa_audit_buffered_total",
        "aa_audit_flushed_total",
    ]
    before = {name: sample(name) for name in names}
    sink = InMemorySink(up=True)
    publisher = AuditPublisher(sink, buffer)

    async def run() -> None:
        await publisher.publish(entry(1))  # published
        sink.set_up(False)
        await publisher.publish(entry(2))  # publish error, buffered
        sink.set_up(True)
        await publisher.flush_pending()  # flushed

    asyncio.run(run())
    assert publisher.counters.as_dict() == {
        "published": 1,
        "publish_errors": 1,
        "buffered": 1,
        "flushed": 1,
        "dropped": 0,
    }
    assert {name: sample(name) - before[name] for name in names} == dict.fromkeys(names, 1.0)


# -- order ----------------------------------------------------------------------------------


def test_a_publish_never_overtakes_the_backlog(buffer: EventBuffer) -> None:
    sink = InMemorySink(up=False)
    publisher = AuditPublisher(sink, buffer)

    async def run() -> None:
        await publisher.publish(entry(1))
        await publisher.publish(entry(2))
        sink.set_up(True)  # healthy again, but 1 and 2 still wait
        await publisher.publish(entry(3))
        assert sink.captured_seqs() == []  # 3 went behind them
        await publisher.flush_pending()
        await publisher.publish(entry(4))  # backlog gone: straight to the sink

    asyncio.run(run())
    assert sink.captured_seqs() == [1, 2, 3, 4]
    assert publisher.counters.published == 1


def test_flush_stops_at_the_first_failure(buffer: EventBuffer) -> None:
    class Flaky(InMemorySink):
        """Goes down at entry 3, the first time it sees it."""

        failed = False

        async def emit(self, entry: AuditEntry) -> None:
            if entry.seq == 3 and not self.failed:
                self.failed = True
                self.up = False
            await super().emit(entry)

    sink = Flaky(up=False)
    publisher = AuditPublisher(sink, buffer)

    async def run() -> tuple[int, int]:
        for seq in range(1, 6):
            await publisher.publish(entry(seq))
        sink.set_up(True)
        first = await publisher.flush_pending()
        sink.set_up(True)
        return first, await publisher.flush_pending()

    assert asyncio.run(run()) == (2, 3)
    assert sink.captured_seqs() == [1, 2, 3, 4, 5]
    assert publisher.buffered_len() == 0


def test_concurrent_publishers_keep_one_order(buffer: EventBuffer) -> None:
    sink = InMemorySink(up=True)
    publisher = AuditPublisher(sink, buffer)

    async def run() -> None:
        toggler_done = asyncio.Event()

        async def toggle() -> None:
            for up in (False, True, False, True):
                await asyncio.sleep(0)
                sink.set_up(up)
            toggler_done.set()

        task = asyncio.create_task(toggle())
        for seq in range(40):
            await publisher.publish(entry(seq))
            await asyncio.sleep(0)
        await task
        sink.set_up(True)
        await publisher.flush_pending()

    asyncio.run(run())
    assert sink.captured_seqs() == list(range(40))


# -- the buffer ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "kept", "dropped"),
    [
        (WhenFull.REFUSE, [0, 1, 2], 2),
        (WhenFull.DROP_OLDEST, [2, 3, 4], 2),
    ],
)
def test_a_full_buffer_is_explicit(
    tmp_path: Path, policy: WhenFull, kept: list[int], dropped: int
) -> None:
    with memkv.open(tmp_path / "store") as mem:
        sink = InMemorySink(up=False)
        publisher = AuditPublisher(sink, EventBuffer(mem, capacity=3, when_full=policy))

        async def run() -> None:
            for seq in range(5):
                await publisher.publish(entry(seq))  # never raises
            sink.set_up(True)
            await publisher.flush_pending()

        asyncio.run(run())
        assert sink.captured_seqs() == kept
        assert publisher.counters.dropped == dropped


def test_publish_never_raises_even_when_nothing_can_take_the_entry(tmp_path: Path) -> None:
    mem = memkv.open(tmp_path / "store")
    publisher = AuditPublisher(InMemorySink(up=False), EventBuffer(mem))
    mem.close()  # the buffer itself is gone
    asyncio.run(publisher.publish(entry(1)))
    assert publisher.counters.dropped == 1


def test_an_entry_that_is_no_audit_entry_is_refused(buffer: EventBuffer) -> None:
    """A dict used to raise AttributeError (in the buffer) or reach the sink as it is
    (through the publisher); a str timestamp used to make the buffer unreadable."""
    sink = InMemorySink(up=True)
    publisher = AuditPublisher(sink, buffer)
    as_dict = {"seq": 1, "timestamp": 1, "event_type": "agent_started"}
    with pytest.raises(memkv.InvalidArgument, match="must be of type AuditEntry, not dict"):
        buffer.enqueue(as_dict)  # type: ignore[arg-type]
    with pytest.raises(memkv.InvalidArgument, match="must be of type AuditEntry, not dict"):
        asyncio.run(publisher.publish(as_dict))  # type: ignore[arg-type]
    with pytest.raises(memkv.InvalidContent, match="timestamp"):
        buffer.enqueue(entry(2, timestamp=2.5))
    assert sink.captured_seqs() == []
    assert len(buffer) == 0
    buffer.enqueue(entry(3))
    assert [record.record.seq for record in buffer.peek(10)] == [3]
    assert buffer.peek(0) == []  # was refused


def test_bad_buffer_settings(tmp_path: Path) -> None:
    with memkv.open(tmp_path / "store") as mem:
        with pytest.raises(memkv.InvalidArgument, match="capacity"):
            EventBuffer(mem, capacity=0)
        with pytest.raises(memkv.InvalidArgument, match="drop_newest"):
            EventBuffer(mem, when_full="drop_newest")
        with pytest.raises(memkv.InvalidArgument, match="buffer name"):
            EventBuffer(mem, name=None)  # type: ignore[arg-type]  # was a TypeError


# -- the flush loop --------------------------------------------------------------------------


def test_the_flush_loop_drains_after_recovery_and_cancels_cleanly(buffer: EventBuffer) -> None:
    sink = InMemorySink(up=False)
    publisher = AuditPublisher(sink, buffer)

    async def run() -> bool:
        loop_task = publisher.spawn_reconnect_flush_loop(0.01)
        for seq in range(10):
            await publisher.publish(entry(seq))
        await asyncio.sleep(0.05)
        assert sink.captured_seqs() == []
        sink.set_up(True)
        for _ in range(200):
            if publisher.buffered_len() == 0:
                break
            await asyncio.sleep(0.01)
        loop_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop_task
        return loop_task.cancelled()

    assert asyncio.run(run()) is True
    assert sink.captured_seqs() == list(range(10))


# -- entries and the hash chain ----------------------------------------------------------


def test_entries_are_delivered_unchanged(buffer: EventBuffer) -> None:
    chain = AuditChain()
    stamped = [chain.stamp(entry(seq)) for seq in range(3)]
    sink = InMemorySink(up=False)
    publisher = AuditPublisher(sink, buffer)

    async def run() -> None:
        for item in stamped:
            await publisher.publish(item)
        sink.set_up(True)
        await publisher.flush_pending()

    asyncio.run(run())
    assert sink.captured == stamped
    assert verify_chain(sink.captured).ok


def test_verify_chain_catches_tampering() -> None:
    chain = AuditChain()
    entries = [chain.stamp(entry(seq)) for seq in range(5)]
    assert verify_chain(entries).ok
    assert verify_chain(entries).checked == 5
    changed = [*entries[:2], entries[2].evolve(payload='{"seq":"forged"}'), *entries[3:]]
    removed = entries[:2] + entries[3:]
    reordered = [entries[0], entries[2], entries[1], *entries[3:]]
    for tampered, position in ((changed, 2), (removed, 2), (reordered, 1)):
        verdict = verify_chain(tampered)
        assert not verdict.ok
        assert verdict.broken_at == position
        assert "changed, removed, or reordered" in (verdict.reason or "")


def test_entry_validation() -> None:
    with pytest.raises(memkv.InvalidArgument, match="32 bytes"):
        entry(1, hash=b"short")
    with pytest.raises(memkv.InvalidArgument, match="tool_call_exploded"):
        AuditEntry(
            seq=1,
            timestamp=1,
            event_type="tool_call_exploded",  # type: ignore[arg-type]
            agent_id=uuid.UUID(int=1),
            session_id=uuid.UUID(int=2),
            payload="{}",
        )
    assert entry(7).identity == f"{uuid.UUID(int=1)}:{uuid.UUID(int=2)}:7"
