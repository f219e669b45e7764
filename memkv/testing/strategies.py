"""Hypothesis strategies for code built on memkv: keys (the awkward ones too),
categories, session ids, contents and `MemoryEntry` values that memkv accepts and
gives back unchanged. Each domain package has strategies for its own records beside
it (``sop_audit.strategies`` and so on), built on these.

    import memkv
    from hypothesis import given
    from memkv.testing import strategies as mst

    @given(mst.keys(), mst.contents())
    def test_remembers(key, content):
        with memkv.open(memkv.IN_MEMORY) as memory:  # a fresh store per example
            memory.store(key, content)
            assert memory.get(key).content == content

`texts()` and `text_contents()` draw text for tests of `recall`: words of a small
vocabulary (`WORDS`, so that terms recur across entries), spelt in the ways recall
must treat as one (case, ligatures, fullwidth forms), in English, Chinese, Japanese
and Korean.

Every strategy draws only what memkv accepts (keys of 1 to 256 UTF-8 bytes, names of
1 to 64 bytes without NUL, contents msgspec encodes and decodes to an equal value:
no tuples, which come back as lists, no NaN, which equals nothing).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from hypothesis import strategies as st

from memkv.entry import CONVERSATION, CORE, DAILY, MemoryEntry
from memkv.keys import MAX_KEY_BYTES, MAX_NAME_BYTES, pack

_AWKWARD: Final = "\x00\x01\x02\x7f/ é漢😀\u202e\u0301\ufeff"
INT64_MIN: Final = -(2**63)
UINT64_MAX: Final = 2**64 - 1
_EARLIEST: Final = datetime(1970, 1, 1)
_LATEST: Final = datetime(2200, 1, 1)


def _utf8_at_most(limit: int) -> Any:
    return lambda text: len(text.encode("utf-8")) <= limit


# -- keys and names ----------------------------------------------------------------------


def keys() -> st.SearchStrategy[str]:
    """Valid memkv keys: paths, any text, packed tuples, control characters and NUL,
    right-to-left marks, and keys of exactly `MAX_KEY_BYTES` bytes."""
    return st.one_of(
        st.lists(
            st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=8),
            min_size=1,
            max_size=5,
        ).map("/".join),
        st.text(min_size=1, max_size=MAX_KEY_BYTES // 4),
        st.text(_AWKWARD, min_size=1, max_size=MAX_KEY_BYTES // 4),
        packed_keys(),
        st.sampled_from(["k", "é", "漢", "😀"]).map(
            lambda char: char * (MAX_KEY_BYTES // len(char.encode("utf-8")))
        ),
    )


def packed_keys() -> st.SearchStrategy[str]:
    """Keys made with `memkv.keys.pack` from tuples of strings and integers."""
    part = st.one_of(st.text(max_size=12), st.integers(-(2**64), 2**64))
    return (
        st.lists(part, min_size=1, max_size=5)
        .map(lambda parts: pack(tuple(parts)))
        .filter(_utf8_at_most(MAX_KEY_BYTES))
    )


def names() -> st.SearchStrategy[str]:
    """Valid category and session names: 1 to `MAX_NAME_BYTES` bytes, no NUL."""
    return st.one_of(
        st.sampled_from([CORE, DAILY, CONVERSATION]),
        st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=16),
        st.text(
            st.characters(codec="utf-8", exclude_characters="\x00"),
            min_size=1,
            max_size=MAX_NAME_BYTES,
        ).filter(_utf8_at_most(MAX_NAME_BYTES)),
    )


def categories() -> st.SearchStrategy[str]:
    return names()


def session_ids() -> st.SearchStrategy[str | None]:
    """Session ids, or ``None`` (no session)."""
    return st.none() | names()


# -- contents and entries ------------------------------------------------------------------


def utc_datetimes() -> st.SearchStrategy[datetime]:
    return st.datetimes(_EARLIEST, _LATEST, timezones=st.just(UTC))


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(INT64_MIN, UINT64_MAX),
        st.floats(allow_nan=False),
        st.text(),
        st.binary(),
        utc_datetimes(),
    )


def contents(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Contents that round-trip: scalars, lists and string-keyed maps of them."""
    return st.recursive(
        scalars(),
        lambda inner: (
            st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
        ),
        max_leaves=max_leaves,
    )


