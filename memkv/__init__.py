"""memkv: an embedded, durable key-value memory for AI agent runtimes.

>>> import memkv
>>> with memkv.open(":memory:") as mem:
...     _ = mem.store("user/name", "Ada", category=memkv.CORE)
...     mem.get("user/name").content
'Ada'
"""

from __future__ import annotations

import os
from typing import Unpack

from memkv.backends import Backend, InMemoryBackend, LmdbBackend
from memkv.entry import CONVERSATION, CORE, DAILY, MemoryEntry
from memkv.errors import (
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
    StorageFull,
    StoreClosed,
    StoreUnavailable,
    TransactionClosed,
    TypeMismatch,
)
from memkv.keys import MAX_KEY_BYTES, MAX_NAME_BYTES
from memkv.memory import Memory, Reader, Transaction
from memkv.seqlog import SeqRecord, SequenceLog
from memkv.settings import DEFAULT_SETTINGS, Durability, OpenOptions, resolve_settings

IN_MEMORY = ":memory:"

__all__ = [
    "CONVERSATION",
    "CORE",
    "DAILY",
    "DEFAULT_SETTINGS",
    "IN_MEMORY",
    "MAX_KEY_BYTES",
    "MAX_NAME_BYTES",
    "Backend",
    "BackendError",
    "Conflict",
    "CorruptRecord",
    "Durability",
    "InMemoryBackend",
    "InvalidArgument",
    "InvalidContent",
    "InvalidCursor",
    "InvalidKey",
    "LmdbBackend",
    "MemkvError",
    "Memory",
    "MemoryEntry",
    "NestedTransaction",
    "NotFound",
    "OpenOptions",
    "ReadOnlyStore",
    "Reader",
    "SeqRecord",
    "SequenceLog",
    "StorageFull",
    "StoreClosed",
    "StoreUnavailable",
    "Transaction",
    "TransactionClosed",
    "TypeMismatch",
    "open",
]


def open(path: str | os.PathLike[str], **options: Unpack[OpenOptions]) -> Memory:  # noqa: A001
    """Open (creating if absent) the store at ``path``: an LMDB directory, or
    ``":memory:"`` for an in-memory store with the same behaviour.

    Options (see `DEFAULT_SETTINGS`): ``map_size``, ``max_map_size``, ``durability``
    (`Durability`), ``cache_size``, ``readonly``.

    Raises:
        InvalidArgument: an unknown option or a bad value.
        StoreUnavailable: the path cannot hold a store, or holds another format.
    """
    settings = resolve_settings(dict(options))
    backend: Backend
    if os.fspath(path) == IN_MEMORY:
        backend = InMemoryBackend(readonly=settings.readonly)
    else:
        backend = LmdbBackend(
            path,
            map_size=settings.map_size,
            max_map_size=settings.max_map_size,
            durability=settings.durability,
            readonly=settings.readonly,
        )
    return Memory(backend, cache_size=settings.cache_size)
