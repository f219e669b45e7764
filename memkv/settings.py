"""Options of `memkv.open`: their defaults, their checks, and the durability levels."""

from __future__ import annotations

import difflib
import enum
import math
import re
from typing import Any, Final, TypedDict

import msgspec

from memkv.errors import InvalidArgument


class Durability(enum.StrEnum):
    """What a write that has returned survives.

    ========  ===================  ====================  =================================
    level     flushes per commit   process crash         OS crash or power loss
    ========  ===================  ====================  =================================
    durable   data, then meta      nothing lost          nothing lost
    relaxed   data only            nothing lost          the last commits may be rolled
                                                         back; never a damaged store
    unsynced  none                 nothing lost          recent commits may be lost, and
                                                         LMDB may leave the store damaged
    ========  ===================  ====================  =================================

    On PostgreSQL the server does the flushing: ``durable`` commits with
    ``synchronous_commit`` on (the commit returns once its WAL is on disk); ``relaxed``
    and ``unsynced`` with it off (a server crash may lose the last commits, each
    whole or not at all; the store is never damaged).
    """

    DURABLE = "durable"
    RELAXED = "relaxed"
    UNSYNCED = "unsynced"

    def lmdb_flags(self) -> dict[str, bool]:
        """The ``lmdb.open`` flags that give this level."""
        return _LMDB_FLAGS[self]

    @property
    def flushes_after_commit(self) -> bool:
        """Whether a write returns only after a flush that follows its commit.

        ``durable`` commits as ``relaxed`` does (data pages flushed, then the meta
        page written) and then flushes once more, outside the write lock, before the
        write returns: the meta page is on disk as LMDB's own synchronous meta write
        would leave it, at a third of its cost here, and writers queued behind a
        group commit proceed during the flush."""
        return self is Durability.DURABLE

    @property
    def postgres_synchronous_commit(self) -> str:
        """The ``synchronous_commit`` setting that gives this level on PostgreSQL."""
        return "on" if self is Durability.DURABLE else "off"


_LMDB_FLAGS: Final = {
    Durability.DURABLE: {"sync": True, "metasync": False},  # + a flush after commit
    Durability.RELAXED: {"sync": True, "metasync": False},  # MDB_NOMETASYNC
    Durability.UNSYNCED: {"sync": False, "metasync": False},  # MDB_NOSYNC
}


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Resolved options of one open store."""

    map_size: int
    max_map_size: int
    durability: Durability
    cache_size: int
    readonly: bool
    schema: str
    pool_size: int
    connect_timeout: float
    statement_timeout: float
    max_retries: int


DEFAULT_SETTINGS: Final = Settings(
    map_size=1 << 30,  # 1 GiB: initial map; virtual (the file grows as used), and it grows
    max_map_size=1 << 40,  # 1 TiB: the map never grows past this (then StorageFull)
    durability=Durability.DURABLE,  # every returned write survives a power loss
    cache_size=4096,  # entries kept by the read cache; 0 turns the cache off
    readonly=False,  # True refuses writes (ReadOnlyStore) and creates nothing
    schema="memkv",  # PostgreSQL: the schema that holds the store (one store per schema)
    pool_size=8,  # PostgreSQL: most connections open at once (psycopg_pool)
    connect_timeout=5.0,  # PostgreSQL: seconds to connect, or to wait for a free connection
    statement_timeout=30.0,  # PostgreSQL: seconds a statement may run (0: no limit)
    max_retries=5,  # PostgreSQL: runs of a transaction after a serialisation failure
)

# A cache hit must first ask the store for its commit id: on PostgreSQL that is a round
# trip, as dear as reading the entry itself, so the cache is off unless asked for.
_POSTGRES_DEFAULTS: Final = {"cache_size": 0}
_LMDB_ONLY: Final = frozenset({"map_size", "max_map_size"})
_POSTGRES_ONLY: Final = frozenset(
    {"schema", "pool_size", "connect_timeout", "statement_timeout", "max_retries"}
)
_SCHEMA_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class OpenOptions(TypedDict, total=False):
    """Keyword options of `memkv.open` (all optional; see `DEFAULT_SETTINGS`)."""

    map_size: int
    max_map_size: int
    durability: Durability | str
    cache_size: int
    readonly: bool
    schema: str
    pool_size: int
    connect_timeout: float
    statement_timeout: float
    max_retries: int


def resolve_settings(options: dict[str, Any], *, postgres: bool = False) -> Settings:
    """Check ``options`` (for a PostgreSQL store if ``postgres``) and fill in the
    defaults.

    Raises:
        InvalidArgument: an unknown option (with the closest valid name), an option
            of the other kind of store, or a value of the wrong type or range.
    """
    known = msgspec.structs.asdict(DEFAULT_SETTINGS)
    for name in options:
        if name not in known:
            hint = difflib.get_close_matches(name, known, n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise InvalidArgument(
                f"unknown option {name!r}{suggestion}; valid options: {', '.join(known)}"
            )
        if postgres and name in _LMDB_ONLY:
            raise InvalidArgument(f"option {name!r} applies to LMDB stores, not PostgreSQL")
        if not postgres and name in _POSTGRES_ONLY:
            raise InvalidArgument(f"option {name!r} applies to PostgreSQL stores only")
    values = known | (_POSTGRES_DEFAULTS if postgres else {}) | options
    for name in ("map_size", "max_map_size", "pool_size"):
        _check_int(name, values[name], minimum=1)
    _check_int("cache_size", values["cache_size"], minimum=0)
    _check_int("max_retries", values["max_retries"], minimum=0)
    for name in ("connect_timeout", "statement_timeout"):
        _check_seconds(name, values[name], zero_allowed=name == "statement_timeout")
    if not isinstance(values["readonly"], bool):
        raise InvalidArgument(f"readonly must be True or False, not {values['readonly']!r}")
    if not isinstance(values["schema"], str) or not _SCHEMA_NAME.fullmatch(values["schema"]):
        raise InvalidArgument(
            f"schema {values['schema']!r} is not a plain PostgreSQL name: lower-case "
            "letters, digits and '_', not starting with a digit, at most 63 characters"
        )
    try:
        durability = Durability(values["durability"])
    except ValueError:
        levels = ", ".join(level.value for level in Durability)
        raise InvalidArgument(
            f"durability {values['durability']!r} is not one of: {levels}"
        ) from None
    if values["max_map_size"] < values["map_size"]:
        raise InvalidArgument(
            f"max_map_size ({values['max_map_size']}) is below map_size ({values['map_size']})"
        )
    return Settings(**(values | {"durability": durability}))


def _check_seconds(name: str, value: object, *, zero_allowed: bool) -> None:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not zero_allowed)
    ):
        bound = ">= 0" if zero_allowed else "> 0"
        raise InvalidArgument(f"{name} must be a number of seconds {bound}, not {value!r}")


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidArgument(f"{name} must be an integer >= {minimum}, not {value!r}")
