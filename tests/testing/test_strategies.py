"""`memkv.testing.strategies` draws only what memkv accepts, and memkv gives it back unchanged:
through `Memory` (every backend) and the entry codec. Each domain package's strategies
are tested beside its other tests (``tests/sop_audit/test_strategies.py``, ...)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import find, given, settings
from hypothesis.errors import NoSuchExample

import memkv
from memkv.entry import decode_entry, encode_entry
from memkv.keys import MAX_KEY_BYTES, MAX_NAME_BYTES, unpack
from memkv.testing import strategies as mst
from tests.conftest import BACKENDS, open_backend

# One store per backend for the whole module: hypothesis runs many examples per test.


@pytest.fixture(scope="module", params=BACKENDS)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[memkv.Memory]:
    with open_backend(request.param, tmp_path_factory.mktemp("strategies")) as memory:
        yield memory


@given(key=mst.keys(), content=mst.contents(), category=mst.categories(), session=mst.session_ids())
def test_stored_values_come_back_unchanged(
    store: memkv.Memory, key: str, content: Any, category: str, session: str | None
) -> None:
    assert 1 <= len(key.encode("utf-8")) <= MAX_KEY_BYTES
    assert 1 <= len(category.encode("utf-8")) <= MAX_NAME_BYTES
    store.store(key, content, category, session)
    entry = store.get(key)
    assert entry is not None
    assert (entry.key, entry.content, entry.category, entry.session_id) == (
        key,
        content,
        category,
        session,
    )
    assert key in store.keys(category, session)
    assert store.forget(key)


@given(mst.packed_keys())
def test_packed_keys_unpack(key: str) -> None:
    assert unpack(key)  # a packed tuple, whole


@given(mst.entries())
def test_entries_survive_their_stored_form(entry: memkv.MemoryEntry[Any]) -> None:
    assert decode_entry(entry.key, encode_entry(entry)) == entry


@pytest.mark.parametrize(
    "edge",
    [
        lambda key: len(key.encode("utf-8")) == MAX_KEY_BYTES,
        lambda key: "\x00" in key,
        lambda key: "\u202e" in key,
        lambda key: len(unpack_or_empty(key)) >= 3,
    ],
    ids=["at the byte limit", "with NUL", "right-to-left", "packed tuple"],
)
def test_awkward_keys_are_drawn(edge: Any) -> None:
    """The key strategy reaches the edges (`find` raises if it cannot)."""
    assert edge(find(mst.keys(), edge, settings=settings(database=None, max_examples=2000)))


def test_names_are_never_lone_surrogates() -> None:
    """memkv refuses a category or session id that UTF-8 cannot encode."""

    def not_encodable(name: str) -> bool:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False

    with pytest.raises(NoSuchExample):
        find(mst.names(), not_encodable, settings=settings(database=None, max_examples=2000))


def unpack_or_empty(key: str) -> tuple[object, ...]:
    try:
        return unpack(key)
    except memkv.InvalidKey:
        return ()
