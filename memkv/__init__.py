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
    StoreUnavailable,
    TransactionClosed,
    TypeMismatch,
)
from memkv.keys import MAX_KEY_BYTES, MAX_NAME_BYTES
from memkv.memory import Memory, Reader, Transaction
from memkv.seqlog import SeqRecord, SequenceLog
from memkv.settings import (
    DEFAULT_SETTINGS,
    Durability,
    OpenOptions,
    Settings,
    resolve_settings,
)

IN_MEMORY = ":memory:"

__all__ = [
    "CONVERSATION",
    "CORE",
    "DAILY",
    "DEFAULT_SETTINGS",
    "IN_MEMORY",
    "MAX_KEY_BYTES",
    "MAX_NAME_BYTES",
    "AccessDenied",
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
    "RetriesExhausted",
    "SeqRecord",
    "SequenceLog",
    "ServerUnavailable",
    "StorageFull",
    "StoreClosed",
    "StoreUnavailable",
    "Transaction",
    "TransactionClosed",
    "TypeMismatch",
    "is_postgres_url",
    "open",
]


def open(path: str | os.PathLike[str], **options: Unpack[OpenOptions]) -> Memory:  # noqa: A001
    """Open (creating if absent) the store at ``path``: an LMDB directory,
    ``":memory:"`` for an in-memory store with the same behaviour, or a PostgreSQL
    URL (``postgresql://user@host:port/dbname``; parts left out come from the ``PG*``
    environment variables, so ``"postgresql://"`` alone takes them all from there).

    Options (see `DEFAULT_SETTINGS`): ``durability`` (`Durability`), ``cache_size``
    and ``readonly``; for LMDB ``map_size`` and ``max_map_size``; for PostgreSQL
    (the ``memkv[postgres]`` extra) ``schema``, ``pool_size``, ``connect_timeout``,
    ``statement_timeout`` and ``max_retries``.

    Raises:
        InvalidArgument: an unknown option, one for the other kind of store, or a bad
            value.
        StoreUnavailable: the path cannot hold a store, or holds another format;
            `ServerUnavailable` (cannot reach the server) and `AccessDenied` (the
            server refused the credentials) are kinds of it.
    """
    location = os.fspath(path)
    postgres = is_postgres_url(location)
    settings = resolve_settings(dict(options), postgres=postgres)
    backend: Backend
    if location == IN_MEMORY:
        backend = InMemoryBackend(readonly=settings.readonly)
    elif postgres:
        backend = _postgres_backend(location, settings)
    else:
        backend = LmdbBackend(
            path,
            map_size=settings.map_size,
            max_map_size=settings.max_map_size,
            durability=settings.durability,
            readonly=settings.readonly,
        )
    return Memory(backend, cache_size=settings.cache_size)


def is_postgres_url(location: str) -> bool:
    """Whether `open` takes ``location`` for a PostgreSQL server."""
    return location.startswith(_POSTGRES_SCHEMES)


_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def _postgres_backend(conninfo: str, settings: Settings) -> Backend:
    try:
        from memkv.backends.postgres import PostgresBackend  # noqa: PLC0415 - optional extra
    except ImportError as exc:
        raise StoreUnavailable(
            f"PostgreSQL stores need psycopg and psycopg_pool ({exc}); "
            "install the extra: pip install 'memkv[postgres]'"
        ) from exc
    return PostgresBackend(
        conninfo,
        schema=settings.schema,
        durability=settings.durability,
        readonly=settings.readonly,
        pool_size=settings.pool_size,
        connect_timeout=settings.connect_timeout,
        statement_timeout=settings.statement_timeout,
        max_retries=settings.max_retries,
    )
