"""`recall`: ranked search of a store's text, held against a brute-force BM25 model
(`tests.memkv.bm25_model`, no memkv code) on every backend.

* The contract, example by example: what is indexed, BM25 scores and order, limit,
  filters after scoring, time bounds, a query without terms, internal records.
* Chinese, Japanese and Korean text (bigrams), and normalisation.
* Inside transactions and snapshots; a transaction that raises changes nothing.
* `memkv.aio.AsyncMemory.recall`.
* Any query string at all: never raises, always the model's answer.
* A state machine of stores, replaces, forgets and transactions (some raising half
  way) over a small vocabulary, whose recalls must agree with the model at each step;
  the index's segments made after one pending document or a few, and merged two or
  three at a time, as well as by default (`memkv.recall.writing.Tuning`).
* 10,000 memories with 50 planted facts: each is found for its own query; forgotten
  ones never appear.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import math
import random
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final, NamedTuple

import msgspec
import pytest
from hypothesis import Phase, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import memkv
from memkv.aio import AsyncMemory
from memkv.recall import writing
from memkv.testing import strategies as mst
from memkv.views import ReadOperations
from tests import postgres
from tests.conftest import BACKENDS, open_backend
from tests.memkv.bm25_model import (
    Hit,
    RecallModel,
    Row,
    as_stored,
    assert_ranking,
    query_terms,
)
from tests.memkv.helpers import recall, recall_async

Entries = list[memkv.MemoryEntry[Any]]

EAST: Final = timezone(timedelta(hours=5, minutes=30))  # bounds need not be in UTC


def hits(entries: Entries) -> list[Hit]:
    return [Hit(entry.key, entry.score) for entry in entries]


def row_of(entry: memkv.MemoryEntry[Any]) -> Row:
    return Row(entry.key, entry.content, entry.category, entry.session_id, entry.timestamp)


def model_of(memory: memkv.Memory) -> RecallModel:
    """The model of what ``memory`` holds now (its user entries, as `list` reads them)."""
    return RecallModel(row_of(entry) for entry in memory.list())


def same(got: list[Hit], before: list[Hit]) -> None:
    """Two answers to the same query (all of its hits) on the same entries agree: the
    same keys in the same order (near-ties aside), scores close (see `assert_ranking`)."""
    assert_ranking(got, before, len(before) + 1)


def later() -> None:
    """Let the clock move on, so that the next write has a later timestamp."""
    time.sleep(0.002)


def check(
    got: Entries, model: RecallModel, query: str, limit: int | None = None, **filters: Any
) -> None:
    """``got``, a store's answer to ``recall(query, limit, **filters)``, is the model's:
    the same keys in the same order (near-ties aside), close scores, and whole entries
    (content, category, session and time as stored)."""
    assert_ranking(hits(got), model.ranking(query, **filters), 10 if limit is None else limit)
    for entry in got:
        assert row_of(entry) == model.rows[entry.key], f"{entry.key!r} is not as stored"


def agrees(
    view: ReadOperations, model: RecallModel, query: str, limit: int | None = None, **filters: Any
) -> Entries:
    """``view.recall(...)``, checked against the model (see `check`)."""
    got = recall(view, query, limit, **filters)
    check(got, model, query, limit, **filters)
    return got


def fill(memory: memkv.Memory, entries: list[tuple[str, Any, str, str | None]]) -> None:
    """Store ``(key, content, category, session id)`` entries in one transaction."""
    memory.transact(lambda tx: fill_tx(tx, entries))


def fill_tx(tx: memkv.Transaction, entries: list[tuple[str, Any, str, str | None]]) -> None:
    for key, content, category, session in entries:
        tx.store(key, content, category, session)


FRUIT: Final = [
    ("fruit/apple", "An apple a day keeps the doctor away.", "core", "s1"),
    ("fruit/banana", {"text": "Bananas are yellow", "tags": ["banana", "fruit"]}, "core", None),
    ("fruit/cherry", ["cherry pie", "cherry jam and apple jam"], "daily", "s1"),
    (
        "recipes/pie",
        {"title": "Apple pie", "steps": ["peel apple", "bake"], "min": 40},
        "daily",
        "s2",
    ),
    ("note", "remember to buy apples and bananas", "core", "s2"),
    ("numbers", {"apple": 1, "banana": b"apple", "count": 3}, "core", None),  # keys, bytes
]


# -- the contract, example by example --------------------------------------------------------------


def test_recall_ranks_by_bm25_over_keys_and_text(memory: memkv.Memory) -> None:
    fill(memory, FRUIT)
    model = model_of(memory)
    for query in ("apple", "apple pie", "banana", "jam", "fruit", "numbers", "APPLE, Pie!"):
        got = agrees(memory, model, query)
        assert got, query
        assert all(isinstance(entry.score, float) and entry.score > 0 for entry in got)
    # "numbers" holds "apple" only as a map key and in bytes: neither is indexed
    assert "numbers" not in [entry.key for entry in recall(memory, "apple", 100)]
    assert [entry.key for entry in recall(memory, "numbers")] == ["numbers"]  # its key is
    assert recall(memory, "fruit")[0].key == "fruit/banana"


def test_recall_of_words_in_no_entry_is_empty(memory: memkv.Memory) -> None:
    fill(memory, FRUIT)
    assert recall(memory, "zebra") == []
    assert recall(memory, "zebra apple")  # a query term in no entry adds nothing
    agrees(memory, model_of(memory), "zebra apple")


def test_a_query_term_counts_once(memory: memkv.Memory) -> None:
    fill(memory, FRUIT)
    once = hits(recall(memory, "apple pie", 100))
    same(hits(recall(memory, "apple APPLE pie apple", 100)), once)


def test_a_known_score(memory: memkv.Memory) -> None:
    """Worked by hand: three entries with a token (keys without one), N = 3, avgdl = 2;
    "apple" in one of them twice, in 3 tokens: ln(8/3) * 4.4 / 3.65."""
    fill(
        memory,
        [
            ("!", "apple banana apple", "core", None),
            ("?", "banana cherry", "core", None),
            (".", "cherry", "core", None),
            ("~", 42, "core", None),
        ],
    )
    (entry,) = recall(memory, "apple")
    assert entry.key == "!"
    assert entry.score == pytest.approx(math.log(8 / 3) * 4.4 / 3.65, rel=1e-9)


def test_limit(memory: memkv.Memory) -> None:
    fill(memory, [(f"k{i:02d}", f"apple number {i}", "core", None) for i in range(25)])
    model = model_of(memory)
    assert len(recall(memory, "apple")) == 10  # the default
    for limit in (0, 1, 3, 25, 100):
        got = agrees(memory, model, "apple", limit)
        assert len(got) == min(limit, 25)
    assert len(recall(memory, "", 0)) == 0
    assert recall(memory, "apple", limit=0) == []


def test_replacing_reindexes_and_forgetting_removes_at_once(memory: memkv.Memory) -> None:
    fill(memory, FRUIT)
    memory.store("note", "now about cherries only", "core")
    assert "note" not in [entry.key for entry in recall(memory, "bananas", 100)]
    assert "note" in [entry.key for entry in recall(memory, "cherries")]
    agrees(memory, model_of(memory), "apple banana cherries")
    assert memory.forget("fruit/banana")
    assert "fruit/banana" not in [entry.key for entry in recall(memory, "banana", 100)]
    agrees(memory, model_of(memory), "banana fruit")


def test_filters_apply_after_scoring(memory: memkv.Memory) -> None:
    """The statistics are the store's: an entry scores the same with or without a
    filter; the filters only choose among the entries."""
    fill(memory, FRUIT)
    model = model_of(memory)
    whole = {entry.key: entry.score for entry in recall(memory, "apple pie", 100)}
    for filters in (
        {"category": "daily"},
        {"session_id": "s1"},
        {"category": "core", "session_id": "s2"},
        {"category": "nothing"},
        {"prefix": "fruit/"},
        {"prefix": "fruit/", "category": "daily"},
        {"prefix": "recipes/pie"},
        {"prefix": "nothing/"},
    ):
        got = agrees(memory, model, "apple pie", 100, **filters)
        for entry in got:
            assert entry.score == pytest.approx(whole[entry.key], rel=1e-9)
            assert filters.get("category", entry.category) == entry.category
            assert filters.get("session_id", entry.session_id) == entry.session_id
            assert entry.key.startswith(filters.get("prefix", ""))
        newest = model.ranking("", **filters)  # type: ignore[arg-type]
        assert [entry.key for entry in recall(memory, "", 100, **filters)] == [
            hit.key for hit in newest
        ]


def test_since_is_inclusive_and_until_exclusive(memory: memkv.Memory) -> None:
    first = memory.store("a", "apple one")
    later()
    second = memory.store("b", "apple two")
    later()
    third = memory.store("c", "apple three")
    assert first.timestamp < second.timestamp < third.timestamp
    model = model_of(memory)
    moments = [first.timestamp, second.timestamp, third.timestamp]
    for since in [None, *moments]:
        for until in [None, *moments]:
            for query in ("apple", ""):
                agrees(memory, model, query, since=since, until=until)
    only_second = recall(memory, "apple", since=second.timestamp, until=third.timestamp)
    assert [entry.key for entry in only_second] == ["b"]
    # the same instants in another time zone
    agrees(memory, model, "apple", since=second.timestamp.astimezone(EAST))
    agrees(memory, model, "", until=third.timestamp.astimezone(EAST))
    tick = timedelta(microseconds=1)
    agrees(memory, model, "apple", since=third.timestamp + tick)
    agrees(memory, model, "apple", until=first.timestamp - tick)


def test_a_query_without_terms_lists_the_newest(memory: memkv.Memory) -> None:
    fill(memory, FRUIT[:3])  # one transaction: one timestamp, so in key order
    later()
    memory.store("later", "apple")
    later()
    memory.store("latest", 42)  # no text at all: listed all the same
    model = model_of(memory)
    for query in ("", " ", "!!! ... ???", "-*()", "\x00", "\ud800"):
        got = agrees(memory, model, query)
        assert all(entry.score is None for entry in got)
        assert [entry.key for entry in got][:2] == ["latest", "later"]
    assert [entry.key for entry in recall(memory, "", 3)] == ["latest", "later", "fruit/apple"]
    agrees(memory, model, "", 2, category="daily")
    agrees(memory, model, "", 100, session_id="s1")
    agrees(memory, model, "", since=model.rows["later"].timestamp)


def test_equal_scores_come_in_key_order(memory: memkv.Memory) -> None:
    """Keys without word characters, and the same content: equal scores, so UTF-8
    byte order ("\\uffff" before "😀", which UTF-16 and some collations put first;
    "~" before "¿"); a store-wide tie."""
    keys = ["😀", "\uffff", "-", "¿", "~", "!"]
    fill(memory, [(key, "same words here", "core", None) for key in keys])
    got = recall(memory, "same")
    assert [entry.key for entry in got] == ["!", "-", "~", "¿", "\uffff", "😀"]
    assert len({entry.score for entry in got}) == 1
    assert [entry.key for entry in recall(memory, "")] == ["!", "-", "~", "¿", "\uffff", "😀"]


class Note(msgspec.Struct, frozen=True):
    title: str
    tags: list[str]
    stars: int = 0


def test_struct_content_is_indexed_as_the_map_of_its_fields(memory: memkv.Memory) -> None:
    memory.store("n", Note("Grape harvest", ["kiwi", "lime"], 5))
    memory.store("other", "lime and lemon")
    model = model_of(memory)
    assert model.rows["n"].content == as_stored(Note("Grape harvest", ["kiwi", "lime"], 5))
    for query in ("grape", "kiwi lime", "stars", "title"):  # field names are map keys
        agrees(memory, model, query)
    assert recall(memory, "title") == []


def test_long_words_are_terms(memory: memkv.Memory) -> None:
    """A token has no length limit: a word of 600 letters (or a run of CJK giving one
    bigram 599 times) is a term like any other."""
    long_word = "a" * 600
    memory.store("long", f"{long_word} apple {'東' * 600}")
    memory.store("short", "apple")
    model = model_of(memory)
    assert [entry.key for entry in agrees(memory, model, long_word)] == ["long"]
    assert [entry.key for entry in agrees(memory, model, "東東")] == ["long"]
    agrees(memory, model, "apple")


def test_internal_records_are_neither_recalled_nor_counted(memory: memkv.Memory) -> None:
    fill(memory, FRUIT)
    before = hits(recall(memory, "apple banana", 100))
    for i in range(20):
        memory.internal.store(f"internal/{i}", f"apple apple banana {i}", "sop")
    memory.internal.store("fruit/apple", "apple")  # the same key, in the other space
    after = hits(recall(memory, "apple banana", 100))
    same(after, before)  # same keys, same scores: N and df are the user's
    agrees(memory, model_of(memory), "apple banana", 100)
    assert "internal/0" not in [entry.key for entry in recall(memory, "", 100)]


def test_returned_entries_are_whole(memory: memkv.Memory) -> None:
    fill(memory, FRUIT)
    for entry in recall(memory, "apple", 100):
        stored = memory.get(entry.key)
        assert stored is not None
        assert msgspec.structs.replace(entry, score=None) == stored


# -- Chinese, Japanese, Korean ---------------------------------------------------------------------

CJK_NOTES: Final = [
    ("ja/tower", "東京タワーに行った", "daily", "ja"),
    ("ja/kyoto", "京都で抹茶を飲んだ。東京より静かだった", "daily", "ja"),
    ("ja/ramen", {"memo": "ラーメンが好き", "tags": ["食べ物", "ﾗｰﾒﾝ"]}, "core", "ja"),
    ("zh/beijing", "我爱北京天安门", "core", "zh"),
    ("zh/peking", ["北京大学在海淀区", "北京烤鸭很好吃"], "core", "zh"),
    ("ko/seoul", "서울에서 김치를 먹었다", "daily", "ko"),
    ("ko/kimchi", {"recipe": "김치찌개 만들기", "n": 3}, "core", "ko"),
    ("mixed", "iPhone15を買った, then flew to \uff34\uff2f\uff2b\uff39\uff2f", "core", None),
    ("東京/メモ", "a note whose key is Japanese", "core", None),
    ("京", "a lone character", "core", None),
]


@pytest.mark.parametrize(
    ("query", "found"),  # the keys found, the first of them ranked first
    [
        ("東京", ["東京/メモ", "ja/tower", "ja/kyoto"]),  # a bigram of a longer run
        ("東京タワー", ["ja/tower", "ja/kyoto", "東京/メモ"]),  # 東京, 京タ, タワ, ワー
        ("タワー", ["ja/tower"]),
        ("ﾀﾜｰ", ["ja/tower"]),  # halfwidth, after NFKC
        ("ラーメン", ["ja/ramen"]),
        ("抹茶", ["ja/kyoto"]),
        ("北京", ["zh/peking", "zh/beijing"]),  # twice in zh/peking
        ("北京烤鸭", ["zh/peking", "zh/beijing"]),
        ("天安门", ["zh/beijing"]),
        ("김치", ["ko/kimchi", "ko/seoul"]),
        ("서울", ["ko/seoul"]),
        ("김치찌개", ["ko/kimchi", "ko/seoul"]),
        ("iphone15", ["mixed"]),  # the Latin part of a mixed token stays whole
        ("買った", ["mixed", "ja/tower", "ja/kyoto"]),  # 買っ, った (行った, だった)
        ("tokyo", ["mixed"]),  # fullwidth letters, after NFKC
        ("メモ", ["東京/メモ"]),  # keys are indexed, CJK ones too
        ("京", ["京"]),  # one character: only a run of one character
        ("大阪", []),
    ],
)
def test_cjk_text_is_found_by_its_bigrams(
    memory: memkv.Memory, query: str, found: list[str]
) -> None:
    fill(memory, CJK_NOTES)
    got = agrees(memory, model_of(memory), query, 100)
    assert sorted(entry.key for entry in got) == sorted(found)
    if found:
        assert got[0].key == found[0]


def test_cjk_recall_with_filters_and_mixed_queries(memory: memkv.Memory) -> None:
    fill(memory, CJK_NOTES + FRUIT)
    model = model_of(memory)
    for query in ("東京 apple", "北京 서울 ラーメン", "东京", "東京、北京。서울"):
        agrees(memory, model, query, 100)
        agrees(memory, model, query, 3, category="core")
        agrees(memory, model, query, session_id="ja")


# -- inside transactions and snapshots -------------------------------------------------------------


def test_recall_in_a_transaction_sees_its_own_writes(memory: memkv.Memory) -> None:
    fill(memory, FRUIT)

    def work(tx: memkv.Transaction) -> tuple[Entries, Entries, Entries, list[Row]]:
        tx.store("zoo", "a zebra ate an apple", "daily", "s1")
        tx.store("note", "nothing about fruit")  # replaced
        tx.forget("fruit/apple")
        return (
            recall(tx, "zebra"),
            recall(tx, "apple", 100),
            recall(tx, "", 100),
            [row_of(entry) for entry in tx.list()],
        )

    zebra, apple, newest, rows = memory.transact(work)
    model = RecallModel(rows)  # what the transaction held when it recalled
    assert [entry.key for entry in zebra] == ["zoo"]
    check(zebra, model, "zebra")
    check(apple, model, "apple", 100)
    check(newest, model, "", 100)
    assert "fruit/apple" not in [entry.key for entry in apple]
    assert "note" not in [entry.key for entry in apple]
    committed = model_of(memory)
    assert committed.rows == model.rows
    agrees(memory, committed, "zebra apple", 100)


def test_a_transaction_that_raises_leaves_recall_as_before(memory: memkv.Memory) -> None:
    fill(memory, FRUIT)
    queries = ("apple", "banana pie", "zebra", "", "fruit")
    before = [hits(recall(memory, query, 100)) for query in queries]

    def half(tx: memkv.Transaction) -> None:
        tx.store("zoo", "zebra apple apple apple")
        tx.store("fruit/banana", "replaced")
        tx.forget("fruit/apple")
        for i in range(30):
            tx.store(f"more/{i}", "apple pie fruit")
        tx.internal.store("i", "apple")
        assert [entry.key for entry in recall(tx, "zebra")] == ["zoo"]
        raise RuntimeError("half-way")

    with pytest.raises(RuntimeError, match="half-way"):
        memory.transact(half)
    for query, answer in zip(queries, before, strict=True):
        same(hits(recall(memory, query, 100)), answer)
    model = model_of(memory)
    for query in queries:
        agrees(memory, model, query, 100)


def test_recall_in_a_snapshot(memory: memkv.Memory) -> None:
    fill(memory, FRUIT + CJK_NOTES)
    model = model_of(memory)
    for query in ("apple", "東京", "", "banana fruit"):

        def both(view: memkv.Reader, query: str = query) -> tuple[Entries, Entries]:
            return recall(view, query, 5, category="core"), recall(view, query)

        in_core, anywhere = memory.snapshot(both)
        check(in_core, model, query, 5, category="core")
        check(anywhere, model, query)


@pytest.mark.parametrize("backend_name", [name for name in BACKENDS if name != "in-memory"])
def test_recall_after_reopening(backend_name: str, tmp_path: Path) -> None:
    """The index is part of the store: a reopened persistent store recalls the same."""
    queries = ("apple", "東京", "")
    with open_backend(backend_name, tmp_path) as memory:
        fill(memory, FRUIT + CJK_NOTES)
        memory.forget("fruit/cherry")
        memory.store("note", "reopened apples")
        before = [hits(recall(memory, query, 100)) for query in queries]
    with open_backend(backend_name, tmp_path) as memory:
        for query, answer in zip(queries, before, strict=True):
            same(hits(recall(memory, query, 100)), answer)
        agrees(memory, model_of(memory), "apple apples 東京", 100)


# -- asyncio ---------------------------------------------------------------------------------------


def test_async_recall(memory: memkv.Memory) -> None:
    amemory = AsyncMemory(memory)  # closed with ``memory``
    assert inspect.iscoroutinefunction(getattr(AsyncMemory, "recall", None))
    asks: list[tuple[str, int | None, dict[str, Any]]] = [
        ("apple", None, {}),
        ("東京", 3, {}),
        ("", 2, {"category": "daily"}),
        ("pie", None, {"session_id": "s2"}),
    ]

    async def main() -> tuple[Entries, Entries, list[Entries]]:
        await amemory.transact(lambda tx: fill_tx(tx, FRUIT + CJK_NOTES))
        in_transaction = await amemory.transact(lambda tx: recall(tx, "apple"))
        in_snapshot = await amemory.snapshot(lambda view: recall(view, "東京", 3))
        reads = (recall_async(amemory, query, limit, **filters) for query, limit, filters in asks)
        answers, _ = await asyncio.gather(
            asyncio.gather(*reads),
            amemory.store("late", "apple pie"),  # concurrent with the reads
        )
        return in_transaction, in_snapshot, answers

    in_transaction, in_snapshot, answers = asyncio.run(main())
    after = model_of(memory)
    before = after.copy()
    before.forget("late")
    check(in_transaction, before, "apple")
    check(in_snapshot, before, "東京", 3)
    for got, (query, limit, filters) in zip(answers, asks, strict=True):
        try:  # the concurrent store came before or after the read
            check(got, before, query, limit, **filters)
        except AssertionError:
            check(got, after, query, limit, **filters)


# -- any query at all ------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def corpus(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[memkv.Memory, RecallModel]]:
    """A store of 60 entries of `mst.texts` (and internal records), with its model."""
    rng = random.Random(7)
    words = [*mst.WORDS, "near", "or", "and", "not", "drop", "table", "kv", "select"]
    entries = [
        (
            f"doc/{i:02d}",
            " ".join(rng.choices(words, k=rng.randint(0, 12))),
            rng.choice(["core", "daily"]),
            rng.choice([None, "s1"]),
        )
        for i in range(60)
    ]
    with open_backend(request.param, tmp_path_factory.mktemp("recall-corpus")) as memory:
        fill(memory, entries)
        memory.internal.store("internal", "apple near table")
        yield memory, model_of(memory)


NASTY_QUERIES: Final = [
    '"a" NEAR(b c) OR -d*',
    '"apple" OR -fig*',
    "NEAR(apple cherry, 2)",
    "apple AND NOT banana",
    "'; DROP TABLE kv; --",
    "'); DELETE FROM entries WHERE ('1'='1",
    '" OR 1=1 --',
    "title:apple",
    "fig^2 apple~",
    "{apple} [banana] <cherry>",
    "% _ \\ $1 ?",
    "*",
    "-",
    "OR",
    "NEAR",
    "(",
    '"',
    "apple*",
    "\x00",
    "apple\x00banana",
    "\x01\x02\x1b[31m\x7f",
    "\ud800",
    "\udfff apple \udc00",
    "\ufeff\u200b\u202e apple",
    "!!!???...---",
    "\U0010ffff\U000e0001",
    "a" * 10_000,
    "apple " * 1_700,
    " ".join(f"w{i}" for i in range(2_000)),
    "".join(chr(0x4E00 + i) for i in range(10_000)),  # 9,999 distinct bigrams
    "東京" * 5_000,
]

ANY_QUERIES: Final = st.one_of(
    st.text(st.characters(exclude_categories=())),  # lone surrogates too
    st.text(st.characters(codec="utf-8", categories=["P", "S", "Z", "C"])),  # no words
    mst.texts(),
    st.lists(st.sampled_from(NASTY_QUERIES[:25]), max_size=4).map(" ".join),
    st.tuples(st.text(max_size=6), st.integers(1, 1_500)).map(lambda pair: pair[0] * pair[1]),
)


@given(query=ANY_QUERIES, limit=st.integers(0, 70))
@settings(max_examples=60)
@example(query=NASTY_QUERIES[0], limit=10)
def test_any_query_is_plain_text(
    corpus: tuple[memkv.Memory, RecallModel], query: str, limit: int
) -> None:
    """No query raises: quotes, operators, SQL and FTS syntax, control characters,
    lone surrogates, 10,000 characters are all text; and the answer is the model's."""
    memory, model = corpus
    agrees(memory, model, query, limit)


