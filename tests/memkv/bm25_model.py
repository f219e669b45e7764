"""What `recall` must return, written as plainly as possible: the model the recall tests
hold every backend against. A dict of rows, each row's tokens computed once, and every
query a brute-force pass over all of them. It shares no code with memkv (its own
tokenizer, from the contract), so that a bug in memkv's cannot hide in both.

The contract, in short:

* An entry's indexed text: its key, and every ``str`` in its content as stored (the
  content itself if a ``str``; else the ``str`` values found recursively in dict values
  and list items). Dict keys, bytes and numbers are not indexed.
* Each string: ``NFKC``, then ``casefold``; tokens are maximal runs of ``re``'s ``\\w``.
  Inside a token, each maximal run of CJK characters (`CJK_RANGES`) becomes its
  overlapping bigrams (a run of one character stays as it is); the rest stays whole.
* Okapi BM25 (`K1`, `B`) summed over the distinct query terms, with the statistics of
  the whole store: ``N`` entries with at least one token, their mean length, and each
  term's document frequency. Filters apply after scoring. Order: score descending,
  then key ascending as UTF-8 bytes. A query with no terms lists the newest entries.
"""

from __future__ import annotations

import collections
import itertools
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Final, NamedTuple

import msgspec

K1: Final = 1.2
B: Final = 0.75
RELATIVE_TOLERANCE: Final = 1e-9
"""How far a store's score may be from the model's (float sums in another order)."""

CJK_RANGES: Final = (
    (0x1100, 0x11FF),
    (0x3005, 0x3007),
    (0x3021, 0x3029),
    (0x3038, 0x303B),
    (0x3041, 0x309F),
    (0x30A0, 0x30FF),
    (0x3131, 0x318E),
    (0x31F0, 0x31FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xA960, 0xA97F),
    (0xAC00, 0xD7AF),
    (0xD7B0, 0xD7FF),
    (0xF900, 0xFAFF),
    (0x1B000, 0x1B16F),
    (0x20000, 0x3134F),
)
"""Code points (first, last; inclusive) whose runs are cut into bigrams."""

_WORD: Final = re.compile(r"\w+")


class Row(NamedTuple):
    """One stored entry, as the model knows it. ``content`` as stored: see `as_stored`."""

    key: str
    content: Any
    category: str
    session_id: str | None
    timestamp: datetime


class Hit(NamedTuple):
    key: str
    score: float | None


# -- the text of an entry ------------------------------------------------------------------


def is_cjk(char: str) -> bool:
    code = ord(char)
    return any(first <= code <= last for first, last in CJK_RANGES)


def tokens(text: str) -> list[str]:
    """The tokens of one string, in order, repeats included."""
    found: list[str] = []
    for word in _WORD.findall(unicodedata.normalize("NFKC", text).casefold()):
        if word.isascii():  # no CJK in it: one token (a shortcut, for speed only)
            found.append(word)
            continue
        for cjk, group in itertools.groupby(word, key=is_cjk):
            run = "".join(group)
            if not cjk or len(run) == 1:
                found.append(run)
            else:
                found.extend(run[i] + run[i + 1] for i in range(len(run) - 1))
    return found


def query_terms(query: str) -> list[str]:
    """The distinct tokens of a query, in order of first appearance."""
    return list(dict.fromkeys(tokens(query)))


def as_stored(content: Any) -> Any:
    """``content`` as a store holds it and reads it back without a type: what msgpack
    makes of it (a Struct becomes the map of its fields, a tuple a list)."""
    return msgspec.msgpack.decode(msgspec.msgpack.encode(content))


def strings_in(content: Any) -> Iterator[str]:
    """The indexed strings of stored content: itself if a ``str``, else the strings in
    dict values and list items, recursively (never dict keys, bytes or numbers)."""
    if isinstance(content, str):
        yield content
    elif isinstance(content, dict):
        for value in content.values():
            yield from strings_in(value)
    elif isinstance(content, list):
        for item in content:
            yield from strings_in(item)


def entry_tokens(key: str, content: Any) -> list[str]:
    """The tokens of an entry's indexed text (its length is the entry's ``dl``)."""
    found = tokens(key)
    for text in strings_in(content):
        found += tokens(text)
    return found


# -- the model -------------------------------------------------------------------------------


