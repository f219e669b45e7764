"""`AuditPublisher`: fire-and-forget audit publishing, with a durable local buffer.

An agent must never block on audit production: `publish` tries the sink and, when
the sink fails, writes the event to the `EventBuffer`; a flush (`flush_pending`, or the
loop of `spawn_reconnect_flush_loop`) replays the buffer in order once the sink is
back. Order is kept: while anything is buffered, or a flush is running, a new event
goes into the buffer behind the backlog, never around it (aa-runtime let a publish that
found the sink healthy again overtake the events still waiting).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Final

from audit_outbox.buffer import EventBuffer
from audit_outbox.metrics import PublisherCounters
from audit_outbox.sink import AuditSink
from audit_outbox.types import AuditEntry
from memkv.aio import AsyncMemory
from memkv.entry import check_instance

log = logging.getLogger("audit_outbox")

FLUSH_BATCH: Final = 64  # entries delivered before their removal is committed


class AuditPublisher:
    """Publishes audit entries to ``sink``, falling back to ``buffer``.

    `counters` holds published, publish_errors, buffered, flushed and dropped.
    Use it from one event loop.

    A buffered event costs a durable write (a disk flush). By default it goes
    through the store's writer thread (`memkv.aio`: group commit), so the event loop
    never waits for the disk and the buffered events of concurrent publishes share a
    flush, at the price of a thread hand-off (about 0.1-0.2 ms here);
    ``buffer_in_thread=False`` writes on the loop's own thread instead, for the lowest
    publish latency during an outage, if the loop can afford to wait for the flush.
    """

    def __init__(
        self, sink: AuditSink, buffer: EventBuffer, *, buffer_in_thread: bool = True
    ) -> None:
        self.sink = sink
        self.buffer = buffer
        self.buffer_in_thread = buffer_in_thread
        self._writes = AsyncMemory(buffer.memory)
        self.counters = PublisherCounters()
        self._emit_lock = asyncio.Lock()  # one direct emit at a time: publish order
        self._flush_lock = asyncio.Lock()  # one flush at a time
        self._flushing = False
        self._wake = asyncio.Event()  # set when events are buffered: nudges the flush loop

    async def publish(self, entry: AuditEntry) -> None:
        """Deliver ``entry`` to the sink, or buffer it; never raises, but for the
        caller's own cancellation and a caller's mistake. Each outcome bumps its
        counter.

        Raises:
            memkv.InvalidArgument: ``entry`` is not an `AuditEntry` (a dict would
                otherwise reach the sink as it is).
        """
        check_instance(entry, AuditEntry, "an audit entry")
        try:
            if self._flushing or not self.buffer.is_empty():
                await self._to_buffer(entry)  # behind the backlog
                return
            async with self._emit_lock:
                if not self.buffer.is_empty():  # a publish before this one was buffered
                    await self._to_buffer(entry)
                    return
                try:
                    await self.sink.emit(entry)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.counters.add("publish_errors")
                    log.debug("audit sink refused entry %s: %s", entry.seq, exc)
                    await self._to_buffer(entry)
                else:
                    self.counters.add("published")
        except asyncio.CancelledError:
            raise
        except Exception:  # never out of publish: count it, log it
            self.counters.add("dropped")
            log.exception("audit entry %s could be neither delivered nor buffered", entry.seq)

    async def _to_buffer(self, entry: AuditEntry) -> None:
        if self.buffer_in_thread:
            outcome = await self._writes.transact(
                functools.partial(self.buffer.enqueue_in, entry=entry)
            )
        else:
            outcome = self.buffer.enqueue(entry)
        if outcome.accepted:
            self.counters.add("buffered")
            self._wake.set()
        if outcome.dropped:
            self.counters.add("dropped", outcome.dropped)
            log.warning(
                "audit buffer full (%d): %s",
                self.buffer.capacity,
                f"entry {entry.seq} refused" if not outcome.accepted else "oldest entry dropped",
            )

    def buffered_len(self) -> int:
        """How many events wait in the buffer."""
        return len(self.buffer)

    async def flush_pending(self) -> int:
        """Replay buffered events to the sink in FIFO order; return how many were
        delivered. Stops at the first failure (the sink is taken to be still down);
        an event leaves the buffer only after the sink acknowledged it. A crash in
        between re-sends it later: delivery is at least once, and the sink
        de-duplicates by ``entry.identity``."""
        async with self._flush_lock:
            self._flushing = True
            try:
                return await self._drain()
            finally:
                self._flushing = False

    async def _drain(self) -> int:
        flushed = 0
        while True:
            batch = self.buffer.peek(FLUSH_BATCH)  # a read: it never waits for a writer
            if not batch:
                return flushed
            delivered = 0
            for record in batch:
                try:
                    await self.sink.emit(record.record)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.debug("audit flush stopped at buffered entry %s: %s", record.seq, exc)
                    break
                delivered += 1
            if delivered:
                await asyncio.to_thread(self.buffer.remove_through, batch[delivered - 1].seq)
                self.counters.add("flushed", delivered)
                flushed += delivered
            if delivered < len(batch):
                return flushed

    def spawn_reconnect_flush_loop(self, interval: float) -> asyncio.Task[None]:
        """Start a task that flushes the buffer every ``interval`` seconds (sooner when
        something is buffered), draining it once the sink is back. Cancel the task to
        stop it; it stops cleanly, at most leaving a batch to be re-sent."""
        if interval <= 0:
            raise ValueError(f"interval must be positive, not {interval!r}")
        return asyncio.get_running_loop().create_task(
            self._flush_loop(interval), name="audit-flush"
        )

    async def _flush_loop(self, interval: float) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            self._wake.clear()
            try:
                if not self.buffer.is_empty():
                    await self.flush_pending()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the loop alive: the next tick retries
                log.exception("audit buffer flush failed")
            await asyncio.sleep(min(interval, 0.05))  # no busy loop while the sink is down
