"""`open`: from a location to a `Memory`, through a table of the kinds of store.

A location names its kind: ``":memory:"``, a ``postgresql://`` (or ``postgres://``)
URL, else an LMDB directory. Each kind has an option type (its fields, defaults and
constraints) and a function that makes its backend from a location and options.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Final, NamedTuple, TypedDict, Unpack, cast

from memkv.backends.base import Backend
from memkv.backends.inmemory import InMemoryBackend
from memkv.backends.lmdb import LmdbBackend
from memkv.backends.lmdb.options import LmdbOptions
from memkv.backends.postgres.options import PostgresOptions
from memkv.clock import Clock, Now
from memkv.errors import StoreUnavailable
from memkv.memory import Memory
from memkv.options import Durability, Options, check_location, resolve

IN_MEMORY: Final = ":memory:"


class OpenOptions(TypedDict, total=False):
    """The keywords of `open`, for type checkers: every kind's options (each kind
    takes its own; see `StoreKind.options`)."""

    durability: Durability | str
    cache_size: int
    readonly: bool
    recall: bool | None
    clock: Now
    map_size: int
    max_map_size: int
    lock: bool
    schema: str
    pool_size: int
    connect_timeout: float
    statement_timeout: float
    max_retries: int


class StoreKind(NamedTuple):
    """One kind of store: its name for people, its option type, and how its backend
    is made from a location and checked options."""

    name: str
    options: type[Options]
    backend: Callable[[str, Any], Backend]


def _lmdb(location: str, options: LmdbOptions) -> Backend:
    return LmdbBackend(
        location,
        map_size=options.map_size,
        max_map_size=options.max_map_size,
        durability=options.durability,
        readonly=options.readonly,
        lock=options.lock,
    )


def _in_memory(location: str, options: Options) -> Backend:
    return InMemoryBackend(readonly=options.readonly)


def _postgres(location: str, options: PostgresOptions) -> Backend:
    try:
        from memkv.backends.postgres.backend import PostgresBackend  # noqa: PLC0415 - extra
    except ImportError as exc:
        raise StoreUnavailable(
            f"PostgreSQL stores need psycopg and psycopg_pool ({exc}); "
            "install the extra: pip install 'memkv[postgres]'"
        ) from exc
    return PostgresBackend(
        location,
        schema=options.schema,
        durability=options.durability,
        readonly=options.readonly,
        pool_size=options.pool_size,
        connect_timeout=options.connect_timeout,
        statement_timeout=options.statement_timeout,
        max_retries=options.max_retries,
    )


LMDB: Final = StoreKind("LMDB", LmdbOptions, _lmdb)
IN_MEMORY_STORE: Final = StoreKind("in-memory", Options, _in_memory)
POSTGRES: Final = StoreKind("PostgreSQL", PostgresOptions, _postgres)
KINDS: Final = (LMDB, IN_MEMORY_STORE, POSTGRES)
_BY_SCHEME: Final = {"postgresql": POSTGRES, "postgres": POSTGRES}


def store_kind(location: str) -> StoreKind:
    """The kind of store ``location`` names (an LMDB directory unless it says else)."""
    if location == IN_MEMORY:
        return IN_MEMORY_STORE
    scheme, separator, _ = location.partition("://")
    return _BY_SCHEME.get(scheme, LMDB) if separator else LMDB


def is_postgres_url(location: str) -> bool:
    """Whether `open` takes ``location`` for a PostgreSQL server."""
    return store_kind(location) is POSTGRES


def open(path: str | os.PathLike[str], **options: Unpack[OpenOptions]) -> Memory:  # noqa: A001
    """Open (creating if absent) the store at ``path``: an LMDB directory,
    ``":memory:"`` for an in-memory store with the same behaviour, or a PostgreSQL
    URL (``postgresql://user@host:port/dbname``; parts left out come from the ``PG*``
    environment variables, so ``"postgresql://"`` alone takes them all from there).

    Options, each kind its own (`memkv.Options` for all; `memkv.LmdbOptions`,
    `memkv.PostgresOptions`): ``durability`` (`Durability`), ``cache_size``,
    ``readonly``, ``recall`` (whether the store keeps a recall index: chosen when it
    is created) and ``clock`` (a function returning the current time as an aware
    `datetime`, read for timestamps and expiry instead of the system clock: for tests,
    see `memkv.clock`); for LMDB ``map_size``, ``max_map_size`` and ``lock`` (``False``, with
    ``readonly=True``: read a store whose lock file cannot be written, with no
    coordination with a process writing it meanwhile); for PostgreSQL (the
    ``memkv[postgres]`` extra) ``schema``, ``pool_size``, ``connect_timeout``,
    ``statement_timeout`` and ``max_retries``.

    An LMDB path may start with ``~`` (expanded). Bytes paths are refused: decode
    them with ``os.fsdecode``.

    Raises:
        InvalidArgument: ``path`` is not a ``str`` or ``os.PathLike[str]``, is empty or
            only whitespace (never taken for the current directory); an unknown
            option, one for another kind of store, or a bad value.
        StoreUnavailable: the path cannot hold a store, or holds another format;
            `ServerUnavailable` (cannot reach the server) and `AccessDenied` (the
            server refused the credentials) are kinds of it.
    """
    location = check_location(path)
    given = dict(options)
    clock = Clock(cast("Now | None", given.pop("clock", None)))
    kind = store_kind(location)
    others = {other.name: other.options for other in KINDS if other is not kind}
    checked = resolve(kind.options, given, store=kind.name, others=others)
    return Memory(
        kind.backend(location, checked),
        cache_size=checked.cache_size,
        recall=checked.recall,
        clock=clock,
    )