@pytest.mark.parametrize("query", NASTY_QUERIES, ids=range(len(NASTY_QUERIES)))
def test_nasty_queries_are_plain_text(corpus: tuple[memkv.Memory, RecallModel], query: str) -> None:
    memory, model = corpus
    for limit in (10, 100):
        agrees(memory, model, query, limit)
    agrees(memory, model, query, category="daily", session_id="s1")
    same(
        memory.snapshot(lambda view: hits(recall(view, query, 100))),
        hits(recall(memory, query, 100)),
    )
    assert memory.verify() == []


def test_the_nasty_queries_with_words_find_them(
    corpus: tuple[memkv.Memory, RecallModel],
) -> None:
    """Operators are words like any other: "OR", "NEAR", "DROP" find the entries
    holding them, quotes and minus signs change nothing."""
    memory, _ = corpus
    assert query_terms('"a" NEAR(b c) OR -d*') == ["a", "near", "b", "c", "or", "d"]
    near = {entry.key for entry in recall(memory, "near", 100)}
    assert near
    assert {entry.key for entry in recall(memory, '"NEAR"*', 100)} == near
    same(hits(recall(memory, "-drop table", 100)), hits(recall(memory, "drop TABLE", 100)))


# -- the state machine -----------------------------------------------------------------------------

