"""`EnhanceLogStore`, mlua_swarm's interface, and its one implementation on memkv."""

from __future__ import annotations

from typing import Protocol

import memkv
from enhance_log import operations
from enhance_log.keys import HOLDINGS
from enhance_log.types import EnhanceLogEntry, EnhanceLogPage
from memkv.legacy import adopt

DEFAULT_PAGE: int = 100


class EnhanceLogStore(Protocol):
    """Append-only log of one `EnhanceLogEntry` per enhance invocation."""

    @property
    def name(self) -> str:
        """The backend, for diagnostics ("in-memory", "lmdb", ...)."""
        ...

    def append(self, entry: EnhanceLogEntry) -> None:
        """Record ``entry``; `EnhanceLogConflict` if its issue_id is already there."""
        ...

    def get(self, issue_id: str) -> EnhanceLogEntry:
        """The entry of ``issue_id``; `EnhanceLogNotFound` if there is none."""
        ...

    def list_by_blueprint(self, blueprint_id: str) -> list[EnhanceLogEntry]:
        """Every entry of one blueprint, ascending by ts_ms, then append order."""
        ...

    def list_all(self) -> list[EnhanceLogEntry]:
        """Every entry, ascending by ts_ms, then append order."""
        ...


class MemoryEnhanceLogStore:
    """The enhance log on a `memkv.Memory` (any backend). Thread- and process-safe:
    of two appends of one issue_id, from anywhere, exactly one succeeds.

    Listings are index range scans: their cost is what they return, not the size of
    the log.
    """

    def __init__(self, memory: memkv.Memory) -> None:
        self.memory = memory.internal  # its records are not among the user's memories
        adopt(memory, *HOLDINGS)  # records an older memkv kept among them

    @property
    def name(self) -> str:
        return self.memory.backend.name

    def append(self, entry: EnhanceLogEntry) -> None:
        """Record ``entry`` (atomically, with its index entries).

        Raises:
            EnhanceLogConflict: the issue_id is already in the log; the stored entry
                is left as it was, byte for byte.
            InvalidEnhanceLogEntry: the ids do not fit a key.
        """
        self.memory.transact(lambda tx: operations.append(tx, entry))

    def get(self, issue_id: str) -> EnhanceLogEntry:
        """The entry of ``issue_id``.

        Raises:
            EnhanceLogNotFound: there is none.
            memkv.CorruptRecord: it is stored but cannot be read.
        """
        return self.memory.snapshot(lambda view: operations.get(view, issue_id))

    def list_by_blueprint(self, blueprint_id: str) -> list[EnhanceLogEntry]:
        return self.page_by_blueprint(blueprint_id, limit=None).entries

    def list_all(self) -> list[EnhanceLogEntry]:
        return self.page_all(limit=None).entries

    def page_by_blueprint(
        self,
        blueprint_id: str,
        *,
        limit: int | None = DEFAULT_PAGE,
        cursor: str | None = None,
        reverse: bool = False,
    ) -> EnhanceLogPage:
        """One page of a blueprint's entries (``reverse``: newest first), after the
        position ``cursor`` (from the previous page's ``next_cursor``).

        Raises:
            memkv.InvalidCursor: a cursor this log did not hand out.
            memkv.InvalidArgument: a bad limit.
        """
        return self.memory.snapshot(
            lambda view: operations.page_by_blueprint(view, blueprint_id, limit, cursor, reverse)
        )

    def page_all(
        self, *, limit: int | None = DEFAULT_PAGE, cursor: str | None = None, reverse: bool = False
    ) -> EnhanceLogPage:
        """One page of the whole log, as `page_by_blueprint`."""
        return self.memory.snapshot(lambda view: operations.page_all(view, limit, cursor, reverse))

    def count(self) -> int:
        """How many entries the log holds."""
        return self.memory.snapshot(operations.count)
