"""Recall: keyword search over the user's memories, ranked by Okapi BM25.

The index (`memkv.layout`) is written by the same transaction as the entry:

* a posting per (term, entry), holding the term's frequency in the entry and the
  entry's length in tokens;
* counts: entries per term (df), entries with a token (N), their tokens in all;
* every entry by time, newest first, for a query without terms.

So its statistics are exact after every commit, whatever the backend, group commit
or crash. Scoring is BM25 with ``k1 = 1.2``, ``b = 0.75``,
``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``, summed over the distinct query terms
(tokens: `memkv.text`).

A search reads the postings of the rarest terms in full and, once the entries found
so far make a top ``limit`` that no entry holding only the remaining (commoner)
terms could enter, looks the remaining terms up for those entries alone (the
"MaxScore" strategy): a query costs what its rare terms hold, not what its common
ones do.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, NamedTuple

from memkv import layout
from memkv.backends.base import ReadTxn, Table, WriteTxn
from memkv.counts import CountChanges
from memkv.entry import MemoryEntry
from memkv.keys import key_after, prefix_end
from memkv.text import Terms, entry_terms

K1: Final = 1.2
B: Final = 0.75

_INDEX: Final = Table.INDEX
_BASE: Final = K1 * (1 - B)
_MARGIN: Final = 1e-7  # relative slack of a pruning bound, far above rounding errors
_FIRST_CHUNK: Final = 64  # time-index keys read at once, doubled while filters reject

Accept = Callable[[bytes], bool]  # does the entry at this key pass the filters?
Count = Callable[[bytes], int]  # a stored count, with what the transaction changed
EntryText = tuple[Terms, int]  # an entry's terms with their frequencies, and its length


def kept(txn: ReadTxn) -> bool:
    """Whether the store keeps a recall index (see `memkv.layout.RECALL_SETTING`)."""
    return setting(txn) is True


def setting(txn: ReadTxn) -> bool | None:
    """The store's choice: keep a recall index, keep none, or ``None`` (not made yet)."""
    value = txn.get(Table.META, layout.RECALL_SETTING)
    return None if value is None else value == layout.RECALL_ON


def choose(txn: WriteTxn, keep: bool) -> None:
    """Record the store's choice; the index must already be as it says."""
    txn.put(Table.META, layout.RECALL_SETTING, layout.RECALL_ON if keep else layout.RECALL_OFF)


def expected_index(
    raw_key: bytes, entry: MemoryEntry[Any], counts: dict[bytes, int]
) -> dict[bytes, bytes]:
    """The recall index keys of one entry (content as decoded without a type), with
    what they hold; its share of the statistics is added to ``counts`` (for
    `memkv.verify`)."""
    terms, length = entry_terms(entry.key, entry.content)
    index = {layout.time_key(entry.timestamp, raw_key): b""}
    for term, frequency in terms.items():
        index[layout.term_head(term) + raw_key] = layout.encode_posting(frequency, length)
        _add(counts, layout.term_head(term), 1)
    if length:
        _add(counts, layout.RECALL_ENTRIES, 1)
        _add(counts, layout.RECALL_TOKENS, length)
    return index


class Indexed(NamedTuple):
    """What the recall index holds of an entry: its text (``None`` if it cannot be read,
    whose postings then stay until `memkv.Memory.repair` rebuilds them) and time."""

    text: EntryText | None
    timestamp: datetime


def update(
    txn: WriteTxn,
    counts: CountChanges,
    raw_key: bytes,
    old: Indexed | None,
    new: Indexed | None,
) -> None:
    """Bring the index of the entry at ``raw_key`` from ``old`` (``None``: it was
    absent) to ``new`` (``None``: it is gone): its postings and statistics, writing
    only the postings that change, and its place in the index by time."""
    _reindex(
        txn, counts, raw_key, None if old is None else old.text, None if new is None else new.text
    )
    old_time = None if old is None else old.timestamp
    new_time = None if new is None else new.timestamp
    if old_time != new_time:
        if old_time is not None:
            txn.delete(_INDEX, layout.time_key(old_time, raw_key))
        if new_time is not None:
            txn.put(_INDEX, layout.time_key(new_time, raw_key), b"")