KEYS = st.sampled_from(
    [
        "apple",
        "note/apple",
        "note/fig-2",
        "東京/1",
        "서울",
        "b",
        "-",  # no token: in no N, never recalled, listed by an empty query
        "~",
        "a\x00",
        "Straße",
        "log_2024",
        "z" * 200,
    ]
)
CATEGORIES = st.sampled_from(["core", "daily", "sop"])
SESSIONS = st.none() | st.sampled_from(["s1", "s2"])
CONTENTS = st.one_of(
    mst.texts(min_words=1),
    mst.texts(),
    mst.text_contents(max_leaves=6),
    st.builds(Note, mst.texts(max_words=3), st.lists(mst.words(), max_size=3), st.integers(0, 9)),
    st.integers(0, 9),
)
QUERIES = st.one_of(
    mst.texts(min_words=1, max_words=3),
    mst.texts(min_words=1, max_words=3),
    st.sampled_from(
        [
            "",
            "   ",
            '"apple" OR -fig*',
            "NEAR(apple cherry)",
            "'; DROP TABLE kv; --",
            "京",
            "京タ",
            "ﾀﾜｰ",
            "STRASSE",
            "ﬁg",
            "note",
            "1",
            "z" * 200,
            "東京 서울 apple",
        ]
    ),
    st.text(max_size=4),
)
LIMITS = st.none() | st.integers(0, 14)
# A time bound: the n-th distinct timestamp of the store, moved by -1, 0 or 1 µs,
# perhaps in another time zone.
BOUNDS = st.one_of(
    st.none(), st.none(), st.tuples(st.integers(0, 40), st.sampled_from([-1, 0, 1]), st.booleans())
)
FILTERS = st.fixed_dictionaries(  # each filter left out two times in three
    {
        "category": st.one_of(st.none(), st.none(), CATEGORIES),
        "session_id": st.one_of(st.none(), st.none(), SESSIONS),
        "since": BOUNDS,
        "until": BOUNDS,
    }
)
HOW = st.sampled_from(["memory", "snapshot", "transaction"])
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["store", "forget", "internal"]), KEYS, CONTENTS, CATEGORIES, SESSIONS
    ),
    max_size=5,
)
EPOCH: Final = datetime(2026, 1, 1, tzinfo=UTC)


