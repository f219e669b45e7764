"""Where audit events go: the `AuditSink` protocol, and an in-memory sink for tests."""

from __future__ import annotations

from typing import Protocol

import memkv
from audit_outbox.types import AuditEntry


class AuditSinkError(memkv.MemkvError):
    """The sink did not take the entry (down, refused, no acknowledgement in time)."""


class AuditSink(Protocol):
    async def emit(self, entry: AuditEntry) -> None:
        """Deliver ``entry``; return only once the sink has acknowledged it.

        Raises:
            AuditSinkError: it was not delivered (it may have been, if the
                acknowledgement was lost: a sink de-duplicates by ``entry.identity``).
        """
        ...


class InMemorySink:
    """A sink in memory whose connectivity can be toggled (aa-runtime's ``FakeSink``);
    it keeps every entry it accepted, in order."""

    def __init__(self, up: bool = True) -> None:
        self.up = up
        self.captured: list[AuditEntry] = []

    def set_up(self, up: bool) -> None:
        self.up = up

    async def emit(self, entry: AuditEntry) -> None:
        if not self.up:
            raise AuditSinkError("in-memory sink is down")
        self.captured.append(entry)

    def captured_seqs(self) -> list[int]:
        return [entry.seq for entry in self.captured]
