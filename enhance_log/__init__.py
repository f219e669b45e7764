"""enhance_log: append-only log of enhance invocations, on memkv.

>>> import memkv, enhance_log
>>> log = enhance_log.MemoryEnhanceLogStore(memkv.open(":memory:"))
>>> log.name
'in-memory'
"""

from enhance_log.errors import EnhanceLogConflict, EnhanceLogNotFound, InvalidEnhanceLogEntry
from enhance_log.store import EnhanceLogStore, MemoryEnhanceLogStore
from enhance_log.types import (
    STATUSES,
    EnhanceLogEntry,
    EnhanceLogPage,
    EnhanceStatus,
    VerdictSummary,
)

__all__ = [
    "STATUSES",
    "EnhanceLogConflict",
    "EnhanceLogEntry",
    "EnhanceLogNotFound",
    "EnhanceLogPage",
    "EnhanceLogStore",
    "EnhanceStatus",
    "InvalidEnhanceLogEntry",
    "MemoryEnhanceLogStore",
    "VerdictSummary",
]