TUNINGS: Final = st.sampled_from(
    [
        writing.Tuning(flush_at=1, fanout=2, largest_class=2),
        writing.Tuning(flush_at=2, fanout=3, largest_class=3, gone_marked=1),
        writing.Tuning(flush_at=3, fanout=2, largest_class=1),
        writing.Tuning(),
    ]
)
"""How soon the index makes segments and merges them (the default last: few steps
reach its first segment)."""


class HalfWay(Exception):
    """Raised by a transaction function after its writes (and its recall)."""

    def __init__(self, done: list[memkv.MemoryEntry[Any] | str], seen: Entries | None) -> None:
        super().__init__("half-way")
        self.done = done
        self.seen = seen


class RecallAgreesWithModel(RuleBasedStateMachine):
    """A store against the model. `open_store` makes the store under test; a persistent
    one is also closed and reopened at random."""

    persistent = True

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="memkv-recall-"))
        self.memory = self.open_store()
        self.model = RecallModel()

    def open_store(self) -> memkv.Memory:
        return memkv.open(self.directory / "store", map_size=1 << 20, cache_size=8)

    def teardown(self) -> None:
        self.memory.close()
        shutil.rmtree(self.directory, ignore_errors=True)
        writing.TUNING = writing.Tuning()

    def bound(self, drawn: tuple[int, int, bool] | None) -> datetime | None:
        if drawn is None:
            return None
        index, shift, elsewhere = drawn
        times = sorted({row.timestamp for row in self.model.rows.values()}) or [EPOCH]
        moment = times[index % len(times)] + timedelta(microseconds=shift)
        return moment.astimezone(EAST) if elsewhere else moment

    @staticmethod
    def apply(model: RecallModel, done: list[memkv.MemoryEntry[Any] | str]) -> None:
        """Writes a store reported (an entry stored, or the key forgotten) to ``model``."""
        for item in done:
            if isinstance(item, str):
                model.forget(item)
            else:
                model.store(
                    Row(
                        item.key,
                        as_stored(item.content),
                        item.category,
                        item.session_id,
                        item.timestamp,
                    )
                )

    @initialize(
        entries=st.lists(st.tuples(KEYS, CONTENTS, CATEGORIES, SESSIONS), max_size=8),
        tuning=TUNINGS,
    )
    def fill(self, entries: list[tuple[str, Any, str, str | None]], tuning: writing.Tuning) -> None:
        """A store seldom starts empty: some entries, in one transaction."""
        writing.TUNING = tuning
        self.apply(self.model, self.memory.transact(lambda tx: [tx.store(*e) for e in entries]))

    @rule(key=KEYS, content=CONTENTS, category=CATEGORIES, session=SESSIONS)
    def store(self, key: str, content: Any, category: str, session: str | None) -> None:
        self.apply(self.model, [self.memory.store(key, content, category, session)])

    @rule(key=KEYS)
    def forget(self, key: str) -> None:
        self.memory.forget(key)
        self.model.forget(key)

    @rule(key=KEYS, content=CONTENTS, category=CATEGORIES, forget=st.booleans())
    def write_internal(self, key: str, content: Any, category: str, forget: bool) -> None:
        """The internal key space: never recalled, never counted."""
        if forget:
            self.memory.internal.forget(key)
        else:
            self.memory.internal.store(key, content, category)

    @rule(ops=OPERATIONS, query=st.none() | QUERIES, limit=LIMITS, fail=st.booleans())
    def transact(
        self,
        ops: list[tuple[str, str, Any, str, str | None]],
        query: str | None,
        limit: int | None,
        fail: bool,
    ) -> None:
        """Writes in both key spaces, then perhaps a recall, in one transaction, which
        may raise at the end: all or nothing. The recall sees the transaction's writes."""

        def fn(tx: memkv.Transaction) -> tuple[list[memkv.MemoryEntry[Any] | str], Entries | None]:
            done: list[memkv.MemoryEntry[Any] | str] = []
            for kind, key, content, category, session in ops:
                if kind == "store":
                    done.append(tx.store(key, content, category, session))
                elif kind == "forget":
                    tx.forget(key)
                    done.append(key)
                else:
                    tx.internal.store(key, content, category, session)
            seen = None if query is None else recall(tx, query, limit)
            if fail:
                raise HalfWay(done, seen)
            return done, seen

        try:
            done, seen = self.memory.transact(fn)
        except HalfWay as stopped:
            assert fail
            done, seen = stopped.done, stopped.seen
        model = self.model.copy() if fail else self.model  # a failed one: as if inside
        self.apply(model, done)
        if seen is not None:
            assert query is not None
            check(seen, model, query, limit)

    @rule(query=QUERIES, limit=LIMITS, drawn=FILTERS, how=HOW)
    def recall(self, query: str, limit: int | None, drawn: dict[str, Any], how: str) -> None:
        filters = {
            **drawn,
            "since": self.bound(drawn["since"]),
            "until": self.bound(drawn["until"]),
        }
        if how == "memory":
            got = recall(self.memory, query, limit, **filters)
        elif how == "snapshot":
            got = self.memory.snapshot(lambda view: recall(view, query, limit, **filters))
        else:
            got = self.memory.transact(lambda tx: recall(tx, query, limit, **filters))
        check(got, self.model, query, limit, **filters)
        event("recall: " + ("a listing" if not query_terms(query) else f"{min(len(got), 3)}+ hits"))

    @rule(limit=LIMITS, category=st.none() | CATEGORIES, since=BOUNDS)
    def newest(self, limit: int | None, category: str | None, since: Any) -> None:
        got = recall(self.memory, "", limit, category=category, since=self.bound(since))
        check(got, self.model, "", limit, category=category, since=self.bound(since))

    @precondition(lambda self: self.persistent)
    @rule()
    def close_and_reopen(self) -> None:
        self.memory.close()
        self.memory = self.open_store()

    @invariant()
    def holds_what_the_model_holds(self) -> None:
        """The model's input is right: the store holds its rows (so that a
        disagreement above is recall's)."""
        assert {entry.key: row_of(entry) for entry in self.memory.list()} == self.model.rows


