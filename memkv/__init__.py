"""memkv: an embedded, durable key-value memory for AI agent runtimes.

>>> import memkv
>>> with memkv.open(":memory:") as mem:
...     _ = mem.store("user/name", "Ada", category=memkv.CORE)
...     mem.get("user/name").content
'Ada'
"""

from __future__ import annotations

import functools

from memkv.backends import Backend, InMemoryBackend, LmdbBackend
from memkv.backends.lmdb.options import LmdbOptions
from memkv.backends.postgres.options import PostgresOptions
from memkv.backup import Compaction, compact
from memkv.entry import CONVERSATION, CORE, DAILY, MemoryEntry
from memkv.errors import (
    AccessDenied,
    BackendError,
    Conflict,
    CorruptRecord,
    InvalidArgument,
    InvalidContent,
    InvalidCursor,
    InvalidKey,
    MemkvError,
    NestedTransaction,
    NotFound,
    ReadOnlyStore,
    RetriesExhausted,
    ServerUnavailable,
    StorageFull,
    StoreClosed,
    StoreInUse,
    StoreUnavailable,
    TransactionClosed,
    TypeMismatch,
    Unsupported,
)
from memkv.keys import MAX_KEY_BYTES, MAX_NAME_BYTES
from memkv.memory import Memory, Reader, Transaction
from memkv.opening import IN_MEMORY, OpenOptions, is_postgres_url, open  # noqa: A004
from memkv.options import Durability, Options
from memkv.seqlog import SeqRecord, SequenceLog
from memkv.transfer import BadImportFile, ImportConflict, ImportReport


@functools.cache
def _version() -> str:
    from importlib import metadata  # noqa: PLC0415 - a third of memkv's import time: on use

    try:
        return metadata.version("memkv")
    except metadata.PackageNotFoundError:  # a source tree that is not installed
        return "0+unknown"


def __getattr__(name: str) -> str:
    """``memkv.__version__``: the installed distribution's version, read on first use."""
    if name == "__version__":
        return _version()
    raise AttributeError(f"module 'memkv' has no attribute {name!r}")


__all__ = [
    "CONVERSATION",
    "CORE",
    "DAILY",
    "IN_MEMORY",
    "MAX_KEY_BYTES",
    "MAX_NAME_BYTES",
    "AccessDenied",
    "Backend",
    "BackendError",
    "BadImportFile",
    "Compaction",
    "Conflict",
    "CorruptRecord",
    "Durability",
    "ImportConflict",
    "ImportReport",
    "InMemoryBackend",
    "InvalidArgument",
    "InvalidContent",
    "InvalidCursor",
    "InvalidKey",
    "LmdbBackend",
    "LmdbOptions",
    "MemkvError",
    "Memory",
    "MemoryEntry",
    "NestedTransaction",
    "NotFound",
    "OpenOptions",
    "Options",
    "PostgresOptions",
    "ReadOnlyStore",
    "Reader",
    "RetriesExhausted",
    "SeqRecord",
    "SequenceLog",
    "ServerUnavailable",
    "StorageFull",
    "StoreClosed",
    "StoreInUse",
    "StoreUnavailable",
    "Transaction",
    "TransactionClosed",
    "TypeMismatch",
    "Unsupported",
    "compact",
    "is_postgres_url",
    "open",
]
