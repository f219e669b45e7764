"""`AsyncEnhanceLogStore`: the enhance log for asyncio runtimes.

Appends are the same transaction function (`enhance_log.operations.append`),
committed through `memkv.aio.AsyncMemory` (group commit: concurrent appends share a
flush; the event loop never waits for the disk). Reads are the sync store's own.
"""

from __future__ import annotations

from enhance_log import operations
from enhance_log.store import DEFAULT_PAGE, MemoryEnhanceLogStore
from enhance_log.types import EnhanceLogEntry, EnhanceLogPage
from memkv.aio import AsyncMemory


class AsyncEnhanceLogStore:
    """`MemoryEnhanceLogStore`'s operations as coroutines, with the same promises.
    ``sync`` is a `MemoryEnhanceLogStore` on the same store."""

    def __init__(self, memory: AsyncMemory) -> None:
        self.memory = memory.internal  # its records are not among the user's memories
        self.sync = MemoryEnhanceLogStore(memory.memory)

    @property
    def name(self) -> str:
        return self.sync.name

    async def append(self, entry: EnhanceLogEntry) -> None:
        """See `MemoryEnhanceLogStore.append`."""
        await self.memory.transact(lambda tx: operations.append(tx, entry))

    async def get(self, issue_id: str) -> EnhanceLogEntry:
        """See `MemoryEnhanceLogStore.get`."""
        return self.sync.get(issue_id)

    async def list_by_blueprint(self, blueprint_id: str) -> list[EnhanceLogEntry]:
        return self.sync.list_by_blueprint(blueprint_id)

    async def list_all(self) -> list[EnhanceLogEntry]:
        return self.sync.list_all()

    async def page_by_blueprint(
        self,
        blueprint_id: str,
        *,
        limit: int | None = DEFAULT_PAGE,
        cursor: str | None = None,
        reverse: bool = False,
    ) -> EnhanceLogPage:
        """See `MemoryEnhanceLogStore.page_by_blueprint`."""
        return self.sync.page_by_blueprint(
            blueprint_id, limit=limit, cursor=cursor, reverse=reverse
        )

    async def page_all(
        self, *, limit: int | None = DEFAULT_PAGE, cursor: str | None = None, reverse: bool = False
    ) -> EnhanceLogPage:
        """See `MemoryEnhanceLogStore.page_all`."""
        return self.sync.page_all(limit=limit, cursor=cursor, reverse=reverse)

    async def count(self) -> int:
        """How many entries the log holds."""
        return self.sync.count()
