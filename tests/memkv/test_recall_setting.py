"""Whether a store keeps a recall index: chosen when it is created, kept in it, and
built once for a store made before recall."""

from __future__ import annotations

from pathlib import Path

import pytest

import memkv
from memkv import layout
from memkv.backends.base import Table
from tests.conftest import open_backend
from tests.memkv.helpers import raises_naming


def test_a_store_without_recall_index_says_so_and_stays_so(
    backend_name: str, tmp_path: Path
) -> None:
    with open_backend(backend_name, tmp_path, recall=False) as memory:
        memory.store("note", "hello world")
        raises_naming(memkv.InvalidArgument, "recall=False", lambda: memory.recall("hello"))
        assert memory.verify() == []
        if backend_name == "in-memory":
            return  # a new in-memory store each time: nothing is kept
    with open_backend(backend_name, tmp_path) as memory:  # the store's choice holds
        raises_naming(memkv.InvalidArgument, "recall=False", lambda: memory.recall("hello"))
    with pytest.raises(memkv.InvalidArgument, match="keeps no recall index"):
        open_backend(backend_name, tmp_path, recall=True)


def test_an_empty_store_may_change_its_choice(tmp_path: Path) -> None:
    memkv.open(tmp_path / "s", recall=False).close()
    with memkv.open(tmp_path / "s", recall=True) as memory:
        memory.store("note", "hello world")
        assert [entry.key for entry in memory.recall("hello")] == ["note"]
    with pytest.raises(memkv.InvalidArgument, match="keeps a recall index"):
        memkv.open(tmp_path / "s", recall=False)


def test_a_store_made_before_recall_gets_its_index_when_opened_for_writing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s"
    with memkv.open(path, recall=False) as memory:
        memory.store("a", "the quick brown fox")
        memory.store("b", "a lazy dog", "notes", "s-1")
        memory.backend.write(lambda txn: txn.delete(Table.META, layout.RECALL_SETTING))
    with memkv.open(path, readonly=True) as memory:
        raises_naming(memkv.InvalidArgument, "not built yet", lambda: memory.recall("fox"))
    with memkv.open(path) as memory:
        assert {entry.key for entry in memory.recall("fox dog")} == {"a", "b"}
        assert [entry.key for entry in memory.recall("", limit=1)] == ["b"]  # the newest
        assert memory.verify() == []


def test_the_internal_space_is_never_recalled(memory: memkv.Memory) -> None:
    memory.internal.store("log/1", "hello from a package")
    memory.store("note", "hello from the user")
    assert [entry.key for entry in memory.recall("hello")] == ["note"]
    assert [entry.key for entry in memory.recall("")] == ["note"]
    raises_naming(memkv.InvalidArgument, "internal", lambda: memory.internal.recall("hello"))
    assert memory.verify() == []