class InMemoryRecallAgreesWithModel(RecallAgreesWithModel):
    persistent = False

    def open_store(self) -> memkv.Memory:
        return memkv.open(memkv.IN_MEMORY, cache_size=8)


class PostgresRecallAgreesWithModel(RecallAgreesWithModel):
    def open_store(self) -> memkv.Memory:
        return postgres.open_store(self.directory, cache_size=8)


class VerifiedRecallAgreesWithModel(RecallAgreesWithModel):
    """With `verify` after every step (slower): the recall index is part of what a
    consistent store keeps in step."""

    @invariant()
    def consistent(self) -> None:
        assert self.memory.verify() == []


TestLmdbRecall = VerifiedRecallAgreesWithModel.TestCase
TestLmdbRecall.settings = settings(max_examples=50, stateful_step_count=40)
TestInMemoryRecall = InMemoryRecallAgreesWithModel.TestCase
TestInMemoryRecall.settings = settings(max_examples=80, stateful_step_count=40)
TestPostgresRecall = PostgresRecallAgreesWithModel.TestCase
TestPostgresRecall.settings = settings(max_examples=15, stateful_step_count=30)


@pytest.mark.slow
def test_recall_agreement_long() -> None:
    """The same machines, longer and more often (``pytest -m slow``)."""
    long = settings(max_examples=120, stateful_step_count=60)
    run_state_machine_as_test(VerifiedRecallAgreesWithModel, settings=long)
    run_state_machine_as_test(InMemoryRecallAgreesWithModel, settings=long)
    run_state_machine_as_test(
        PostgresRecallAgreesWithModel, settings=settings(max_examples=30, stateful_step_count=60)
    )


