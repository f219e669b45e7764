"""How the recall index is kept (`memkv.recall.writing`): what a write costs it, its
segments made and merged, documents gone from them, damage found by `verify` and
mended by `repair`, and the index of an older memkv rebuilt.

The state machine of ``test_recall.py`` holds the answers of every tuning against
the BM25 model; these tests look at the index itself.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import pytest

import memkv
from memkv import layout
from memkv.backends.base import Table, WriteTxn
from memkv.keys import pack, prefix_end
from memkv.recall import records, writing
from tests.conftest import open_backend
from tests.memkv.bm25_model import RecallModel, Row
from tests.memkv.helpers import raises_naming
from tests.memkv.test_recall import check, model_of

WORDS: Final = [f"w{i}" for i in range(300)]
SMALL: Final = writing.Tuning(flush_at=4, fanout=2, largest_class=3)


@pytest.fixture
def small_segments() -> Iterator[writing.Tuning]:
    """Segments after 4 pending documents, merged two at a time."""
    writing.TUNING = SMALL
    yield SMALL
    writing.TUNING = writing.Tuning()


def index_keys(memory: memkv.Memory, prefix: bytes = layout.RECALL_REGION) -> dict[bytes, bytes]:
    return dict(memory.backend.read(lambda txn: txn.scan(Table.INDEX, prefix, prefix_end(prefix))))


def segments(memory: memkv.Memory) -> list[records.Segment]:
    return memory.backend.read(records.load_segments)


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def test_a_write_touches_a_few_index_keys_whatever_its_text(memory: memkv.Memory) -> None:
    """The cost that makes the index cheap to keep: a store adds its document, its place
    by time and two counts, for 3 words or 300; no posting until a segment is made."""
    memory.store("first", "some words to start with")
    for count in (3, 300):
        before = index_keys(memory)
        memory.store(f"note-{count}", " ".join(WORDS[:count]))
        after = index_keys(memory)
        changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
        assert {key[: len(layout.DOCUMENTS)] for key in changed} <= {
            layout.DOCUMENTS,
            layout.BY_TIME,
            pack(("r", "n")).encode(),  # the counts' common prefix
        }
        assert len(changed) == 5  # document, time, entries, tokens, next number
    assert segments(memory) == []
    assert [entry.key for entry in memory.recall("w299")] == ["note-300"]


def test_pending_documents_become_segments_that_merge(
    memory: memkv.Memory, small_segments: writing.Tuning
) -> None:
    rng = random.Random(7)
    model = RecallModel()
    for i in range(200):
        entry = memory.store(f"m{i:03d}", text(rng, rng.randint(1, 12)))
        model.store(Row(entry.key, entry.content, entry.category, None, entry.timestamp))
    made = segments(memory)
    # 200 documents, merged two by two up to the largest class (4 * 2**3 = 32 or more)
    assert 2 <= len(made) <= 12
    assert sum(segment.head.documents for segment in made) <= 200
    assert [segment.first for segment in made] == sorted(segment.first for segment in made)
    for query in ("w1", "w2 w3", "w10 w20 w30 w299", "m042"):
        check(memory.recall(query, limit=20), model, query, 20)
    assert memory.verify() == []


def test_documents_gone_from_segments_are_found_no_more(
    memory: memkv.Memory, small_segments: writing.Tuning
) -> None:
    rng = random.Random(8)
    for i in range(120):
        memory.store(f"m{i:03d}", text(rng, 8))
    for i in range(0, 120, 3):
        memory.forget(f"m{i:03d}")
    for i in range(1, 120, 3):
        memory.store(f"m{i:03d}", text(rng, 8) + " replaced")
    model = model_of(memory)
    for query in ("replaced", "w5 w6", "w7 replaced", "m003"):
        check(memory.recall(query, limit=50), model, query, 50)
    assert memory.verify() == []
    for i in range(120):  # everything gone: the segments go too
        memory.forget(f"m{i:03d}")
    memory.transact(lambda tx: [tx.store(f"x{i}", "fresh") for i in range(8)])
    assert sum(segment.head.documents for segment in segments(memory)) <= 8
    assert [entry.key for entry in memory.recall("w5")] == []
    assert memory.verify() == []


def test_a_segment_mostly_gone_is_rewritten(
    memory: memkv.Memory, small_segments: writing.Tuning
) -> None:
    memory.transact(lambda tx: [tx.store(f"k{i:02d}", f"common w{i}") for i in range(40)])
    memory.store("flush", "now")  # 41 pending: one segment of 40... and a merge
    for i in range(30):
        memory.forget(f"k{i:02d}")
    for i in range(4):  # enough removals to bring the segments up to date
        memory.store(f"late{i}", "late")
    held = segments(memory)
    for segment in held:  # none keeps more gone documents than it holds
        gone = int.from_bytes(segment.head.gone, "little").bit_count()
        assert gone <= segment.head.documents
    found = [entry.key for entry in memory.recall("common", limit=100)]
    assert found == [f"k{i:02d}" for i in range(30, 40)]
    assert memory.verify() == []


def lose(prefix: bytes) -> Callable[[WriteTxn], None]:
    """Damage: the first index key under ``prefix`` is lost."""

    def damage(txn: WriteTxn) -> None:
        key = txn.scan(Table.INDEX, prefix, prefix_end(prefix), limit=1, keys_only=True)[0][0]
        txn.delete(Table.INDEX, key)

    return damage


def count_a_dead_posting_too_many(txn: WriteTxn) -> None:
    key = layout.dead_count_key("w1")
    txn.put(
        Table.INDEX, key, layout.encode_count(layout.decode_count(txn.get(Table.INDEX, key)) + 1)
    )


DAMAGE: Final = {
    "a posting lost": lose(layout.POSTINGS),
    "a document lost": lose(layout.DOCUMENTS),
    "a place by time lost": lose(layout.BY_TIME),
    "a segment lost": lose(layout.SEGMENTS),
    "a dead posting counted": count_a_dead_posting_too_many,
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_verify_finds_damage_and_repair_rebuilds(
    backend_name: str, tmp_path: Path, damage: str, small_segments: writing.Tuning
) -> None:
    rng = random.Random(9)
    with open_backend(backend_name, tmp_path) as memory:
        for i in range(30):
            memory.store(f"m{i:02d}", text(rng, 6))
        memory.forget("m07")
        model = model_of(memory)
        memory.backend.write(DAMAGE[damage])
        problems = memory.verify()
        assert problems
        assert all("recall" in problem for problem in problems), problems
        done = memory.repair()
        assert any("rebuilt the recall index" in line for line in done), done
        assert memory.verify() == []
        for query in ("w1 w2", "w3", "m12"):
            check(memory.recall(query, limit=30), model, query, 30)
        memory.store("after", "w1 after the repair")  # and it is kept up to date from there
        assert memory.recall("after")[0].key == "after"
        assert memory.verify() == []


def test_the_index_of_an_older_memkv_is_rebuilt(tmp_path: Path) -> None:
    """A store whose recall index an older memkv wrote (one posting per term and
    entry, setting ``b"on"``): a read-only open says so, a writable one rebuilds it."""
    path = tmp_path / "s"
    with memkv.open(path) as memory:
        memory.store("a", "the quick brown fox")
        memory.store("b", "a lazy dog")

        def older(txn: WriteTxn) -> None:
            for key, _ in txn.scan(Table.INDEX, layout.RECALL_REGION, None, keys_only=True):
                if key.startswith(layout.RECALL_REGION):
                    txn.delete(Table.INDEX, key)
            txn.put(Table.INDEX, pack(("r", "fox")).encode() + b"a", b"\0\0\0\1\0\0\0\4")
            txn.put(Table.INDEX, layout.LEGACY_RECALL_KEYS[0], layout.encode_count(2))
            txn.put(Table.INDEX, layout.LEGACY_TIME_INDEX + bytes(8) + b"a", b"")
            txn.put(Table.META, layout.RECALL_SETTING, b"on")

        memory.backend.write(older)
    with memkv.open(path, readonly=True) as memory:
        raises_naming(memkv.InvalidArgument, "not built yet", lambda: memory.recall("fox"))
    with memkv.open(path) as memory:
        assert [entry.key for entry in memory.recall("fox")] == ["a"]
        assert memory.verify() == []
        leftovers = memory.backend.read(
            lambda txn: [
                key
                for key, _ in txn.scan(Table.INDEX, b"", None, keys_only=True)
                if key.startswith((layout.LEGACY_TIME_INDEX, *layout.LEGACY_RECALL_KEYS))
                or key.startswith(pack(("r", "fox")).encode())
            ]
        )
        assert leftovers == []
