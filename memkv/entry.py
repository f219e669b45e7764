"""The memory entry, its built-in categories, and its encoded form.

An entry is stored as the msgpack encoding of the `MemoryEntry` itself (a map, with
``session_id`` and ``score`` omitted when unset), so that a read is one msgspec
decode straight into the entry, and ``get(key, type=T)`` one decode into
``MemoryEntry[T]``. Schema evolution follows msgspec's rules: new fields get
defaults, no field changes type; ``tests/memkv/test_entry.py`` keeps a golden record.

Every record carries a CRC-32C of itself, so that a record altered in storage (LMDB
keeps no checksums) is `CorruptRecord` on read, never a wrong answer. The map is
written with a 16-bit count (``0xde``, where msgspec writes a one-byte count for the
entry's few fields) and ends with one more field, ``crc32c``: 4 bytes chosen so that
the CRC-32C of the whole record is the constant `RESIDUE`. A check is then one
CRC-32C (google-crc32c: the CPU's instruction, twice as fast as ``zlib.crc32``) of
the record as stored, and the decode stays one msgspec call, which skips the unknown
field (earlier memkv reads these records too). A record that starts otherwise was
written before checksums, and is read unchecked.
"""

from __future__ import annotations

import enum
import functools
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, Generic, TypeVar

import google_crc32c
import msgspec

from memkv import forking
from memkv.clock import SYSTEM_CLOCK
from memkv.errors import CorruptRecord, InvalidArgument, InvalidContent, TypeMismatch
from memkv.keys import quote_key

CORE: Final = "core"
"""Long-lived facts and preferences (revka's ``MemoryCategory::Core``)."""
DAILY: Final = "daily"
"""Session notes of the day (``MemoryCategory::Daily``)."""
CONVERSATION: Final = "conversation"
"""Conversation context (``MemoryCategory::Conversation``)."""

ContentT = TypeVar("ContentT")
RecordT = TypeVar("RecordT")


class MemoryEntry(msgspec.Struct, Generic[ContentT], frozen=True, kw_only=True, omit_defaults=True):
    """One stored memory.

    ``id`` is assigned when the key is first stored and kept by later upserts;
    ``timestamp`` is the time of the last write (UTC); ``expires_at`` the moment from
    which the entry is gone (``None``: never; see ``store(..., ttl=)``); ``score`` is
    for search results and ``None`` for entries read by key or listed.
    """

    id: str
    key: str
    content: ContentT
    category: str
    timestamp: datetime
    session_id: str | None = None
    score: float | None = None
    expires_at: datetime | None = None


class EntryHeader(msgspec.Struct, frozen=True):
    """The fields of a stored entry that its indexes depend on, decoded without the
    content (an upsert or a forget needs no more)."""

    id: str
    key: str
    category: str
    timestamp: datetime
    session_id: str | None = None
    expires_at: datetime | None = None


_encoder: Final = msgspec.msgpack.Encoder()
# What encoding raises for content it cannot take: an unsupported type (TypeError), an
# int out of range (OverflowError), a container that holds itself (RecursionError);
# msgspec.EncodeError is a ValueError.
_ENCODE_ERRORS: Final = (TypeError, ValueError, OverflowError, RecursionError)
_entry_decoder: Final = msgspec.msgpack.Decoder(MemoryEntry)
_header_decoder: Final = msgspec.msgpack.Decoder(EntryHeader)

CHECKED: Final = b"\xde"
"""The first byte of a record that carries its checksum (msgpack's map16)."""
RESIDUE: Final = 0x48674BC7
"""The CRC-32C of any bytes followed by their CRC-32C (little-endian): of every record
that carries its checksum, intact."""
_CHECKSUM_FIELD: Final = b"\xa6crc32c\xc4\x04"  # the key "crc32c", then a 4-byte bin
crc32c: Final[Callable[[bytes], int]] = google_crc32c.value
"""The CRC-32C of read-only bytes."""
decode_unchecked: Final = _entry_decoder.decode
"""A record to its `MemoryEntry`, with no check at all: for a caller that checks the
checksum itself (`memkv.cache`'s cold path)."""


class _ChecksumMismatch(ValueError):
    """A record whose bytes do not match its checksum (a ValueError, as msgspec's
    decode errors are, so that every decode path reports it as `CorruptRecord`)."""


def intact(data: bytes) -> bytes:
    """``data``, if it carries no checksum (an earlier memkv's record) or a matching one.

    Raises:
        ValueError: the checksum does not match (made `CorruptRecord` by the callers).
    """
    if crc32c(data) != RESIDUE and data[:1] == CHECKED:
        raise _ChecksumMismatch(f"its checksum does not match its {len(data)} bytes")
    return data