def entry_ids() -> st.SearchStrategy[str]:
    return st.text("0123456789abcdef", min_size=32, max_size=32)


def entries(content: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[MemoryEntry[Any]]:
    """`MemoryEntry` values as memkv stores them (``score`` unset)."""
    return st.builds(
        MemoryEntry,
        id=entry_ids(),
        key=keys(),
        content=contents() if content is None else content,
        category=categories(),
        timestamp=utc_datetimes(),
        session_id=session_ids(),
    )


# -- text, for recall ---------------------------------------------------------------------

WORDS: Final = (
    "apple",
    "Apple",
    "APPLES",
    "banana",
    "cherry",
    "fig",
    "\ufb01g",  # the ligature "fi": NFKC makes it "fig"
    "\uff26\uff49\uff47",  # fullwidth "Fig"
    "Stra\u00dfe",  # casefolds to "strasse"
    "STRASSE",
    "nai\u0308ve",  # decomposed: NFKC composes it to "na\u00efve"
    "na\u00efve",
    "2024",
    "run_1",
    "東京",
    "東京タワー",
    "京都",
    "タワー",
    "ﾀﾜｰ",  # halfwidth katakana: NFKC makes it "タワー"
    "北京大学",
    "北京",
    "人々",
    "서울",
    "김치",
    "서울에서",
)
"""The vocabulary of `texts`: repeated words, and the same word written differently."""

_SEPARATORS: Final = (" ", " ", "  ", ", ", ". ", "\n", "-", "/", "'", "、", "。", "\u3000", "")


def words() -> st.SearchStrategy[str]:
    """One word of `WORDS`."""
    return st.sampled_from(WORDS)


def texts(min_words: int = 0, max_words: int = 8) -> st.SearchStrategy[str]:
    """Text of ``min_words`` to ``max_words`` words of `WORDS`, each followed by a
    separator: spaces, punctuation (ASCII and CJK), a newline, or nothing (so that two
    words make one: "apple東京")."""
    return st.lists(
        st.tuples(words(), st.sampled_from(_SEPARATORS)), min_size=min_words, max_size=max_words
    ).map(lambda pairs: "".join(word + separator for word, separator in pairs))


def text_contents(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Contents that carry text where recall looks for it (a string; strings in lists
    and in the values of maps, at any depth) and where it must not (map keys that are
    words, bytes of a word, numbers). They round-trip, as `contents` do."""
    leaves = st.one_of(
        texts(),
        texts(min_words=1),
        words().map(str.encode),
        st.integers(INT64_MIN, UINT64_MAX),
        st.none(),
    )
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(words(), inner, max_size=4),
        max_leaves=max_leaves,
    )


# -- for records built on memkv -------------------------------------------------------------


def ids() -> st.SearchStrategy[str]:
    """Identifiers for domain records: non-empty, at most 96 UTF-8 bytes (so that the
    keys built from two of them fit)."""
    return st.text(min_size=1, max_size=24)


def iso8601() -> st.SearchStrategy[str]:
    """Times as ISO 8601 text in UTC (``2026-11-23T09:00:00Z``), as records of
    systems written in other languages keep them."""
    return st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1)).map(
        lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    )


__all__ = [
    "INT64_MIN",
    "UINT64_MAX",
    "WORDS",
    "categories",
    "contents",
    "entries",
    "entry_ids",
    "ids",
    "iso8601",
    "keys",
    "names",
    "packed_keys",
    "scalars",
    "session_ids",
    "text_contents",
    "texts",
    "utc_datetimes",
    "words",
]