class RecallModel:
    """The user entries of a store, with the tokens of each; recall by brute force."""

    def __init__(self, rows: Iterable[Row] = ()) -> None:
        self.rows: dict[str, Row] = {}
        self.terms: dict[str, collections.Counter[str]] = {}  # key -> term -> tf
        for row in rows:
            self.store(row)

    def store(self, row: Row) -> None:
        """Insert or replace (re-indexed)."""
        self.rows[row.key] = row
        self.terms[row.key] = collections.Counter(entry_tokens(row.key, row.content))

    def sync(self, rows: Iterable[Row]) -> None:
        """Hold exactly ``rows`` from now on (re-indexing only the rows that changed)."""
        fresh = {row.key: row for row in rows}
        for key in self.rows.keys() - fresh.keys():
            self.forget(key)
        for key, row in fresh.items():
            if self.rows.get(key) != row:
                self.store(row)

    def forget(self, key: str) -> None:
        self.rows.pop(key, None)
        self.terms.pop(key, None)

    def copy(self) -> RecallModel:
        other = RecallModel()
        other.rows = dict(self.rows)
        other.terms = dict(self.terms)  # the counters are never changed, only replaced
        return other

    def score(self, key: str, query: str) -> float:
        """The BM25 score of the entry at ``key`` for ``query`` (0.0: no term of it)."""
        terms = query_terms(query)
        return self._score(self.terms[key], terms, *self._statistics(terms))

    def _statistics(self, terms: list[str]) -> tuple[int, float, dict[str, int]]:
        """``N`` (entries with a token), their mean length, and the ``df`` of each term."""
        lengths = [counts.total() for counts in self.terms.values() if counts]
        average = sum(lengths) / len(lengths) if lengths else 0.0
        df = {term: sum(1 for counts in self.terms.values() if term in counts) for term in terms}
        return len(lengths), average, df

    @staticmethod
    def _score(
        counts: collections.Counter[str],
        terms: list[str],
        n: int,
        average: float,
        df: dict[str, int],
    ) -> float:
        length = counts.total()
        total = 0.0
        for term in terms:
            tf = counts[term]
            if tf == 0:
                continue
            idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
            total += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average))
        return total

    def ranking(
        self,
        query: str,
        *,
        category: str | None = None,
        session_id: str | None = None,
        prefix: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Hit]:
        """Every entry `recall` may return for ``query``, in its order (no limit).
        Scores use the whole store; the filters then choose among the entries."""
        chosen = [
            row
            for row in self.rows.values()
            if category in (None, row.category)
            and session_id in (None, row.session_id)
            and row.key.startswith(prefix or "")
            and (since is None or row.timestamp >= since)
            and (until is None or row.timestamp < until)
        ]
        terms = query_terms(query)
        if not terms:
            chosen.sort(key=lambda row: row.key.encode())
            chosen.sort(key=lambda row: row.timestamp, reverse=True)  # stable: keys in ties
            return [Hit(row.key, None) for row in chosen]
        statistics = self._statistics(terms)
        hits = [
            Hit(row.key, self._score(self.terms[row.key], terms, *statistics))
            for row in chosen
            if any(term in self.terms[row.key] for term in terms)
        ]
        hits.sort(key=lambda hit: (-(hit.score or 0.0), hit.key.encode()))
        return hits

    def recall(self, query: str, limit: int = 10, **filters: Any) -> list[Hit]:
        return self.ranking(query, **filters)[:limit]


# -- comparing a store's answer with the model's ----------------------------------------------


def close(a: float, b: float) -> bool:
    return abs(a - b) <= RELATIVE_TOLERANCE * max(abs(a), abs(b))


def assert_ranking(got: Sequence[Hit], expected: Sequence[Hit], limit: int) -> None:
    """``got`` (a store's answer, with ``limit``) is the model's full ranking
    ``expected`` cut at ``limit``: the same keys in the same order, scores close; keys
    whose scores are nearly tied may come in any order among themselves (and, at the
    cut, any of them may be the ones kept), but ``got`` must still be in the order of
    its own scores, then keys (as UTF-8 bytes). For a query with no terms (scores
    ``None``), exactly the model's listing."""
    assert len(got) == min(limit, len(expected)), (
        f"{len(got)} hits, expected {min(limit, len(expected))}: {got} vs {expected[:limit]}"
    )
    if all(hit.score is None for hit in expected):
        assert list(got) == list(expected[:limit])
        return
    model_score = {hit.key: hit.score for hit in expected}
    for hit in got:
        assert hit.key in model_score, f"{hit.key!r} returned, not expected: {got}"
        assert isinstance(hit.score, float), f"{hit.key!r} has score {hit.score!r}"
        want = model_score[hit.key]
        assert want is not None
        assert close(hit.score, want), f"{hit.key!r} scored {hit.score!r}, expected {want!r}"
    assert len({hit.key for hit in got}) == len(got), f"a key returned twice: {got}"
    own_order = sorted(got, key=lambda hit: (-(hit.score or 0.0), hit.key.encode()))
    assert list(got) == own_order, f"not in the order of its own scores, then keys: {got}"
    position = 0
    for group in _near_ties(expected):
        taken = got[position : position + len(group)]
        if not taken:
            break
        keys = {hit.key for hit in group}
        assert {hit.key for hit in taken} <= keys, (
            f"at {position}: {taken} where one of {sorted(keys)} was expected (full: {got})"
        )
        position += len(taken)


def _near_ties(ranking: Sequence[Hit]) -> list[list[Hit]]:
    """The ranking cut into groups of consecutive hits whose scores are close."""
    groups: list[list[Hit]] = []
    for hit in ranking:
        previous = groups[-1][-1].score if groups else None
        if previous is not None and hit.score is not None and close(previous, hit.score):
            groups[-1].append(hit)
        else:
            groups.append([hit])
    return groups
