"""The stored form of an entry: pinned by a golden record, decoded strictly, its
checksum checked."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime

import google_crc32c
import msgspec
import pytest

import memkv
from memkv.entry import (
    EntryHeader,
    decode_entries,
    decode_entry,
    decode_header,
    encode_entry,
    new_entry_id,
)

# An entry as memkv writes it since records carry a checksum: the map (with a 16-bit
# count, de 00 07) of the entry's fields, then the field "crc32c" (a6 63 72 63 33 32 63,
# a 4-byte bin c4 04: 9051a17e). A change to MemoryEntry that cannot read this is a
# format change: it needs a new FORMAT in memkv/backends/lmdb/environment.py and a migration.
GOLDEN = bytes.fromhex(
    "de0007a26964d9203031613230393636353436343063643638346230616665626639396334306433"
    "a36b6579a9757365722f6e616d65a7636f6e74656e7482a46e616d65a3416461a47461677392a161"
    "01a863617465676f7279a4636f7265a974696d657374616d70d7ffe2300d806b04744eaa73657373"
    "696f6e5f6964a27331a6637263333263c4049051a17e"
)
# The same entry as memkv 0.1 wrote it, with no checksum: such records still read.
GOLDEN_UNCHECKED = bytes.fromhex(
    "86a26964d9203031613230393636353436343063643638346230616665626639396334306433a36b"
    "6579a9757365722f6e616d65a7636f6e74656e7482a46e616d65a3416461a47461677392a16101a8"
    "63617465676f7279a4636f7265a974696d657374616d70d7ffe2300d806b04744eaa73657373696f"
    "6e5f6964a27331"
)
GOLDEN_ENTRY = memkv.MemoryEntry(
    id="01a2096654640cd684b0afebf99c40d3",
    key="user/name",
    content={"name": "Ada", "tags": ["a", 1]},
    category="core",
    timestamp=datetime(2026, 11, 23, 17, 13, 50, 948700, tzinfo=UTC),
    session_id="s1",
)


@pytest.mark.parametrize("record", [GOLDEN, GOLDEN_UNCHECKED], ids=["checked", "unchecked"])
def test_golden_record_decodes(record: bytes) -> None:
    assert decode_entry("user/name", record) == GOLDEN_ENTRY
    assert decode_header("user/name", record) == EntryHeader(
        id=GOLDEN_ENTRY.id,
        key="user/name",
        category="core",
        timestamp=GOLDEN_ENTRY.timestamp,
        session_id="s1",
    )
    assert decode_entries([(b"user/name", record)], 0) == [GOLDEN_ENTRY]


def test_encoding_is_stable() -> None:
    assert encode_entry(GOLDEN_ENTRY) == GOLDEN


def test_a_record_ends_with_the_crc32c_that_makes_its_own_crc32c_constant() -> None:
    assert GOLDEN[-4:] == google_crc32c.value(GOLDEN[:-4]).to_bytes(4, "little")
    assert google_crc32c.value(GOLDEN) == 0x48674BC7  # the same for every record
    for content in ("", "x" * 70_000, {"n": 2**63 - 1}, [None] * 20):  # counts of every width
        entry = msgspec.structs.replace(GOLDEN_ENTRY, content=content, score=0.5)
        record = encode_entry(entry)
        assert google_crc32c.value(record) == 0x48674BC7
        assert decode_entry("user/name", record) == entry


def test_the_checksum_field_is_skipped_by_a_plain_decoder() -> None:
    """Records with a checksum read with earlier memkv too (it ignores unknown fields)."""
    assert msgspec.msgpack.decode(GOLDEN, type=memkv.MemoryEntry) == GOLDEN_ENTRY


def test_every_single_byte_change_of_a_record_is_corrupt() -> None:
    """All 255 other values of each byte: none decodes, by any of the decode paths."""
    for at in range(len(GOLDEN)):
        for value in range(256):
            if value == GOLDEN[at]:
                continue
            damaged = GOLDEN[:at] + bytes([value]) + GOLDEN[at + 1 :]
            with pytest.raises(memkv.CorruptRecord, match="'user/name'"):
                decode_entry("user/name", damaged)
            with pytest.raises(memkv.CorruptRecord, match="'user/name'"):
                decode_header("user/name", damaged)
            with pytest.raises(memkv.CorruptRecord, match="'user/name'"):
                decode_entries([(b"user/name", damaged)], 0)


def test_a_checksum_mismatch_is_named_as_such() -> None:
    damaged = GOLDEN.replace(b"Ada", b"Eve")
    with pytest.raises(memkv.CorruptRecord, match="'user/name' is corrupt: its checksum"):
        decode_entry("user/name", damaged)
    with pytest.raises(memkv.CorruptRecord, match="checksum"):
        decode_entry("user/name", damaged, dict)  # typed: corrupt, not a type mismatch
    with pytest.raises(memkv.CorruptRecord, match="checksum"):
        decode_header("user/name", damaged)


def test_unset_optional_fields_are_omitted() -> None:
    entry = msgspec.structs.replace(GOLDEN_ENTRY, session_id=None)
    assert b"session_id" not in encode_entry(entry)
    assert b"score" not in encode_entry(entry)


def test_typed_decode_and_mismatch() -> None:
    class Person(msgspec.Struct):
        name: str
        tags: list[str | int]

    typed = decode_entry("user/name", GOLDEN, Person)
    assert typed.content == Person(name="Ada", tags=["a", 1])
    with pytest.raises(memkv.TypeMismatch, match="'user/name'"):
        decode_entry("user/name", GOLDEN, list[int])
    with pytest.raises(memkv.CorruptRecord, match="'user/name'"):
        decode_entry("user/name", GOLDEN[:-3], Person)  # a damaged record is not a mismatch


def test_entry_ids_are_unique_and_time_ordered() -> None:
    ids = [new_entry_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 for i in ids)
    assert ids[0][:12] <= ids[-1][:12]  # the first 48 bits are milliseconds


def test_entry_ids_leave_the_random_module_alone() -> None:
    """A program's (or hypothesis's) seeded `random` is not moved by memkv's writes."""
    random.seed(7)
    state = random.getstate()
    with memkv.open(memkv.IN_MEMORY) as memory:
        memory.store("k", 1)
        memory.insert("other", 2)
    new_entry_id()
    assert random.getstate() == state


def test_a_forked_child_draws_other_ids_than_its_parent() -> None:
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(reader)
        os.write(writer, "".join(new_entry_id("0" * 12) for _ in range(8)).encode())
        os._exit(0)
    os.close(writer)
    parent_ids = {new_entry_id("0" * 12) for _ in range(8)}
    with os.fdopen(reader) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    child_ids = {text[i : i + 32] for i in range(0, len(text), 32)}
    assert len(child_ids) == 8
    assert not parent_ids & child_ids
