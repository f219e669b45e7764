"""How `MemkvStore` keeps LangGraph items in memkv: keys, records, filters.

An item is a memkv entry in the user's key space, in the store's category
(``"langgraph"`` by default), at the packed key ``(*namespace, 0, key)``. The ``0``
ends the namespace: labels are strings, so an item key can never be read as one of
another namespace, and the items directly in a namespace form one contiguous range,
before those of its sub-namespaces (a packed integer sorts before a packed string).
The entry's ``timestamp`` is the item's ``updated_at``; its content is a `StoredItem`,
the value as given (so `memkv get` and `memkv recall` show it) with ``created_at``,
kept when the item is replaced.

The vectors of an item (with an index configured) are an `ItemVectors` record in the
internal key space at ``("langgraph.vectors", category, *namespace, 0, key)``,
written in the same transaction as the item and expiring with it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

import msgspec
from langgraph.store.base import InvalidNamespaceError, MatchCondition

from memkv.errors import InvalidArgument, InvalidKey
from memkv.keys import KeyPart, encode_key, pack, packed_end, unpack

CATEGORY: Final = "langgraph"
"""The category of the items of a `MemkvStore` unless it is given another."""

_NAMESPACE_END: Final = 0
_VECTORS: Final = "langgraph.vectors"

Namespace = tuple[str, ...]


class StoredItem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An item's content in memkv: its value, when it was first put, and its time to
    live in minutes (``None``: none), which a read that refreshes it starts again."""

    value: dict[str, Any]
    created_at: datetime
    ttl_minutes: float | None = None


class ItemVectors(msgspec.Struct, frozen=True, kw_only=True):
    """The embeddings of an item's indexed texts: field path -> float32 bytes."""

    vectors: dict[str, bytes]


def check_namespace(namespace: object, *, for_put: bool = False) -> Namespace:
    """``namespace`` as a tuple of ``str`` labels (a list of them is taken too, as
    ``SqliteStore`` takes one).

    Raises:
        InvalidNamespaceError: not a tuple or list of strings; empty, for a put.
    """
    if isinstance(namespace, list):
        namespace = tuple(namespace)
    if not isinstance(namespace, tuple) or not all(isinstance(part, str) for part in namespace):
        raise InvalidNamespaceError(f"a namespace is a tuple of str labels, not {namespace!r:.120}")
    if for_put and not namespace:
        raise InvalidNamespaceError("an item's namespace cannot be empty")
    return namespace


def check_item_key(key: object) -> str:
    if not isinstance(key, str):
        raise InvalidKey(f"an item key is a str, not {type(key).__name__}: {key!r:.80}")
    return key


def item_key(namespace: Namespace, key: str) -> str:
    """The memkv key of the item ``key`` in ``namespace``.

    Raises:
        InvalidNamespaceError: a label that is not a ``str``.
        InvalidKey: ``key`` is not a ``str``, or the packed key is longer than a memkv
            key can be (256 UTF-8 bytes).
    """
    if namespace.__class__ is tuple:  # cached for the tuples LangGraph passes
        try:
            return _item_key(namespace, key)
        except TypeError:  # an unhashable label: checked below
            pass
    return _item_key.__wrapped__(check_namespace(namespace), key)


@functools.lru_cache(maxsize=16384)
def _item_key(namespace: Namespace, key: str) -> str:
    check_namespace(namespace)
    packed = pack((*namespace, _NAMESPACE_END, check_item_key(key)))
    encode_key(packed)  # one too long is refused here, before anything runs
    return packed


def namespace_prefix(namespace_prefix: Namespace) -> str:
    """The memkv key prefix of every item whose namespace starts with this one."""
    return pack(namespace_prefix)


def vectors_key(category: str, namespace: Namespace, key: str) -> str:
    return pack((_VECTORS, category, *namespace, _NAMESPACE_END, key))


@functools.lru_cache(maxsize=256)
def vectors_prefix(category: str, namespace_prefix: Namespace) -> str:
    return pack((_VECTORS, category, *namespace_prefix))


def item_key_of_vectors(category: str, memkv_key: str) -> str:
    """The item key of a vectors record's key (`vectors_key` of it)."""
    return memkv_key[len(vectors_prefix(category, ())) :]


@functools.lru_cache(maxsize=16384)  # a search's results are split again and again
def split_item_key(memkv_key: str) -> tuple[Namespace, str]:
    """The namespace and key of an item's memkv key (`item_key` inverted).

    Raises:
        InvalidKey: ``memkv_key`` is not an item key (an entry of the category that
            LangGraph did not write).
    """
    parts = unpack(memkv_key)
    return _split(parts, memkv_key)


def split_vectors_key(memkv_key: str) -> tuple[Namespace, str]:
    parts = unpack(memkv_key)
    return _split(parts[2:], memkv_key)


def _split(parts: tuple[KeyPart, ...], memkv_key: str) -> tuple[Namespace, str]:
    if len(parts) < 2 or parts[-2] != _NAMESPACE_END or not isinstance(parts[-1], str):
        raise InvalidKey(f"{memkv_key!r:.120} is not the key of a LangGraph item")
    namespace = parts[:-2]
    if not all(isinstance(label, str) for label in namespace):
        raise InvalidKey(f"{memkv_key!r:.120} is not the key of a LangGraph item")
    return tuple(str(label) for label in namespace), parts[-1]


