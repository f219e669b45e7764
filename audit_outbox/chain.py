"""Hash chains over audit entries: each entry's ``hash`` is SHA-256 of the previous
entry's hash and the entry's own content, so changing, removing or reordering an
entry breaks every hash from there on.

The content hashed is the msgpack encoding of (seq, timestamp, event_type, agent_id,
session_id, payload): stable across processes and versions of this package.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import msgspec

from audit_outbox.types import ZERO_HASH, AuditEntry

_encoder = msgspec.msgpack.Encoder()


def chain_hash(previous: bytes, entry: AuditEntry) -> bytes:
    """The hash ``entry`` gets when it follows an entry whose hash is ``previous``."""
    content = _encoder.encode(
        (
            entry.seq,
            entry.timestamp,
            str(entry.event_type),
            entry.agent_id.bytes,
            entry.session_id.bytes,
            entry.payload,
        )
    )
    return hashlib.sha256(previous + content).digest()


class AuditChain:
    """Stamps entries with chained hashes, in the order they are produced."""

    def __init__(self, last_hash: bytes = ZERO_HASH) -> None:
        self.last_hash = last_hash

    def stamp(self, entry: AuditEntry) -> AuditEntry:
        """``entry`` with its hash set, chained after the last one stamped."""
        stamped = entry.evolve(hash=chain_hash(self.last_hash, entry))
        self.last_hash = stamped.hash
        return stamped


class ChainVerdict(msgspec.Struct, frozen=True, kw_only=True):
    """``ok``, or the position of the first entry whose hash does not follow."""

    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str | None = None


def verify_chain(entries: Iterable[AuditEntry], start: bytes = ZERO_HASH) -> ChainVerdict:
    """Check that each entry's hash chains from the one before (from ``start``)."""
    previous = start
    count = 0
    for position, entry in enumerate(entries):
        count = position + 1
        expected = chain_hash(previous, entry)
        if entry.hash != expected:
            return ChainVerdict(
                ok=False,
                checked=count,
                broken_at=position,
                reason=f"entry {entry.seq} at position {position} does not follow the one "
                "before it: changed, removed, or reordered",
            )
        previous = entry.hash
    return ChainVerdict(ok=True, checked=count)
