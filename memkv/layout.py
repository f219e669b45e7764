"""Where `Memory` keeps its entries, indexes and counts: the key conventions of
`Table.ENTRIES` and `Table.INDEX`, in two key spaces.

A store has two key spaces, each with its own entries, indexes and counts:
`USER_SPACE`, the memories a user stores, and `INTERNAL_SPACE`, the records of the
packages built on memkv (sequence logs, domain records and their indexes), which the
user's `categories`, `count` and `list` never show. Every key of a space starts
with its prefix: none for the user's, ``0xff`` for the internal one, a byte that no
UTF-8 text holds, so no user key or index key can fall into the internal space, and
the whole internal space sorts after the user's.

Within a space (each key below behind the space's prefix):

* ``Table.ENTRIES``: the key's UTF-8 bytes -> the encoded record.
* ``Table.INDEX``, by category: ``pack(("c", category))`` + key -> the record (a
  covering index: listing a category reads nothing else).
* ``Table.INDEX``, by session: ``pack(("s", session))`` + key -> empty, and
  ``pack(("cs", category, session))`` + key -> empty for both filters at once.
* ``Table.INDEX``, counts: ``pack(("n",))`` for all entries, ``pack(("n", "c",
  category))``, ``pack(("n", "s", session))`` and ``pack(("n", "cs", category,
  session))`` -> an 8-byte big-endian count; a count that reaches zero is deleted, so
  the count keys also list the categories and sessions in use.

Recall's index (`memkv.recall`), in the user's space only:

* ``pack(("r", term))`` + key -> the term's frequency in the entry and the entry's
  length in tokens (two 4-byte big-endian numbers): a posting;
* ``pack(("r", term))`` alone, the term's head, just before its postings (so that a
  write usually finds both on one page) -> how many entries hold the term (a count,
  as above); ``pack(("n", "rn"))`` -> how many entries have a token,
  ``pack(("n", "rl"))`` -> how many tokens they have in all;
* ``pack(("t",))`` + 8 bytes + key -> empty: every entry by timestamp, newest first
  (the bytes are the complement of its microseconds since 1970, offset to be
  unsigned), then by key;
* in ``Table.META``, `RECALL_SETTING` -> ``b"on"`` if the store keeps a recall index,
  ``b"off"`` if it keeps none (absent: a store made before recall, whose index is
  built the first time it is opened for writing).

The entry's key is the last part of every index key and is appended raw: the prefix
before it is self-delimiting, so the index sorts like the entries and a key prefix
is a byte prefix.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from datetime import UTC, datetime
from typing import Final

from memkv.keys import pack, unpack

_CATEGORY: Final = "c"
_SESSION: Final = "s"
_CATEGORY_SESSION: Final = "cs"
_COUNT: Final = "n"
_POSTING: Final = "r"
_RECALL_ENTRIES: Final = "rn"
_RECALL_TOKENS: Final = "rl"
_BY_TIME: Final = "t"

Space = bytes  # a key space: the prefix of each of its keys

USER_SPACE: Final[Space] = b""
INTERNAL_SPACE: Final[Space] = b"\xff"
SPACES: Final = (USER_SPACE, INTERNAL_SPACE)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def space_of(storage_key: bytes) -> Space:
    """The space an entries-table or index key belongs to."""
    return INTERNAL_SPACE if storage_key[:1] == INTERNAL_SPACE else USER_SPACE


def space_end(space: Space) -> bytes | None:
    """The first key past ``space`` (``None``: the end of the table)."""
    return INTERNAL_SPACE if space == USER_SPACE else None


# Prefixes are computed once per name: a store builds several of them.
_NAMES_CACHED: Final = 4096


def _key(space: Space, *parts: str) -> bytes:
    return space + pack(parts).encode()


@functools.lru_cache(maxsize=_NAMES_CACHED)
def category_prefix(space: Space, category: str) -> bytes:
    return _key(space, _CATEGORY, category)


@functools.lru_cache(maxsize=_NAMES_CACHED)
def session_prefix(space: Space, session_id: str) -> bytes:
    return _key(space, _SESSION, session_id)


@functools.lru_cache(maxsize=_NAMES_CACHED)
def category_session_prefix(space: Space, category: str, session_id: str) -> bytes:
    return _key(space, _CATEGORY_SESSION, category, session_id)


def index_prefix(space: Space, category: str | None, session_id: str | None) -> bytes | None:
    """The index serving a filter (``None``: no filter, read the entries table)."""
    if category is None:
        return None if session_id is None else session_prefix(space, session_id)
    if session_id is None:
        return category_prefix(space, category)
    return category_session_prefix(space, category, session_id)


@functools.lru_cache(maxsize=_NAMES_CACHED)
def count_key(space: Space, category: str | None, session_id: str | None) -> bytes:
    if category is None:
        if session_id is None:
            return _key(space, _COUNT)
        return _key(space, _COUNT, _SESSION, session_id)
    if session_id is None:
        return _key(space, _COUNT, _CATEGORY, category)
    return _key(space, _COUNT, _CATEGORY_SESSION, category, session_id)


@functools.lru_cache(maxsize=_NAMES_CACHED)
def count_keys(space: Space, category: str, session_id: str | None) -> tuple[bytes, ...]:
    """Every count an entry of this category and session adds to."""
    if session_id is None:
        return (count_key(space, None, None), count_key(space, category, None))
    return (
        count_key(space, None, None),
        count_key(space, category, None),
        count_key(space, None, session_id),
        count_key(space, category, session_id),
    )


def categories_counted(space: Space) -> bytes:
    """The prefix of the per-category counts of ``space``."""
    return _key(space, _COUNT, _CATEGORY)


def sessions_counted(space: Space) -> bytes:
    """The prefix of the per-session counts of ``space``."""
    return _key(space, _COUNT, _SESSION)


def counted_name(space: Space, count_key_bytes: bytes) -> str:
    """The category or session id named by a per-category or per-session count key."""
    name = unpack(count_key_bytes[len(space) :].decode())[-1]
    assert isinstance(name, str)
    return name


def encode_count(count: int) -> bytes:
    return count.to_bytes(8, "big")


def decode_count(data: bytes | None) -> int:
    return 0 if data is None else int.from_bytes(data, "big")


# -- recall ---------------------------------------------------------------------------

RECALL_SETTING: Final = b"recall"  # in Table.META
RECALL_ON: Final = b"on"  # the index is kept (absent: not built yet, a store made before it)
RECALL_OFF: Final = b"off"
RECALL_ENTRIES: Final = pack((_COUNT, _RECALL_ENTRIES)).encode()
RECALL_TOKENS: Final = pack((_COUNT, _RECALL_TOKENS)).encode()
BY_TIME: Final = pack((_BY_TIME,)).encode()

_LONGEST_TERM: Final = 64  # UTF-8 bytes of a term kept as it is in a key
_TERM_HEAD: Final = 24  # UTF-8 bytes kept of a longer term, before its digest
_TIME_OFFSET: Final = 1 << 63
_TIME_TOP: Final = (1 << 64) - 1


def _term_text(term: str) -> str:
    """A term as it appears in keys: itself, or if longer than `_LONGEST_TERM` bytes,
    its head and a digest of the whole (``#`` is no word character, so no term is
    written so)."""
    raw = term.encode()
    if len(raw) <= _LONGEST_TERM:
        return term
    head = raw[:_TERM_HEAD].decode(errors="ignore")
    return head + "#" + hashlib.blake2b(raw, digest_size=16).hexdigest()


@functools.lru_cache(maxsize=65536)
def term_head(term: str) -> bytes:
    """The key of a term's count of entries (its document frequency), and the prefix
    of its postings."""
    return pack((_POSTING, _term_text(term))).encode()


_POSTING_FORMAT: Final = struct.Struct(">II")
encode_posting: Final = _POSTING_FORMAT.pack  # (frequency in the entry, entry length)
decode_posting: Final = _POSTING_FORMAT.unpack  # -> (frequency, length)


def time_key(timestamp: datetime, raw_key: bytes) -> bytes:
    """The key of an entry in the index by time (newest first, then by key)."""
    delta = timestamp - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return BY_TIME + (_TIME_TOP - (micros + _TIME_OFFSET)).to_bytes(8, "big") + raw_key


TIME_KEY_SKIP: Final = len(BY_TIME) + 8  # bytes before the entry's key