def _reindex(
    txn: WriteTxn,
    counts: CountChanges,
    raw_key: bytes,
    old: EntryText | None,
    new: EntryText | None,
) -> None:
    """The postings and statistics part of `update`. (A hot path: every indexed write
    runs it.)"""
    old_terms, old_length = old if old is not None else (None, 0)
    new_terms, new_length = new if new is not None else (None, 0)
    head_of = layout.term_head
    held = counts.get
    if old_terms:
        delete = txn.delete
        for term in old_terms:
            if new_terms is None or term not in new_terms:
                head = head_of(term)
                delete(_INDEX, head + raw_key)
                counts[head] = held(head, 0) - 1
    if new_terms:
        put = txn.put
        encode = layout.encode_posting
        same_length = old_length == new_length
        was = None
        for term, frequency in new_terms.items():
            head = head_of(term)
            if old_terms is None or (was := old_terms.get(term)) is None:
                counts[head] = held(head, 0) + 1
            elif was == frequency and same_length:
                continue
            put(_INDEX, head + raw_key, encode(frequency, new_length))
    _add(counts, layout.RECALL_ENTRIES, (new_length > 0) - (old_length > 0))
    _add(counts, layout.RECALL_TOKENS, new_length - old_length)


def _add(counts: CountChanges, count_key: bytes, delta: int) -> None:
    if delta:
        counts[count_key] = counts.get(count_key, 0) + delta


def search(
    txn: ReadTxn, count: Count, terms: list[str], limit: int, accept: Accept | None
) -> list[tuple[float, bytes]]:
    """The best ``limit`` entries for the distinct ``terms`` (of those ``accept``
    passes), as ``(score, key)``, by score descending then key ascending."""
    entries = count(layout.RECALL_ENTRIES)
    if entries <= 0 or limit <= 0:
        return []
    average_length = count(layout.RECALL_TOKENS) / entries
    weights: list[tuple[str, float]] = []  # (term, idf) in query order, held terms only
    for term in terms:
        held = count(layout.term_head(term))
        if held > 0:
            weights.append((term, math.log(1 + (entries - held + 0.5) / (held + 0.5))))
    if not weights:
        return []
    return _Search(txn, weights, average_length, accept).best(limit)