def decode_record(data: bytes) -> MemoryEntry[Any]:
    """A record to its `MemoryEntry`, its checksum checked but not its key
    (`decode_entry` checks both and names the key).

    Raises:
        ValueError: a checksum mismatch, or bytes that are not an entry.
    """
    if crc32c(data) != RESIDUE and data[:1] == CHECKED:
        raise _ChecksumMismatch(f"its checksum does not match its {len(data)} bytes")
    return decode_unchecked(data)


class _IdBits(forking.ChildForkHook):
    """The random bits of entry ids, from a generator of memkv's own: drawing them
    from `random`'s shared generator would move the state that programs seed and
    replay (hypothesis fails a test whose strategies seem to use it, and a background
    writer's ids did). A forked child reseeds it, so that parent and child never
    draw the same ids."""

    def __init__(self) -> None:
        self.getrandbits = random.Random().getrandbits
        forking.register(self)

    def after_fork_in_child(self) -> None:
        self.getrandbits = random.Random().getrandbits


_id_bits: Final = _IdBits()


def new_entry_id(id_prefix: str | None = None) -> str:
    """A time-ordered unique id in 32 hex digits: 48 bits of Unix milliseconds (or
    ``id_prefix``, from `memkv.clock.Clock.reading`), then 80 random bits (see
    `_IdBits`)."""
    if id_prefix is None:
        id_prefix = SYSTEM_CLOCK.reading()[1]
    return id_prefix + format(_id_bits.getrandbits(80), "020x")


def now() -> datetime:
    """The system clock's current time, in UTC."""
    return SYSTEM_CLOCK.now()


def encode_entry(entry: MemoryEntry[Any]) -> bytes:
    """The stored form of ``entry``.

    Raises:
        InvalidContent: msgspec cannot encode the content (names the key).
    """
    record = bytearray(CHECKED + b"\x00")
    try:
        _encoder.encode_into(entry, record, 2)
    except _ENCODE_ERRORS as exc:
        raise InvalidContent(
            f"content for key {entry.key!r} cannot be encoded "
            f"({type(entry.content).__name__}): {exc}"
        ) from exc
    record[2] -= 0x80 - 1  # msgspec's fixmap (0x80 + fields): now the count, plus crc32c
    record += _CHECKSUM_FIELD
    covered = bytes(record)  # crc32c takes read-only bytes
    return covered + crc32c(covered).to_bytes(4, "little")


def decode_entry(key: str, data: bytes, content_type: Any = None) -> MemoryEntry[Any]:
    """Decode a stored entry (its content into ``content_type``, if given).

    Raises:
        CorruptRecord: the bytes are not an entry, or one stored for another key.
        TypeMismatch: the entry is sound but its content does not fit ``content_type``.
    """
    try:
        if content_type is None:
            entry = decode_record(data)
        else:
            entry = entry_decoder(content_type).decode(intact(data))
    except ValueError as exc:  # a checksum mismatch, msgspec.DecodeError, ValidationError...
        if content_type is not None:
            decode_entry(key, data)  # raises CorruptRecord if the record itself is bad
            raise TypeMismatch(
                f"content of key {quote_key(key)} does not decode as "
                f"{_type_name(content_type)}: {exc}",
                key=key,
            ) from exc
        raise CorruptRecord(f"record of key {quote_key(key)} is corrupt: {exc}", key=key) from exc
    if entry.key != key:
        raise CorruptRecord(
            f"record stored at key {quote_key(key)} names key {quote_key(entry.key)}", key=key
        )
    return entry


def decode_entries(
    items: list[tuple[bytes, bytes]], skip: int, content_type: Any = None
) -> list[MemoryEntry[Any]]:
    """Decode the records of a scan (``(storage key, record)`` pairs, the user key
    being the storage key minus its first ``skip`` bytes), in one pass.

    The per-record check that a record names its own key, which `decode_entry`
    makes, is left to `memkv.Memory.verify` here: lists are a hot path.

    Raises:
        CorruptRecord, TypeMismatch: naming the first key that fails.
    """
    decode = (_entry_decoder if content_type is None else entry_decoder(content_type)).decode
    try:
        return [decode(intact(data)) for _, data in items]
    except ValueError:
        for storage_key, data in items:  # find the culprit, for a precise error
            key = storage_key[skip:].decode("utf-8", errors="replace")
            decode_entry(key, data, content_type)
        raise


