"""The audit_outbox part of ``memkv demo``: an outage of the audit sink, the events
buffered on the store, and their replay in order once the sink is back."""

from __future__ import annotations

import asyncio
import uuid

import memkv
from audit_outbox.buffer import EventBuffer
from audit_outbox.chain import AuditChain, verify_chain
from audit_outbox.publisher import AuditPublisher
from audit_outbox.sink import InMemorySink
from audit_outbox.types import AuditEntry, AuditEventType

TITLE = "audit_outbox: an audit sink outage, buffered and replayed in order"


def run(memory: memkv.Memory) -> None:
    asyncio.run(_run(memory))


async def _run(memory: memkv.Memory) -> None:
    sink = InMemorySink(up=True)  # a stand-in for NATS JetStream (see NatsAuditSink)
    publisher = AuditPublisher(sink, EventBuffer(memory, capacity=1_000))
    chain = AuditChain()
    agent, session = uuid.UUID(int=7), uuid.UUID(int=42)
    kinds = [
        AuditEventType.AGENT_STARTED,
        AuditEventType.TOOL_CALL_INTERCEPTED,
        AuditEventType.TOOL_CALL_DENIED,
        AuditEventType.APPROVAL_REQUESTED,
        AuditEventType.APPROVAL_GRANTED,
        AuditEventType.AGENT_STOPPED,
    ]
    entries = [
        chain.stamp(
            AuditEntry(
                seq=seq,
                timestamp=1_763_884_800_000 + seq,
                event_type=kind,
                agent_id=agent,
                session_id=session,
                payload=f'{{"step":{seq}}}',
            )
        )
        for seq, kind in enumerate(kinds)
    ]
    await publisher.publish(entries[0])
    sink.set_up(False)
    print("   the sink goes down ...")
    for item in entries[1:4]:
        await publisher.publish(item)  # never raises, never blocks on the sink
    print(f"   {publisher.buffered_len()} events wait in the durable buffer")
    sink.set_up(True)
    await publisher.publish(entries[4])  # goes behind the backlog, not around it
    print(f"   the sink is back: flush_pending() delivered {await publisher.flush_pending()}")
    await publisher.publish(entries[5])
    print(f"   delivered in order: {sink.captured_seqs()}; counters {publisher.counters.as_dict()}")
    delivered = sink.captured
    forged = [*delivered[:2], delivered[2].evolve(payload="{}"), *delivered[3:]]
    print(
        f"   verify_chain: {verify_chain(delivered).ok}; with one payload forged: "
        f"{verify_chain(forged).reason}"
    )
