"""`EventBuffer`: the durable FIFO where audit events wait while the sink is down."""

from __future__ import annotations

import enum

import msgspec

import memkv
from audit_outbox.types import AuditEntry
from memkv.entry import check_instance

DEFAULT_CAPACITY = 10_000


class WhenFull(enum.StrEnum):
    """What a full buffer does with one more event. Either way the event or the one it
    displaces is counted as dropped, and logged: never silent, never an exception."""

    REFUSE = "refuse"  # keep what is buffered; the new event is dropped (the default)
    DROP_OLDEST = "drop_oldest"  # make room: the oldest buffered event is dropped


class Enqueued(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of `EventBuffer.enqueue`: whether the event was taken, and how many
    events (it, or older ones) were dropped to respect the capacity."""

    accepted: bool
    dropped: int


class EventBuffer:
    """A durable FIFO of `AuditEntry` on a `memkv.SequenceLog` named ``"outbox." +
    name``: several publishers (threads or processes) may share it; an entry stays
    until `remove_through` is called after its delivery was acknowledged.

    Methods are synchronous (a durable write takes a disk flush): `AuditPublisher`
    runs the writes on a worker thread.
    """

    def __init__(
        self,
        memory: memkv.Memory,
        capacity: int = DEFAULT_CAPACITY,
        when_full: WhenFull | str = WhenFull.REFUSE,
        name: str = "audit",
    ) -> None:
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
            raise memkv.InvalidArgument(f"capacity must be an integer >= 1, not {capacity!r}")
        try:
            self.when_full = WhenFull(when_full)
        except ValueError:
            valid = ", ".join(w.value for w in WhenFull)
            raise memkv.InvalidArgument(f"when_full {when_full!r} is not one of: {valid}") from None
        if not isinstance(name, str):
            raise memkv.InvalidArgument(
                f"a buffer name must be a str, not {type(name).__name__}: {name!r:.80}"
            )
        self.memory = memory
        self.capacity = capacity
        self.log: memkv.SequenceLog[AuditEntry] = memkv.SequenceLog(
            memory, "outbox." + name, AuditEntry
        )

    def enqueue(self, entry: AuditEntry) -> Enqueued:
        """Append ``entry`` durably, unless the buffer is full (see `WhenFull`).

        Raises:
            memkv.InvalidArgument: ``entry`` is not an `AuditEntry`.
            memkv.InvalidContent: a field holds another type than it declares.
        """
        check_instance(entry, AuditEntry, "an audit entry")
        return self.memory.transact(lambda tx: self.enqueue_in(tx, entry))

    def enqueue_in(self, tx: memkv.Transaction, entry: AuditEntry) -> Enqueued:
        """`enqueue` inside ``tx``."""
        check_instance(entry, AuditEntry, "an audit entry")
        if self.log.length_of(tx) < self.capacity:
            self.log.append_in(tx, entry)
            return Enqueued(accepted=True, dropped=0)
        if self.when_full is WhenFull.REFUSE:
            return Enqueued(accepted=False, dropped=1)
        oldest = self.log.first_seq_of(tx)
        removed = 0 if oldest is None else self.log.trim_through_in(tx, oldest, limit=1)
        self.log.append_in(tx, entry)
        return Enqueued(accepted=True, dropped=removed)

    def peek(self, n: int) -> list[memkv.SeqRecord[AuditEntry]]:
        """The oldest ``n`` buffered entries, with their buffer positions."""
        return self.log.read(limit=n)

    def remove_through(self, seq: int) -> int:
        """Remove the entries up to buffer position ``seq`` (once they are delivered)."""
        return self.log.trim_through(seq)

    def __len__(self) -> int:
        return len(self.log)

    def is_empty(self) -> bool:
        return len(self.log) == 0