def past_namespace(namespace: Namespace) -> str:
    """A listing cursor past the items directly in ``namespace`` (its
    sub-namespaces come next)."""
    return packed_end((*namespace, _NAMESPACE_END))


def past_namespaces_under(namespace: Namespace) -> str:
    """A listing cursor past every item whose namespace starts with ``namespace``."""
    return packed_end(namespace)


# -- what a search's filter and a namespace listing's conditions match ---------------


_ORDERING: Final = ("$gt", "$gte", "$lt", "$lte")
OPERATORS: Final = ("$eq", "$ne", *_ORDERING)


def check_filter(filter_: object) -> dict[str, Any] | None:
    """A search filter: ``None`` or a dict of field -> value or ``{"$op": value}``.

    Raises:
        InvalidArgument: not a dict, an operator other than `OPERATORS`, or a dict
            mixing operators with fields (``{"$gt": 1, "x": 2}``).
    """
    if filter_ is None:
        return None
    if not isinstance(filter_, Mapping):
        raise InvalidArgument(f"a search filter is a dict, not {type(filter_).__name__}")
    for field, wanted in filter_.items():
        _check_operators(field, wanted)
    return dict(filter_)


def _check_operators(field: object, wanted: object) -> None:
    if not isinstance(wanted, Mapping):
        return
    operators = [name for name in wanted if isinstance(name, str) and name.startswith("$")]
    if operators and len(operators) != len(wanted):
        raise InvalidArgument(
            f"filter on {field!r}: {dict(wanted)!r:.80} mixes operators and fields"
        )
    for name, inner in wanted.items():
        if isinstance(name, str) and name.startswith("$"):
            if name not in OPERATORS:
                raise InvalidArgument(
                    f"filter on {field!r}: unknown operator {name!r} "
                    f"(known: {', '.join(OPERATORS)})"
                )
        else:
            _check_operators(name, inner)


Predicate = Callable[[Mapping[str, Any]], bool]


def _always(value: Mapping[str, Any]) -> bool:
    return True


def predicate(filter_: Mapping[str, Any] | None) -> Predicate:
    """Whether an item's value passes a (checked) search filter, as LangGraph's stores
    compare (JSONB-like): a field equals a value (nested dicts field by field, lists
    element-wise), or passes every ``{"$op": operand}`` given. ``$gt``, ``$gte``,
    ``$lt``, ``$lte`` compare numbers with numbers and strings with strings; a field
    of another type (or missing) does not pass."""
    if not filter_:
        return _always
    plain = [
        (field, wanted)
        for field, wanted in filter_.items()
        if wanted is None or isinstance(wanted, str | int | float)  # compared with ==
    ]
    rest = [(field, wanted) for field, wanted in filter_.items() if (field, wanted) not in plain]
    if not rest and len(plain) == 1:
        ((field, wanted),) = plain
        return lambda value: bool(value.get(field) == wanted)

    def passes(value: Mapping[str, Any]) -> bool:
        for field, wanted in plain:
            if value.get(field) != wanted:
                return False
        return all(_compare(value.get(field), wanted) for field, wanted in rest)

    return passes


def _compare(found: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        if any(isinstance(name, str) and name.startswith("$") for name in wanted):
            return all(_apply(found, name, operand) for name, operand in wanted.items())
        return isinstance(found, dict) and all(
            _compare(found.get(name), inner) for name, inner in wanted.items()
        )
    if isinstance(wanted, list | tuple):
        return (
            isinstance(found, list | tuple)
            and len(found) == len(wanted)
            and all(_compare(one, other) for one, other in zip(found, wanted, strict=True))
        )
    return bool(found == wanted)


def _apply(found: Any, operator: str, operand: Any) -> bool:
    if operator == "$eq":
        return bool(found == operand)
    if operator == "$ne":
        return bool(found != operand)
    if not _comparable(found, operand):
        return False
    if operator == "$gt":
        return bool(found > operand)
    if operator == "$gte":
        return bool(found >= operand)
    if operator == "$lt":
        return bool(found < operand)
    return bool(found <= operand)  # $lte (check_filter let no other through)


def _comparable(one: Any, other: Any) -> bool:
    if isinstance(one, str) and isinstance(other, str):
        return True
    numbers = (int, float)
    return (
        isinstance(one, numbers)
        and isinstance(other, numbers)
        and not isinstance(one, bool)
        and not isinstance(other, bool)
        and not (isinstance(one, float) and math.isnan(one))
    )


def namespace_matches(namespace: Namespace, conditions: tuple[MatchCondition, ...]) -> bool:
    """Whether ``namespace`` meets every prefix / suffix condition (``"*"`` matches
    any one label)."""
    for condition in conditions:
        path = tuple(condition.path)
        if len(namespace) < len(path):
            return False
        if condition.match_type == "prefix":
            part = namespace[: len(path)]
        elif condition.match_type == "suffix":
            part = namespace[len(namespace) - len(path) :]
        else:
            raise InvalidArgument(f"unknown namespace match type {condition.match_type!r}")
        if any(want not in ("*", label) for want, label in zip(path, part, strict=True)):
            return False
    return True


def fixed_prefix(conditions: tuple[MatchCondition, ...]) -> Namespace:
    """The labels every namespace meeting ``conditions`` starts with: a prefix
    condition's path up to its first wildcard (the listing scans only there)."""
    for condition in conditions:
        if condition.match_type == "prefix":
            path = tuple(condition.path)
            return path[: path.index("*")] if "*" in path else path
    return ()