class _SinceExclusive(memkv.Memory):
    """A deliberate bug: ``since`` excludes the entries written at that instant."""

    def recall(
        self,
        query: str,
        limit: int | None = 10,
        *,
        category: str | None = None,
        session_id: str | None = None,
        prefix: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[memkv.MemoryEntry[Any]]:
        if since is not None:
            since += timedelta(microseconds=1)
        return super().recall(
            query,
            limit,
            category=category,
            session_id=session_id,
            prefix=prefix,
            since=since,
            until=until,
        )


class BuggyRecallAgainstModel(InMemoryRecallAgreesWithModel):
    def open_store(self) -> memkv.Memory:
        return _SinceExclusive(memkv.InMemoryBackend(), cache_size=8)


def test_the_model_catches_a_deliberate_bug_in_recall() -> None:
    """The agreement above is not vacuous: the machine draws bounds at the very
    instant of a write, and catches a ``since`` that is off by a microsecond."""
    with pytest.raises(AssertionError):
        run_state_machine_as_test(
            BuggyRecallAgainstModel,
            settings=settings(
                max_examples=300,
                stateful_step_count=30,
                database=None,
                report_multiple_bugs=False,
                phases=[Phase.generate],  # found is enough: no time spent shrinking it
            ),
        )


# -- a needle in 10,000 memories -------------------------------------------------------------------


class Fact(NamedTuple):
    key: str
    content: Any
    session_id: str | None
    query: str


FILLER_SYLLABLES: Final = [c + v for c in "bdfgklmnprst" for v in "aeiou"]
RARE_SYLLABLES: Final = [c + v for c in "jqvxz" for v in "aeiou"]  # never in filler words
CJK_FACTS: Final = [
    ("合言葉は紫陽花の引き出しに隠した", "紫陽花 引き出し"),
    ("我的护照放在蓝色行李箱的夹层里", "护照在哪里\uff1f夹层"),
    ("비밀번호는 해바라기 화분 아래에 있다", "해바라기 화분"),
]
CJK_DECOYS: Final = [
    "紫陽花が咲いた",
    "引き出しを開けた",
    "护照过期了",
    "行李箱很重",
    "해바라기 씨앗",
    "화분에 물을 주다",
]


def haystack(
    seed: int, size: int, facts: int
) -> tuple[list[tuple[str, Any, str, str | None]], list[Fact]]:
    """``size`` memories, of which ``facts`` are planted facts (the last three in
    Japanese, Chinese and Korean), in a random order. A fact holds three rare words
    (each also in three other memories, so the three together are its own), among
    common ones; its query names two of them, with a common word, in other cases."""
    rng = random.Random(seed)
    vocabulary = sorted(
        {"".join(rng.choices(FILLER_SYLLABLES, k=rng.randint(1, 3))) for _ in range(3000)}
    )
    rng.shuffle(vocabulary)
    weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(vocabulary))))

    def sentence(low: int, high: int) -> str:
        words = rng.choices(vocabulary, cum_weights=weights, k=rng.randint(low, high))
        return " ".join(words).capitalize() + rng.choice([".", "!", "?", ""])

    fillers = size - facts - len(CJK_DECOYS)
    texts = [sentence(4, 25) for _ in range(fillers)] + CJK_DECOYS
    planted: list[Fact] = []
    rare_seen: set[str] = set()
    for j in range(facts):
        if j >= facts - len(CJK_FACTS):
            text, query = CJK_FACTS[j - (facts - len(CJK_FACTS))]
        else:
            rare: list[str] = []
            while len(rare) < 3:
                word = "".join(rng.choices(RARE_SYLLABLES, k=3))
                if word not in rare_seen:
                    rare_seen.add(word)
                    rare.append(word)
            for word in rare:  # decoys: each rare word in three other memories
                for index in rng.sample(range(fillers), 3):
                    texts[index] += f" {word}"
            text = f"{sentence(2, 8)} {rare[0]} {sentence(1, 6)} {rare[1]}, {rare[2]}."
            query = f"What about {rare[0].upper()} and {rare[2]}? {rng.choice(vocabulary[:20])}"
        content: Any = text if j % 3 else {"fact": text, "source": "chat", "turn": j}
        planted.append(Fact(f"fact/{j:02d}", content, rng.choice([None, "s1", "s2"]), query))
    entries: list[tuple[str, Any, str, str | None]] = []
    for i, text in enumerate(texts):
        shape = rng.random()
        content = (
            text
            if shape < 0.6
            else {"text": text, "tags": rng.choices(vocabulary[:50], k=2), "turn": i}
            if shape < 0.85
            else text.split(" ", 1)
        )
        entries.append(
            (
                f"mem/{i:05d}",
                content,
                rng.choice(["daily", "conversation"]),
                rng.choice([None, "s1", "s2", "s3"]),
            )
        )
    entries += [(fact.key, fact.content, "core", fact.session_id) for fact in planted]
    rng.shuffle(entries)
    return entries, planted


