"""Where `Memory` keeps its indexes and counts: the key conventions of `Table.INDEX`.

* ``Table.ENTRIES``: the user key's UTF-8 bytes -> the encoded record.
* ``Table.INDEX``, by category: ``pack(("c", category))`` + key -> the record (a
  covering index: listing a category reads nothing else).
* ``Table.INDEX``, by session: ``pack(("s", session))`` + key -> empty, and
  ``pack(("cs", category, session))`` + key -> empty for both filters at once.
* ``Table.INDEX``, counts: ``pack(("n",))`` for all entries, ``pack(("n", "c",
  category))``, ``pack(("n", "s", session))`` and ``pack(("n", "cs", category,
  session))`` -> an 8-byte big-endian count; a count that reaches zero is deleted, so
  the count keys also list the categories and sessions in use.

The user key is the last part of every index key and is appended raw: the prefix
before it is self-delimiting, so the index sorts like the entries and a key prefix
is a byte prefix.
"""

from __future__ import annotations

import functools
from typing import Final

from memkv.keys import pack, unpack

_CATEGORY: Final = "c"
_SESSION: Final = "s"
_CATEGORY_SESSION: Final = "cs"
_COUNT: Final = "n"

COUNT_ALL: Final = pack((_COUNT,)).encode()
COUNT_CATEGORIES: Final = pack((_COUNT, _CATEGORY)).encode()
COUNT_SESSIONS: Final = pack((_COUNT, _SESSION)).encode()


# Prefixes are computed once per name: a store builds several of them.
_NAMES_CACHED: Final = 4096


@functools.lru_cache(maxsize=_NAMES_CACHED)
def category_prefix(category: str) -> bytes:
    return pack((_CATEGORY, category)).encode()


@functools.lru_cache(maxsize=_NAMES_CACHED)
def session_prefix(session_id: str) -> bytes:
    return pack((_SESSION, session_id)).encode()


@functools.lru_cache(maxsize=_NAMES_CACHED)
def category_session_prefix(category: str, session_id: str) -> bytes:
    return pack((_CATEGORY_SESSION, category, session_id)).encode()


def index_prefix(category: str | None, session_id: str | None) -> bytes | None:
    """The index serving a filter (``None``: no filter, read the entries table)."""
    if category is None:
        return None if session_id is None else session_prefix(session_id)
    if session_id is None:
        return category_prefix(category)
    return category_session_prefix(category, session_id)


@functools.lru_cache(maxsize=_NAMES_CACHED)
def count_key(category: str | None, session_id: str | None) -> bytes:
    if category is None:
        return COUNT_ALL if session_id is None else pack((_COUNT, _SESSION, session_id)).encode()
    if session_id is None:
        return pack((_COUNT, _CATEGORY, category)).encode()
    return pack((_COUNT, _CATEGORY_SESSION, category, session_id)).encode()


@functools.lru_cache(maxsize=_NAMES_CACHED)
def count_keys(category: str, session_id: str | None) -> tuple[bytes, ...]:
    """Every count an entry of this category and session adds to."""
    if session_id is None:
        return (COUNT_ALL, count_key(category, None))
    return (
        COUNT_ALL,
        count_key(category, None),
        count_key(None, session_id),
        count_key(category, session_id),
    )


def counted_name(count_key_bytes: bytes) -> str:
    """The category or session id named by a per-category or per-session count key."""
    name = unpack(count_key_bytes.decode())[-1]
    assert isinstance(name, str)
    return name


def encode_count(count: int) -> bytes:
    return count.to_bytes(8, "big")


def decode_count(data: bytes | None) -> int:
    return 0 if data is None else int.from_bytes(data, "big")
