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
* ``Table.INDEX``, by expiry: ``pack(("e",))`` + 8 bytes + key -> empty, for each entry
  that expires (the bytes are its expiry time in microseconds since 1970, offset to be
  unsigned, so the soonest sorts first): what has expired is a range scan.

Recall's index (`memkv.recall`), in the user's space only, every key under
`RECALL_REGION` (``pack(("r",))``). Each indexed version of an entry is a *document*
with a number (8 bytes, big-endian), given in order and never reused:

* ``pack(("r", "d"))`` + number -> the document: the entry's key, its length in tokens
  and its terms with their frequencies;
* ``pack(("r", "w"))`` + 8 bytes + key -> the number of the entry's document (empty if
  it has no token): every entry by timestamp, newest first (the bytes are the
  complement of its microseconds since 1970, offset to be unsigned), then by key;
* ``pack(("r", "s"))`` + first number -> a segment's head (its end, and which of its
  documents are gone); under ``pack(("r", "p"))`` + first number, the segment's
  postings: the inverted index of the documents numbered from first to end, written
  once (`memkv.recall` says when). A term's postings are under `LONG_POSTINGS` + the
  term's UTF-8 bytes if they are many, else in a block of several terms' under
  `POSTING_BLOCKS` + the block's first term;
* ``pack(("r", "x"))`` + number -> the terms of a document in a segment that was
  removed since the segments were last brought up to date;
* ``pack(("r", "g", term))`` -> how many postings of the term belong to documents
  gone from their segments (a count, as above), and ``pack(("r", "n", name))`` ->
  recall's other counts (`RECALL_ENTRIES`, `RECALL_TOKENS`, `NEXT_DOCUMENT`,
  `FIRST_PENDING`, `GONE_PENDING`);
* in ``Table.META``, `RECALL_SETTING` -> `RECALL_ON` if the store keeps a recall index,
  `RECALL_OFF` if it keeps none (absent, or a value of an older memkv: the index is
  built the first time the store is opened for writing).

The entry's key is the last part of every index key and is appended raw: the prefix
before it is self-delimiting, so the index sorts like the entries and a key prefix
is a byte prefix.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from datetime import UTC, datetime, timedelta
from typing import Final

from memkv.keys import pack, unpack

_CATEGORY: Final = "c"
_SESSION: Final = "s"
_CATEGORY_SESSION: Final = "cs"
_COUNT: Final = "n"
_EXPIRY: Final = "e"
_RECALL: Final = "r"

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


@functools.lru_cache(maxsize=4)
def expiry_prefix(space: Space) -> bytes:
    """The prefix of the index by expiry time of ``space``."""
    return _key(space, _EXPIRY)


def expiry_key(space: Space, expires_at: datetime, raw_key: bytes) -> bytes:
    """The key of an entry in the index by expiry time (soonest first, then by key)."""
    return expiry_prefix(space) + _micros(expires_at).to_bytes(8, "big") + raw_key


def expired_before(space: Space, moment: datetime) -> bytes:
    """The first key of the index by expiry past every entry expired at ``moment``
    (one whose expiry time is ``moment`` or earlier)."""
    return expiry_prefix(space) + (_micros(moment) + 1).to_bytes(8, "big")


def expiry_time(space: Space, index_key: bytes) -> datetime:
    """The expiry time an index-by-expiry key of ``space`` holds (`expiry_key`)."""
    start = len(expiry_prefix(space))
    micros = int.from_bytes(index_key[start : start + 8], "big") - _TIME_OFFSET
    return _EPOCH + timedelta(microseconds=micros)


def expiry_key_skip(space: Space) -> int:
    """The bytes before the entry's key in an expiry index key of ``space``."""
    return len(expiry_prefix(space)) + 8


def _micros(moment: datetime) -> int:
    """Microseconds since 1970, offset to be unsigned (so they sort as bytes)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds + _TIME_OFFSET


def encode_count(count: int) -> bytes:
    return count.to_bytes(8, "big")


def decode_count(data: bytes | None) -> int:
    return 0 if data is None else int.from_bytes(data, "big")


# -- recall ---------------------------------------------------------------------------

RECALL_SETTING: Final = b"recall"  # in Table.META
RECALL_ON: Final = b"on/segments"  # the index is kept, in the layout above
RECALL_OFF: Final = b"off"
RECALL_REGION: Final = pack((_RECALL,)).encode()
LEGACY_RECALL_KEYS: Final = (pack((_COUNT, "rn")).encode(), pack((_COUNT, "rl")).encode())
LEGACY_TIME_INDEX: Final = pack(("t",)).encode()
"""Keys of the recall index of an older memkv (``RECALL_SETTING`` ``b"on"``), outside
`RECALL_REGION`: removed when the index is rebuilt."""

DOCUMENTS: Final = pack((_RECALL, "d")).encode()
BY_TIME: Final = pack((_RECALL, "w")).encode()
SEGMENTS: Final = pack((_RECALL, "s")).encode()
POSTINGS: Final = pack((_RECALL, "p")).encode()
GONE: Final = pack((_RECALL, "x")).encode()
DEAD_POSTINGS: Final = pack((_RECALL, "g")).encode()
POSTING_BLOCKS: Final = b"\x00"  # after a segment's postings prefix
LONG_POSTINGS: Final = b"\x01"


def _recall_count(name: str) -> bytes:
    return pack((_RECALL, "n", name)).encode()


RECALL_ENTRIES: Final = _recall_count("entries")  # entries with a token (N)
RECALL_TOKENS: Final = _recall_count("tokens")  # their tokens in all
NEXT_DOCUMENT: Final = _recall_count("next")  # the number the next document gets
FIRST_PENDING: Final = _recall_count("pending")  # documents from here on are in no segment
GONE_PENDING: Final = _recall_count("gone")  # records under GONE

_LONGEST_TERM: Final = 64  # UTF-8 bytes of a term kept as it is in a key
_TERM_HEAD: Final = 24  # UTF-8 bytes kept of a longer term, before its digest
_TIME_OFFSET: Final = 1 << 63
_TIME_TOP: Final = (1 << 64) - 1
_NUMBER: Final = struct.Struct(">Q")


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
def dead_count_key(term: str) -> bytes:
    """The key of the count of postings of ``term`` whose documents are gone."""
    return pack((_RECALL, "g", _term_text(term))).encode()


SHORT_TERM: Final = _LONGEST_TERM // 4  # characters: a term no longer is kept as it is


@functools.lru_cache(maxsize=65536)
def term_text(term: str) -> str:
    """``term`` as documents, postings and their keys hold it."""
    return _term_text(term)


encode_number: Final = _NUMBER.pack
NUMBER_SIZE: Final = _NUMBER.size


def decode_number(data: bytes) -> int:
    return int(_NUMBER.unpack(data)[0])


def document_key(number: int) -> bytes:
    return DOCUMENTS + _NUMBER.pack(number)


def gone_key(number: int) -> bytes:
    return GONE + _NUMBER.pack(number)


def segment_key(first: int) -> bytes:
    return SEGMENTS + _NUMBER.pack(first)


def postings_prefix(first: int) -> bytes:
    """The prefix of every postings key of the segment starting at ``first``."""
    return POSTINGS + _NUMBER.pack(first)


def time_key(timestamp: datetime, raw_key: bytes) -> bytes:
    """The key of an entry in the index by time (newest first, then by key)."""
    return BY_TIME + (_TIME_TOP - _micros(timestamp)).to_bytes(8, "big") + raw_key


TIME_KEY_SKIP: Final = len(BY_TIME) + 8  # bytes before the entry's key
