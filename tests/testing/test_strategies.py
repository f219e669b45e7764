"""`memkv.testing.strategies` draws only what memkv accepts, and memkv gives it back unchanged:
through `Memory` (every backend) and the entry codec. Each domain package's strategies
are tested beside its other tests (``tests/sop_audit/test_strategies.py``, ...)."""

from __future__ import annotations

import re
import unicodedata
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


# -- text, for recall ------------------------------------------------------------------------


@given(content=mst.text_contents(), text=mst.texts())
def test_text_contents_come_back_unchanged(store: memkv.Memory, content: Any, text: str) -> None:
    store.store("text", content)
    store.store("text/2", text)
    assert [entry.content for entry in store.list(prefix="text")] == [content, text]
    assert store.forget("text")
    assert store.forget("text/2")


@given(mst.texts(min_words=1))
def test_texts_of_a_word_or_more_have_a_word_character(text: str) -> None:
    assert re.search(r"\w", text)


def test_words_recur_in_other_spellings() -> None:
    """Several words of the vocabulary are one term to recall (NFKC, casefold)."""
    terms = {unicodedata.normalize("NFKC", word).casefold() for word in mst.WORDS}
    assert len(terms) < len(mst.WORDS)
    assert {"fig", "strasse", "na\u00efve", "タワー"} <= terms


def _has_cjk(text: str) -> bool:
    return any(0x3040 <= ord(char) <= 0x9FFF or 0xAC00 <= ord(char) <= 0xD7AF for char in text)


@pytest.mark.parametrize(
    "edge",
    [
        lambda text: _has_cjk(text) and re.search("[a-z]", text),
        lambda text: re.search("[a-z][東京]", text),  # two words run together
        lambda text: text == "",
        lambda text: len(re.findall("apple", text, re.IGNORECASE)) >= 2,
    ],
    ids=["CJK and Latin", "words run together", "empty", "a word twice"],
)
def test_texts_reach_their_edges(edge: Any) -> None:
    assert edge(find(mst.texts(), edge, settings=settings(database=None, max_examples=2000)))


def _strings_under_keys(content: Any, depth: int = 0) -> list[tuple[int, str]]:
    if isinstance(content, str):
        return [(depth, content)]
    if isinstance(content, dict):
        return [
            pair for value in content.values() for pair in _strings_under_keys(value, depth + 1)
        ]
    if isinstance(content, list):
        return [pair for item in content for pair in _strings_under_keys(item, depth + 1)]
    return []


@pytest.mark.parametrize(
    "edge",
    [
        lambda content: isinstance(content, dict) and any(key in mst.WORDS for key in content),
        lambda content: any(depth >= 2 and text for depth, text in _strings_under_keys(content)),
        lambda content: isinstance(content, list) and any(isinstance(i, bytes) for i in content),
    ],
    ids=["word as a map key", "text two levels down", "bytes"],
)
def test_text_contents_reach_their_edges(edge: Any) -> None:
    assert edge(
        find(mst.text_contents(), edge, settings=settings(database=None, max_examples=2000))
    )


def unpack_or_empty(key: str) -> tuple[object, ...]:
    try:
        return unpack(key)
    except memkv.InvalidKey:
        return ()
