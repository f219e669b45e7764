"""Options of `memkv.open`: the durability levels, the options every store takes
(`Options`), and how options given as keywords are checked (`resolve`).

Each kind of store declares its option type beside its backend, a subclass of
`Options` whose fields carry their defaults and their constraints
(`memkv.backends.lmdb.options`, `memkv.backends.postgres.options`); `memkv.opening`
picks the kind from the location.
"""

from __future__ import annotations

import difflib
import enum
import os
from collections.abc import Mapping
from typing import Annotated, Any, Final, TypeVar

import msgspec

from memkv.errors import InvalidArgument
from memkv.redaction import mask_conninfo


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


OptionsT = TypeVar("OptionsT", bound="Options")


def constraint(description: str, **bounds: Any) -> msgspec.Meta:
    """A field's constraint, with the words `resolve` uses when a value breaks it:
    ``"<name> <value> is not <description>"``."""
    return msgspec.Meta(description=description, **bounds)


class Options(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The options every store takes (the in-memory store takes only these)."""

    durability: Annotated[
        Durability, constraint(f"one of: {', '.join(level.value for level in Durability)}")
    ] = Durability.DURABLE  # every returned write survives a power loss
    cache_size: Annotated[int, constraint("an integer >= 0", ge=0)] = 4096  # entries the
    # read cache keeps; 0 turns the cache off
    readonly: Annotated[bool, constraint("True or False")] = False  # True refuses writes
    # (ReadOnlyStore) and creates nothing
    recall: Annotated[bool | None, constraint("True, False or None")] = None  # whether the
    # store keeps a recall index: chosen when it is created (default True), kept in it;
    # None takes the store's choice, and a different choice for a store that holds
    # entries is refused


def check_location(path: object) -> str:
    """The text of a store location (``memkv.open``'s first argument): a ``str`` or an
    ``os.PathLike`` of one, as given (``~`` is expanded by the LMDB backend only).

    Bytes paths are refused rather than guessed at: a location may be a URL or
    ``":memory:"``, which are text; decode a bytes path with ``os.fsdecode`` first.

    Raises:
        InvalidArgument: not a ``str`` or ``os.PathLike[str]`` (``None``, bytes, a
            number...), empty or only whitespace (an unset environment variable, say:
            never taken for the current directory), or holding a NUL character.
    """
    location: object = path
    if not isinstance(location, str):
        if isinstance(location, os.PathLike):
            location = os.fspath(location)
        if not isinstance(location, str):
            hint = "; decode it with os.fsdecode()" if isinstance(location, bytes) else ""
            raise InvalidArgument(
                "a store location must be a str or an os.PathLike of one "
                f"(a directory, ':memory:' or a postgresql:// URL), not "
                f"{type(path).__name__}: {_masked_repr(path):.80}{hint}"
            )
    if not location.strip():
        raise InvalidArgument(
            f"the store location is empty ({location!r}), as an unset environment variable "
            "leaves it; name a directory (\".\" for the current one), ':memory:' or a "
            "postgresql:// URL"
        )
    if "\0" in location:
        raise InvalidArgument(
            f"the store location {_masked_repr(location):.80} holds a NUL character"
        )
    return location


def _masked_repr(location: object) -> str:
    """The ``repr`` of a location, with the password of a URL in it masked."""
    if isinstance(location, bytes):
        return "b" + repr(mask_conninfo(os.fsdecode(location)))
    return repr(mask_conninfo(location) if isinstance(location, str) else location)


def resolve(
    kind: type[OptionsT],
    given: Mapping[str, Any],
    *,
    store: str,
    others: Mapping[str, type[Options]],
) -> OptionsT:
    """``given`` (the keywords of `memkv.open`) checked against ``kind``, the option
    type of a ``store`` ("LMDB", "PostgreSQL"...), with the defaults filled in.
    ``others``: the option types of the other kinds of store, by store name, to say
    where an option that ``kind`` lacks belongs.

    Raises:
        InvalidArgument: an unknown option (with the closest valid name), an option
            of another kind of store, or a value of the wrong type or range (naming
            the option, the value and what it must be).
    """
    fields = kind.__struct_fields__
    for name in given:
        if name in fields:
            continue
        owners = [other for other, options in others.items() if name in options.__struct_fields__]
        if owners:
            raise InvalidArgument(
                f"option {name!r} applies to {' and '.join(owners)} stores only, not {store}"
            )
        hint = difflib.get_close_matches(name, fields, n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise InvalidArgument(
            f"unknown option {name!r}{suggestion}; {store} stores take: {', '.join(fields)}"
        )
    try:
        return msgspec.convert(dict(given), kind)
    except msgspec.ValidationError as exc:
        raise InvalidArgument(_explain(kind, given, str(exc))) from exc


def _explain(kind: type[Options], given: Mapping[str, Any], message: str) -> str:
    """What to say of a value `msgspec.convert` refused: the field's description."""
    name = message.rpartition("$.")[2].rstrip("`")
    if name in given:
        for field in msgspec.inspect.type_info(kind).fields:  # type: ignore[attr-defined]
            if field.name == name and isinstance(field.type, msgspec.inspect.Metadata):
                description = (field.type.extra_json_schema or {}).get("description")
                if description:
                    return f"{name} {given[name]!r} is not {description}"
    return message.partition(" - at `$")[0]  # a check across fields says it all itself