def decode_header(key: str, data: bytes) -> EntryHeader:
    """Decode the indexed fields of a stored entry (the content is skipped, though
    the checksum covers it).

    Raises:
        CorruptRecord: the checksum does not match, or the fields are missing or
            malformed, or name another key.
    """
    try:
        header = _header_decoder.decode(intact(data))
    except ValueError as exc:  # a checksum mismatch, msgspec.DecodeError, UnicodeDecodeError
        raise CorruptRecord(f"record of key {quote_key(key)} is corrupt: {exc}", key=key) from exc
    if header.key != key:
        raise CorruptRecord(
            f"record stored at key {quote_key(key)} names key {quote_key(header.key)}", key=key
        )
    return header


def convert_content(entry: MemoryEntry[Any], content_type: Any) -> MemoryEntry[Any]:
    """``entry`` with its (already decoded) content converted to ``content_type``.

    Raises:
        TypeMismatch: the content does not fit ``content_type``.
    """
    entry_decoder(content_type)  # InvalidArgument for a type msgspec does not support
    try:
        content = msgspec.convert(entry.content, content_type)
    except msgspec.ValidationError as exc:
        raise TypeMismatch(
            f"content of key {entry.key!r} does not decode as {_type_name(content_type)}: {exc}",
            key=entry.key,
        ) from exc
    return msgspec.structs.replace(entry, content=content)


def entry_decoder(content_type: Any) -> msgspec.msgpack.Decoder[MemoryEntry[Any]]:
    """The decoder for ``type=``, made once per type, as msgspec advises.

    Raises:
        InvalidArgument: msgspec cannot decode into ``content_type``.
    """
    try:
        return _cached_entry_decoder(content_type)
    except Exception as exc:  # unhashable, unsupported, a str msgspec cannot resolve...
        raise InvalidArgument(
            f"type={content_type!r:.80} is not a type msgspec can decode ({exc})"
        ) from exc


@functools.lru_cache(maxsize=256)
def _cached_entry_decoder(content_type: Any) -> msgspec.msgpack.Decoder[MemoryEntry[Any]]:
    return msgspec.msgpack.Decoder(MemoryEntry[content_type])


def check_instance(value: object, record_type: type[RecordT], what: str) -> RecordT:
    """``value``, if it is a ``record_type`` (a Struct); for the write operations of
    the domain packages, which read its fields.

    Raises:
        InvalidArgument: it is not (a dict, say: the message says how to make one);
            ``what`` names the argument.
    """
    if isinstance(value, record_type):
        return value
    name = record_type.__name__
    hint = f"; make one with {name}(**fields)" if isinstance(value, dict) else ""
    raise InvalidArgument(
        f"{what} must be of type {name}, not {type(value).__name__}: {value!r:.100}{hint}"
    )


def check_fits(value: RecordT, content_type: Any, what: str) -> RecordT:
    """``value``, if it reads back as ``content_type`` once stored. msgspec checks
    field types when it decodes, not when a Struct is made: a Struct holding a float
    where it declares an int would be stored, and then every read of it (and of a list
    holding it) would fail as corrupt. Costs an encode and a decode.

    Raises:
        InvalidContent: it would not read back (naming the field), or cannot be
            encoded at all; ``what`` names it.
    """
    try:
        _cached_decoder(content_type).decode(_encoder.encode(value))
    except _ENCODE_ERRORS as exc:  # msgspec.ValidationError is a ValueError too
        raise InvalidContent(
            f"{what} would not read back as {_type_name(content_type)}, so it is not stored: {exc}"
        ) from exc
    return value


def check_record(value: object, record_type: type[RecordT], what: str) -> RecordT:
    """`check_instance`, then `check_fits`: ``value`` is a ``record_type`` whose
    fields hold what they declare.

    Raises:
        InvalidArgument, InvalidContent: as those.
    """
    return check_fits(check_instance(value, record_type, what), record_type, what)


@functools.lru_cache(maxsize=256)
def _cached_decoder(content_type: Any) -> msgspec.msgpack.Decoder[Any]:
    return msgspec.msgpack.Decoder(content_type)


def coerce_member(record: msgspec.Struct, field: str, kind: type[enum.StrEnum]) -> None:
    """For a Struct's ``__post_init__``: turn a plain string given for an enum field
    into the enum's member, so that ``is`` comparisons hold (msgspec converts on
    decoding, not on construction).

    Raises:
        InvalidArgument: the value is not one of the enum's (the message lists them).
    """
    value = getattr(record, field)
    if value.__class__ is kind:
        return
    try:
        member = kind(value)
    except ValueError:
        valid = ", ".join(m.value for m in kind)
        raise InvalidArgument(f"{field} {value!r} is not one of: {valid}") from None
    msgspec.structs.force_setattr(record, field, member)


def _type_name(content_type: Any) -> str:
    return getattr(content_type, "__name__", None) or repr(content_type)