class _Search:
    """One search: the contributions of each term to each entry found, per term in
    query order (see the module docstring for the strategy)."""

    def __init__(
        self,
        txn: ReadTxn,
        weights: list[tuple[str, float]],
        average_length: float,
        accept: Accept | None,
    ) -> None:
        self.txn = txn
        self.weights = weights
        self.most = [idf * (K1 + 1) for _, idf in weights]  # the most each term can add
        self.scale = K1 * B / average_length
        self.accept = accept
        self.found: dict[bytes, list[float]] = {}  # key -> contribution of each term
        self.passes: dict[bytes, bool] = {}  # the filters' verdicts, as asked

    def _part(self, index: int, frequency: int, length: int) -> float:
        """The BM25 contribution of term ``index`` (`_scan` inlines the same)."""
        return self.most[index] * frequency / (frequency + _BASE + self.scale * length)

    def best(self, limit: int) -> list[tuple[float, bytes]]:
        rarest_first = sorted(range(len(self.weights)), key=lambda i: -self.weights[i][1])
        bounds = [self.most[i] for i in rarest_first]
        still_possible = [sum(bounds[j:]) for j in range(len(bounds) + 1)]
        scanned = 0
        threshold = 0.0
        for position, index in enumerate(rarest_first):
            if position and still_possible[position] < threshold * (1 - _MARGIN):
                break  # an entry holding only the terms left cannot make the top
            self._scan(index)
            scanned = position + 1
            threshold = self._threshold(limit)
        rest = rarest_first[scanned:]
        if rest:
            self._look_up(rest, still_possible[scanned], threshold, limit)
        ranked = (
            (sum(parts), raw_key) for raw_key, parts in self.found.items() if self._passes(raw_key)
        )
        return heapq.nsmallest(limit, ranked, key=lambda item: (-item[0], item[1]))

    def _scan(self, index: int) -> None:
        """Every posting of one term. (The hot loop of a search.)"""
        prefix = layout.term_head(self.weights[index][0])
        skip = len(prefix)
        found = self.found
        width = len(self.weights)
        decode = layout.decode_posting
        weight = self.most[index]
        scale = self.scale
        postings = self.txn.scan(_INDEX, key_after(prefix), prefix_end(prefix))
        for posting_key, value in postings:
            raw_key = posting_key[skip:]
            parts = found.get(raw_key)
            if parts is None:
                parts = found[raw_key] = [0.0] * width
            frequency, length = decode(value)
            parts[index] = weight * frequency / (frequency + _BASE + scale * length)

    def _threshold(self, limit: int) -> float:
        """The ``limit``-th best score so far among entries that pass the filters (0
        until there are that many): a lower bound of the final one."""
        if self.accept is None:
            if len(self.found) < limit:
                return 0.0
            return heapq.nlargest(limit, map(sum, self.found.values()))[-1]
        scored = sorted(((sum(parts), key) for key, parts in self.found.items()), reverse=True)
        passing = 0
        for score, raw_key in scored:
            if self._passes(raw_key):
                passing += 1
                if passing == limit:
                    return score
        return 0.0

    def _look_up(self, rest: list[int], bound: float, threshold: float, limit: int) -> None:
        """Complete the scores of the entries that could still make the top, by a
        point read of each term not scanned, best partial score first; keep those
        alone. ``bound``: the most the terms not scanned can add; ``threshold``: a
        lower bound of the final ``limit``-th score, raised as scores complete."""
        found = self.found
        completed: dict[bytes, list[float]] = {}
        best: list[float] = []  # a min-heap of the top ``limit`` completed scores
        partial = sorted(((sum(parts), key) for key, parts in found.items()), reverse=True)
        for score, raw_key in partial:
            floor = best[0] if len(best) == limit and best[0] > threshold else threshold
            if score + bound < floor * (1 - _MARGIN):
                break  # and so for every entry after it: their partial scores are lower
            if not self._passes(raw_key):
                continue
            parts = found[raw_key]
            for index in rest:
                value = self.txn.get(_INDEX, layout.term_head(self.weights[index][0]) + raw_key)
                if value is not None:
                    frequency, length = layout.decode_posting(value)
                    parts[index] = self._part(index, frequency, length)
            completed[raw_key] = parts
            if len(best) < limit:
                heapq.heappush(best, sum(parts))
            else:
                heapq.heappushpop(best, sum(parts))
        self.found = completed

    def _passes(self, raw_key: bytes) -> bool:
        if self.accept is None:
            return True
        verdict = self.passes.get(raw_key)
        if verdict is None:
            verdict = self.passes[raw_key] = self.accept(raw_key)
        return verdict


def most_recent(txn: ReadTxn, limit: int, accept: Accept | None) -> list[bytes]:
    """The keys of the newest ``limit`` entries (of those ``accept`` passes), newest
    first, then by key. Without filters, it reads ``limit`` keys of the time index."""
    found: list[bytes] = []
    start = layout.BY_TIME
    stop = prefix_end(start)
    chunk = max(limit, _FIRST_CHUNK) if accept is not None else limit
    while len(found) < limit:
        keys = txn.scan(_INDEX, start, stop, limit=chunk, keys_only=True)
        for time_key, _ in keys:
            raw_key = time_key[layout.TIME_KEY_SKIP :]
            if accept is None or accept(raw_key):
                found.append(raw_key)
                if len(found) == limit:
                    break
        if len(keys) < chunk:
            break
        start = key_after(keys[-1][0])
        chunk *= 2
    return found
