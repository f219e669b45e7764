"""audit_outbox: audit publishing to NATS JetStream with a durable local buffer.

>>> import asyncio, memkv, audit_outbox
>>> buffer = audit_outbox.EventBuffer(memkv.open(":memory:"))
>>> publisher = audit_outbox.AuditPublisher(audit_outbox.InMemorySink(up=False), buffer)
"""

from audit_outbox.buffer import DEFAULT_CAPACITY, Enqueued, EventBuffer, WhenFull
from audit_outbox.chain import AuditChain, ChainVerdict, chain_hash, verify_chain
from audit_outbox.metrics import PublisherCounters
from audit_outbox.nats_sink import NatsAuditSink
from audit_outbox.publisher import AuditPublisher
from audit_outbox.sink import AuditSink, AuditSinkError, InMemorySink
from audit_outbox.types import ZERO_HASH, AuditEntry, AuditEventType

__all__ = [
    "DEFAULT_CAPACITY",
    "ZERO_HASH",
    "AuditChain",
    "AuditEntry",
    "AuditEventType",
    "AuditPublisher",
    "AuditSink",
    "AuditSinkError",
    "ChainVerdict",
    "Enqueued",
    "EventBuffer",
    "InMemorySink",
    "NatsAuditSink",
    "PublisherCounters",
    "WhenFull",
    "chain_hash",
    "verify_chain",
]
