"""The recall model (`tests.memkv.bm25_model`) on examples worked out by hand: its
tokenizer (normalisation, ``\\w`` runs, CJK bigrams in Chinese, Japanese and Korean),
what it indexes of an entry, its BM25 arithmetic, its order and filters, and the
comparison the recall tests make with it."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from tests.memkv.bm25_model import (
    Hit,
    RecallModel,
    Row,
    as_stored,
    assert_ranking,
    entry_tokens,
    is_cjk,
    query_terms,
    tokens,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def row(key: str, content: Any, at: int = 0, category: str = "core") -> Row:
    return Row(key, as_stored(content), category, None, T0 + timedelta(seconds=at))


# -- tokens ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("run_1 v2.0 don't", ["run_1", "v2", "0", "don", "t"]),  # \w: letters, digits, _
        ("Straße STRASSE", ["strasse", "strasse"]),  # casefold
        # NFKC: a ligature, fullwidth letters, a fraction (1, FRACTION SLASH, 2)
        ("ﬁsh \uff26\uff49\uff47 ½", ["fish", "fig", "1", "2"]),
        ("nai\u0308ve naïve", ["naïve", "naïve"]),  # NFKC composes
        ('"a" NEAR(b c) OR -d*', ["a", "near", "b", "c", "or", "d"]),
        ("'; DROP TABLE kv; --", ["drop", "table", "kv"]),
        ("!!! ... ---", []),
        ("", []),
        ("\ud800ab\udfff", ["ab"]),  # lone surrogates are not word characters
        ("a\x00b\tc", ["a", "b", "c"]),
    ],
)
def test_tokens_of_latin_text(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Japanese: one run of 9 characters, 8 bigrams; "東京" alone is one of them
        ("東京タワーに行った", ["東京", "京タ", "タワ", "ワー", "ーに", "に行", "行っ", "った"]),
        ("東京", ["東京"]),
        ("京", ["京"]),  # a run of one character stays one token
        ("ﾄｳｷｮｳ", ["トウ", "ウキ", "キョ", "ョウ"]),  # halfwidth katakana, after NFKC
        ("東京・大阪", ["東京", "大阪"]),  # the middle dot is not a word character
        ("人々", ["人々"]),  # the iteration mark is CJK
        # Chinese: punctuation splits the runs
        ("我爱北京天安门。", ["我爱", "爱北", "北京", "京天", "天安", "安门"]),
        ("北京\uff0c上海", ["北京", "上海"]),  # a fullwidth comma
        # Korean: Hangul syllables; the space splits words
        ("서울에 갔다", ["서울", "울에", "갔다"]),
        ("김치", ["김치"]),
        # Mixed: inside one \w run, CJK runs are cut, the rest stays whole
        ("iPhone15を買った", ["iphone15", "を買", "買っ", "った"]),
        ("abc東京def京x", ["abc", "東京", "def", "京", "x"]),
        ("ＴＯＫＹＯ東京", ["tokyo", "東京"]),
        # Outside the ranges: Ethiopic is \w but not CJK (one token); U+20000.. is CJK
        ("\u1200\u1201\u1202", ["\u1200\u1201\u1202"]),
        ("\U00020000\U00020001\U00020002", ["\U00020000\U00020001", "\U00020001\U00020002"]),
        ("\u3131\u3134", ["\u1100\u1102"]),  # compatibility jamo: NFKC makes them conjoining
    ],
)
def test_tokens_of_cjk_text(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


@pytest.mark.parametrize(
    ("code", "cjk"),
    [
        (0x10FF, False),
        (0x1100, True),
        (0x11FF, True),
        (0x1200, False),
        (0x3004, False),
        (0x3005, True),
        (0x3007, True),
        (0x3008, False),
        (0x309F, True),
        (0x30A0, True),
        (0x318E, True),
        (0x318F, False),
        (0x4DBF, True),
        (0x4DC0, False),
        (0x9FFF, True),
        (0xA000, False),
        (0xD7FF, True),
        (0xF900, True),
        (0xFB00, False),
        (0x1B16F, True),
        (0x1B170, False),
        (0x3134F, True),
        (0x31350, False),
    ],
)
def test_cjk_ranges_are_inclusive(code: int, cjk: bool) -> None:
    assert is_cjk(chr(code)) is cjk


def test_query_terms_are_distinct_in_order() -> None:
    assert query_terms("Apple banana APPLE apple ﬁg fig") == ["apple", "banana", "fig"]
    assert query_terms("東京 東京タワー") == ["東京", "京タ", "タワ", "ワー"]


class Note(msgspec.Struct):
    title: str
    tags: list[str]
    rank: int


def test_what_an_entry_indexes() -> None:
    """The key as it is; strings in content, recursively in dict values and list
    items; never dict keys, bytes, numbers, booleans or times."""
    content = {
        "apple": "banana",  # the key "apple" is not indexed
        "list": ["cherry", 7, b"date", {"deep": ["elder"]}, None, True],
        "when": T0,
        "n": 1.5,
    }
    assert entry_tokens("fig/1", as_stored(content)) == [
        "fig",
        "1",
        "banana",
        "cherry",
        "elder",
    ]
    assert entry_tokens("k", as_stored(Note("Grape", ["kiwi", "lime"], 3))) == [
        "k",
        "grape",
        "kiwi",
        "lime",
    ]
    assert entry_tokens("-", 42) == []
    assert entry_tokens("-", "東京") == ["東京"]


# -- BM25, worked by hand ---------------------------------------------------------------------

# Keys without word characters, so that the content alone is the text. N = 3 (the
# entry "~" has no token: it counts in neither N nor the mean length), avgdl = 6 / 3.
SMALL = [
    row("!", "apple banana apple", at=1),  # dl 3
    row("?", "banana cherry", at=2, category="daily"),  # dl 2
    row(".", "cherry", at=3),  # dl 1
    row("~", 42, at=4),  # dl 0
]


def test_bm25_of_one_rare_term() -> None:
    # apple: df 1, idf = ln(1 + (3 - 1 + 0.5) / (1 + 0.5)) = ln(8/3)
    # "!": tf 2, dl 3: 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 3 / 2)) = 4.4 / 3.65
    expected = math.log(8 / 3) * 4.4 / 3.65
    hits = RecallModel(SMALL).recall("apple")
    assert [hit.key for hit in hits] == ["!"]
    assert hits[0].score == pytest.approx(expected, rel=1e-12)


def test_bm25_of_two_terms_sums_and_orders() -> None:
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))  # banana and cherry: df 2 each = ln 1.6
    assert idf == pytest.approx(math.log(1.6))
    expected = {
        "?": idf * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 2 / 2)) * 2,  # both terms, dl 2 = avgdl
        ".": idf * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 1 / 2)),  # cherry, dl 1
        "!": idf * 2.2 / (1 + 1.2 * (0.25 + 0.75 * 3 / 2)),  # banana, dl 3
    }
    hits = RecallModel(SMALL).recall("Banana, CHERRY! banana")  # terms: banana, cherry
    assert [hit.key for hit in hits] == ["?", ".", "!"]
    for hit in hits:
        assert hit.score == pytest.approx(expected[hit.key], rel=1e-12)


def test_filters_apply_after_scoring() -> None:
    model = RecallModel(SMALL)
    whole = {hit.key: hit.score for hit in model.recall("banana cherry")}
    only_daily = model.recall("banana cherry", category="daily")
    assert only_daily == [Hit("?", whole["?"])]  # the store-wide score
    between = model.recall(
        "banana cherry", since=T0 + timedelta(seconds=2), until=T0 + timedelta(seconds=3)
    )
    assert between == [Hit("?", whole["?"])]  # since inclusive, until exclusive
    assert model.recall("banana cherry", limit=0) == []
    assert model.recall("banana cherry", limit=2) == [Hit("?", whole["?"]), Hit(".", whole["."])]


def test_equal_scores_order_by_key_bytes() -> None:
    """Keys without word characters and the same content score the same: they come in
    UTF-8 byte order ("\\uffff" is ef bf bf, before "😀", f0 9f 98 80, which UTF-16
    order would put first); then "z!" (7a) before "é" (c3 a9), each one token longer."""
    keys = ["😀", "\uffff", "é", "z!", "-", "¿", "~"]
    model = RecallModel(row(key, "same words", at=i) for i, key in enumerate(keys))
    hits = model.recall("same")
    assert [hit.key for hit in hits] == ["-", "~", "¿", "\uffff", "😀", "z!", "é"]
    assert len({hit.score for hit in hits[:5]}) == 1
    assert len({hit.score for hit in hits[5:]}) == 1


def test_a_query_without_terms_lists_the_newest() -> None:
    rows = [*SMALL, row("a", "x", at=4), row("b", "y", at=4)]  # "~", "a", "b" tie in time
    for query in ("", "  ", "!!! ---", "\ud800"):
        hits = RecallModel(rows).recall(query, limit=4)
        assert hits == [Hit("a", None), Hit("b", None), Hit("~", None), Hit(".", None)]
    model = RecallModel(rows)
    assert model.recall("", category="daily") == [Hit("?", None)]


def test_keys_are_indexed_and_replacing_reindexes() -> None:
    model = RecallModel([row("note/apple", "about fruit"), row("-", "banana")])
    assert [hit.key for hit in model.recall("apple")] == ["note/apple"]
    model.store(row("note/apple", "now about cherry"))
    assert [hit.key for hit in model.recall("cherry")] == ["note/apple"]
    assert model.recall("fruit") == []
    model.forget("note/apple")
    assert model.recall("apple") == []
    # alone in the store: N = 1, df = 1, idf = ln(1 + 0.5 / 1.5), dl = avgdl
    assert model.recall("banana")[0].score == pytest.approx(math.log(4 / 3))


def test_cjk_entries_rank_by_bigrams() -> None:
    model = RecallModel(
        [
            row("ja", "東京タワーに行った"),
            row("zh", "我爱北京天安门"),
            row("ko", "서울에서 김치를 먹었다"),
            row("mix", "東京と京都"),
        ]
    )
    assert {hit.key for hit in model.recall("東京")} == {"ja", "mix"}
    assert [hit.key for hit in model.recall("タワー")] == ["ja"]
    assert [hit.key for hit in model.recall("北京")] == ["zh"]
    assert [hit.key for hit in model.recall("김치")] == ["ko"]
    assert model.recall("京") == []  # a lone character matches only a lone character


# -- the comparison ------------------------------------------------------------------------


def test_assert_ranking_allows_near_ties_in_any_order() -> None:
    expected = [Hit("a", 2.0), Hit("b", 1.0), Hit("c", 1.0 + 1e-12), Hit("d", 0.5)]
    assert_ranking([Hit("a", 2.0), Hit("c", 1.0 + 1e-12), Hit("b", 1.0)], expected, limit=3)
    assert_ranking([Hit("a", 2.0), Hit("b", 1.0 + 1e-12), Hit("c", 1.0)], expected, limit=3)
    assert_ranking([Hit("a", 2.0), Hit("c", 1.0)], expected, limit=2)  # either at the cut
    with pytest.raises(AssertionError):  # a near-tie, but against its own scores
        assert_ranking([Hit("a", 2.0), Hit("c", 1.0), Hit("b", 1.0 + 1e-12)], expected, limit=3)
    with pytest.raises(AssertionError):  # equal scores: keys ascending
        assert_ranking([Hit("a", 2.0), Hit("c", 1.0), Hit("b", 1.0)], expected, limit=3)
    with pytest.raises(AssertionError):
        assert_ranking([Hit("a", 2.0), Hit("d", 0.5)], expected, limit=2)
    with pytest.raises(AssertionError):
        assert_ranking([Hit("b", 1.0), Hit("a", 2.0)], expected, limit=2)  # out of order
    with pytest.raises(AssertionError):
        assert_ranking([Hit("a", 2.0 + 1e-6)], expected, limit=1)  # score too far
    with pytest.raises(AssertionError):
        assert_ranking([Hit("a", 2.0)], expected, limit=2)  # too few
    with pytest.raises(AssertionError):
        assert_ranking([Hit("a", None)], expected, limit=1)  # no score


def test_assert_ranking_of_a_listing_is_exact() -> None:
    expected = [Hit("b", None), Hit("a", None)]
    assert_ranking([Hit("b", None)], expected, limit=1)
    with pytest.raises(AssertionError):
        assert_ranking([Hit("a", None), Hit("b", None)], expected, limit=2)
    with pytest.raises(AssertionError):
        assert_ranking([Hit("b", 1.0), Hit("a", None)], expected, limit=2)
