"""The memory entry, its built-in categories, and its stored (encoded) form."""

from __future__ import annotations

import functools
import os
import time
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from memkv.errors import CorruptRecord, InvalidArgument, InvalidContent, TypeMismatch

CORE: Final = "core"
"""Long-lived facts and preferences (revka's ``MemoryCategory::Core``)."""
DAILY: Final = "daily"
"""Session notes of the day (``MemoryCategory::Daily``)."""
CONVERSATION: Final = "conversation"
"""Conversation context (``MemoryCategory::Conversation``)."""


class MemoryEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One stored memory.

    ``id`` is assigned when the key is first stored and kept by later upserts;
    ``timestamp`` is the time of the last write (UTC); ``score`` is for search
    results and ``None`` for entries read by key or listed.
    """

    id: str
    key: str
    content: Any
    category: str
    timestamp: datetime
    session_id: str | None = None
    score: float | None = None


class StoredRecord(msgspec.Struct, frozen=True, array_like=True):
    """The encoded form of an entry (a msgpack array; the order of fields is the
    on-disk format: append new fields with defaults, never reorder)."""

    key: str
    id: str
    category: str
    timestamp: datetime
    session_id: str | None
    content: msgspec.Raw


_record_encoder: Final = msgspec.msgpack.Encoder()
_record_decoder: Final = msgspec.msgpack.Decoder(StoredRecord)
_content_decoder: Final = msgspec.msgpack.Decoder()


def new_entry_id() -> str:
    """A time-ordered unique id: 48 bits of Unix milliseconds, 80 random bits."""
    millis = time.time_ns() // 1_000_000
    return (millis.to_bytes(6, "big") + os.urandom(10)).hex()


def now() -> datetime:
    return datetime.now(UTC)


def encode_content(key: str, content: object) -> msgspec.Raw:
    """Encode a content value once, for the record and the index copy.

    Raises:
        InvalidContent: msgspec cannot encode ``content`` (names ``key``).
    """
    try:
        return msgspec.Raw(_record_encoder.encode(content))
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidContent(
            f"content for key {key!r} cannot be encoded ({type(content).__name__}): {exc}"
        ) from exc


def encode_record(record: StoredRecord) -> bytes:
    return _record_encoder.encode(record)


def decode_record(key: str, data: bytes) -> StoredRecord:
    """Decode a stored record.

    Raises:
        CorruptRecord: the bytes are not a record, or belong to another key.
    """
    try:
        record = _record_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise CorruptRecord(f"record for key {key!r} is corrupt: {exc}", key=key) from exc
    if record.key != key:
        raise CorruptRecord(
            f"record stored under key {key!r} names another key {record.key!r}", key=key
        )
    return record


def to_entry(record: StoredRecord, content_type: Any = None) -> MemoryEntry:
    """Build the public entry, decoding the content (into ``content_type`` if given).

    Raises:
        CorruptRecord: the content bytes are not valid msgpack.
        TypeMismatch: the content does not fit ``content_type``.
    """
    return MemoryEntry(
        id=record.id,
        key=record.key,
        content=decode_content(record.key, record.content, content_type),
        category=record.category,
        timestamp=record.timestamp,
        session_id=record.session_id,
    )


def decode_content(key: str, raw: msgspec.Raw, content_type: Any = None) -> Any:
    if content_type is None:
        try:
            return _content_decoder.decode(raw)
        except msgspec.DecodeError as exc:
            raise CorruptRecord(f"content of key {key!r} is corrupt: {exc}", key=key) from exc
    decoder = content_decoder(content_type)
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise TypeMismatch(
            f"content of key {key!r} does not decode as {_type_name(content_type)}: {exc}",
            key=key,
        ) from exc
    except msgspec.DecodeError as exc:
        raise CorruptRecord(f"content of key {key!r} is corrupt: {exc}", key=key) from exc


def content_decoder(content_type: Any) -> msgspec.msgpack.Decoder[Any]:
    """The decoder for ``type=``, made once per type, as msgspec advises.

    Raises:
        InvalidArgument: msgspec does not support ``content_type`` as a type.
    """
    try:
        return _cached_decoder(content_type)
    except TypeError as exc:  # unhashable, or not a type msgspec supports
        raise InvalidArgument(f"type={content_type!r} is not a type msgspec can decode") from exc


@functools.lru_cache(maxsize=256)
def _cached_decoder(content_type: Any) -> msgspec.msgpack.Decoder[Any]:
    return msgspec.msgpack.Decoder(content_type)


def _type_name(content_type: Any) -> str:
    return getattr(content_type, "__name__", None) or repr(content_type)
