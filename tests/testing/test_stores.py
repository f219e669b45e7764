"""`memkv.testing.fresh_memory`: a new, empty store per block, closed and removed when
the block ends (the pytest plugin's ``memkv_fresh_memory`` is tested with pytester in
``test_pytest_plugin.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memkv
from memkv.testing import BACKENDS, fresh_memory
from memkv.testing import strategies as mst
from memkv.testing.stores import Backend


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_block_gets_an_empty_store_that_is_removed_after(
    backend: Backend, tmp_path: Path
) -> None:
    for _ in range(2):
        with fresh_memory(backend, parent=tmp_path) as mem:
            assert mem.backend.name == backend
            assert mem.count() == 0  # nothing of the block before
            mem.store("k", 1)
        assert mem.closed
        assert list(tmp_path.iterdir()) == []


def test_lmdb_is_the_default_in_the_system_temporary_directory() -> None:
    with fresh_memory() as mem:
        assert mem.backend.name == "lmdb"
        store = Path(mem.backend.location)
        assert store.is_dir()
    assert not store.exists()
    assert not store.parent.exists()


def test_the_store_is_closed_and_removed_when_the_block_raises(tmp_path: Path) -> None:
    opened: list[memkv.Memory] = []

    def fail_in_the_block() -> None:
        with fresh_memory(parent=tmp_path) as mem:
            opened.append(mem)
            mem.store("k", 1)
            raise RuntimeError("in the block")

    with pytest.raises(RuntimeError, match="in the block"):
        fail_in_the_block()
    assert opened[0].closed
    assert list(tmp_path.iterdir()) == []


def test_the_block_may_close_the_store_itself(tmp_path: Path) -> None:
    with fresh_memory(parent=tmp_path) as mem:
        mem.close()
    assert list(tmp_path.iterdir()) == []


def test_options_go_to_open() -> None:
    with fresh_memory("in-memory", readonly=True) as mem, pytest.raises(memkv.ReadOnlyStore):
        mem.store("k", 1)


def test_a_bad_backend_or_option_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(memkv.InvalidArgument, match="'postgres'"), fresh_memory("postgres"):  # type: ignore[arg-type]
        pass
    with pytest.raises(memkv.InvalidArgument), fresh_memory(parent=tmp_path, schema="s"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_a_parent_that_cannot_hold_a_store_is_a_memkv_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(memkv.StoreUnavailable, match="missing"), fresh_memory(parent=missing):
        pass


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_store_is_shared_across_hypothesis_examples(backend: Backend, tmp_path: Path) -> None:
    @settings(max_examples=20, database=None)
    @given(keys=st.lists(mst.keys(), min_size=1, max_size=4))
    def remember(keys: list[str]) -> None:
        with fresh_memory(backend, parent=tmp_path) as mem:
            assert mem.count() == 0
            for key in keys:
                mem.store(key, key)
            assert mem.count() == len(set(keys))

    remember()
    assert list(tmp_path.iterdir()) == []
