"""`AsyncJobJournal`: the job journal for asyncio runtimes.

Appending is the same transaction function (`job_journal.operations.append`),
committed through `memkv.aio.AsyncMemory` (group commit: concurrent jobs' events
share a flush; the event loop never waits for the disk). Reads are the sync
journal's own; maintenance that runs several transactions or touches files
(cleanup, rotate, export, import) runs the sync journal's code in a worker thread,
whose writes join the same group commits.
"""

from __future__ import annotations

import asyncio
import os

from job_journal import operations
from job_journal.journal import DEFAULT_NAME, JobJournal
from job_journal.types import ImportReport, JobState, WalEvent
from memkv.aio import AsyncMemory


class AsyncJobJournal:
    """`JobJournal`'s operations as coroutines, with the same promises (numbers
    strictly increasing and gap-free, whoever appends). ``sync`` is a `JobJournal`
    of the same name on the same store."""

    def __init__(
        self, memory: AsyncMemory, name: str = DEFAULT_NAME, *, max_events: int | None = None
    ) -> None:
        self.memory = memory.internal  # its records are not among the user's memories
        self.sync = JobJournal(memory.memory, name, max_events=max_events)
        self.log = self.sync.log
        self.name = name

    async def append(self, event: WalEvent) -> int:
        """See `JobJournal.append`."""
        log, name, bound = self.log, self.name, self.sync.max_events
        return await self.memory.transact(lambda tx: operations.append(tx, log, name, event, bound))

    async def events(self, since: int | None = None, limit: int | None = None) -> list[WalEvent]:
        """See `JobJournal.events`."""
        return self.sync.events(since, limit)

    async def tail(self, n: int) -> list[WalEvent]:
        return self.sync.tail(n)

    async def seq(self) -> int:
        return self.sync.seq()

    async def replay(self) -> dict[str, JobState]:
        """See `JobJournal.replay`."""
        return self.sync.replay()

    async def events_for(self, job_id: str) -> list[WalEvent]:
        return self.sync.events_for(job_id)

    def __len__(self) -> int:
        return len(self.sync)

    async def cleanup(self, max_age_secs: int, *, now: int | None = None) -> int:
        """See `JobJournal.cleanup` (run in a worker thread)."""
        return await asyncio.to_thread(self.sync.cleanup, max_age_secs, now=now)

    async def rotate(self, max_events: int) -> int:
        """See `JobJournal.rotate` (run in a worker thread)."""
        return await asyncio.to_thread(self.sync.rotate, max_events)

    async def export_jsonl(self, path: str | os.PathLike[str]) -> int:
        """See `JobJournal.export_jsonl` (run in a worker thread)."""
        return await asyncio.to_thread(self.sync.export_jsonl, path)

    async def import_jsonl(self, path: str | os.PathLike[str]) -> ImportReport:
        """See `JobJournal.import_jsonl` (run in a worker thread)."""
        return await asyncio.to_thread(self.sync.import_jsonl, path)

    def __repr__(self) -> str:
        return f"<AsyncJobJournal {self.log.name!r} on {self.memory!r}>"
