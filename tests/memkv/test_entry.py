"""The stored form of an entry: pinned by a golden record, decoded strictly."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime

import msgspec
import pytest

import memkv
from memkv.entry import EntryHeader, decode_entry, decode_header, encode_entry, new_entry_id

# An entry as memkv 0.1 writes it. A change to MemoryEntry that cannot read this is a
# format change: it needs a new FORMAT in memkv/backends/lmdb/environment.py and a migration.
GOLDEN = bytes.fromhex(
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


def test_golden_record_decodes() -> None:
    assert decode_entry("user/name", GOLDEN) == GOLDEN_ENTRY
    assert decode_header("user/name", GOLDEN) == EntryHeader(
        id=GOLDEN_ENTRY.id,
        key="user/name",
        category="core",
        timestamp=GOLDEN_ENTRY.timestamp,
        session_id="s1",
    )


def test_encoding_is_stable() -> None:
    assert encode_entry(GOLDEN_ENTRY) == GOLDEN


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