def needles(memory: memkv.Memory, size: int = 10_000, facts: int = 50, forgotten: int = 10) -> None:
    entries, planted = haystack(seed=2026, size=size, facts=facts)
    for start in range(0, len(entries), 1_000):
        fill(memory, entries[start : start + 1_000])
    assert memory.count() == size
    model = model_of(memory)
    for fact in planted:
        top = agrees(memory, model, fact.query)
        assert fact.key in [entry.key for entry in top[:3]], (fact.query, hits(top))
        within = recall(memory, fact.query, 3, category="core", session_id=fact.session_id)
        assert within[0].key == fact.key

    gone = [fact.key for fact in planted[:forgotten]]
    for key in gone[: forgotten // 2]:
        assert memory.forget(key)

    def forget_rest(tx: memkv.Transaction) -> None:
        for key in gone[forgotten // 2 :]:
            assert tx.forget(key)

    memory.transact(forget_rest)
    for key in gone:
        model.forget(key)
    for fact in planted:
        top = agrees(memory, model, fact.query, 50)
        assert not set(gone) & {entry.key for entry in top}, fact.query
        if fact.key not in gone:
            assert fact.key in [entry.key for entry in top[:3]], (fact.query, hits(top))
    assert not set(gone) & {entry.key for entry in recall(memory, "", 100, category="core")}


def test_planted_facts_are_found_among_10000_memories(tmp_path: Path) -> None:
    with memkv.open(tmp_path / "store") as memory:
        needles(memory)


@pytest.mark.slow
@pytest.mark.parametrize("backend", [name for name in BACKENDS if name != "lmdb"])
def test_planted_facts_on_the_other_backends(backend: str, tmp_path: Path) -> None:
    with open_backend(backend, tmp_path) as memory:
        needles(memory)
