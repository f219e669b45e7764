"""Options of `memkv.open`: their defaults, their checks, and the durability levels."""

from __future__ import annotations

import difflib
import enum
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


DEFAULT_SETTINGS: Final = Settings(
    map_size=1 << 30,  # 1 GiB: initial map; virtual (the file grows as used), and it grows
    max_map_size=1 << 40,  # 1 TiB: the map never grows past this (then StorageFull)
    durability=Durability.DURABLE,  # every returned write survives a power loss
    cache_size=4096,  # entries kept by the read cache; 0 turns the cache off
    readonly=False,  # True refuses writes (ReadOnlyStore) and creates nothing
)


class OpenOptions(TypedDict, total=False):
    """Keyword options of `memkv.open` (all optional; see `DEFAULT_SETTINGS`)."""

    map_size: int
    max_map_size: int
    durability: Durability | str
    cache_size: int
    readonly: bool


def resolve_settings(options: dict[str, Any]) -> Settings:
    """Check ``options`` and fill in the defaults.

    Raises:
        InvalidArgument: an unknown option (with the closest valid name), or a value
            of the wrong type or range.
    """
    known = msgspec.structs.asdict(DEFAULT_SETTINGS)
    for name in options:
        if name not in known:
            hint = difflib.get_close_matches(name, known, n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise InvalidArgument(
                f"unknown option {name!r}{suggestion}; valid options: {', '.join(known)}"
            )
    values = known | options
    for name in ("map_size", "max_map_size"):
        _check_int(name, values[name], minimum=1)
    _check_int("cache_size", values["cache_size"], minimum=0)
    if not isinstance(values["readonly"], bool):
        raise InvalidArgument(f"readonly must be True or False, not {values['readonly']!r}")
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
    return Settings(
        map_size=values["map_size"],
        max_map_size=values["max_map_size"],
        durability=durability,
        cache_size=values["cache_size"],
        readonly=values["readonly"],
    )


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidArgument(f"{name} must be an integer >= {minimum}, not {value!r}")
