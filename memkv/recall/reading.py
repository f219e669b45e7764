"""Searching the recall index: BM25 over the segments and the pending documents, and
the newest entries for a query without terms.

A search reads the postings of the rarest terms in full and, once the documents found
so far make a top ``limit`` that no document holding only the remaining (commoner)
terms could enter, looks the remaining terms up for those documents alone (the
"MaxScore" strategy): a query costs what its rare terms hold, not what its common
ones do.
"""

from __future__ import annotations

import bisect
import heapq
import math
from array import array
from collections.abc import Callable
from datetime import datetime
from typing import Final

from memkv import layout
from memkv.backends.base import ReadTxn, Table
from memkv.keys import key_after, prefix_end
from memkv.recall import records
from memkv.recall.records import LOW_32, Document
from memkv.recall.writing import Count

K1: Final = 1.2
B: Final = 0.75

_INDEX: Final = Table.INDEX
_BASE: Final = K1 * (1 - B)
_MARGIN: Final = 1e-7  # relative slack of a pruning bound, far above rounding errors
_FIRST_CHUNK: Final = 64  # time-index keys read at once, doubled while filters reject

Accept = Callable[[bytes], bool]  # does the entry at this key pass the filters?


class _Index:
    """What a search reads of the index besides postings: the segments, the pending
    documents, the documents gone from segments since they were last brought up to
    date, and the statistics."""

    def __init__(self, txn: ReadTxn, count: Count, left_out: dict[int, Document]) -> None:
        self.txn = txn
        self.count = count
        self.left_out = left_out  # documents of entries that have expired
        self.segments = records.load_segments(txn)
        self.firsts = [segment.first for segment in self.segments]
        first_pending = layout.document_key(count(layout.FIRST_PENDING))
        skip = len(layout.DOCUMENTS)
        self.pending: dict[int, Document] = {
            layout.decode_number(key[skip:]): records.decode_document(value)
            for key, value in txn.scan(_INDEX, first_pending, prefix_end(layout.DOCUMENTS))
        }
        skip = len(layout.GONE)
        self.gone: dict[int, list[str]] = {
            layout.decode_number(key[skip:]): records.decode_terms(value)
            for key, value in txn.scan(_INDEX, layout.GONE, prefix_end(layout.GONE))
        }
        for number, document in left_out.items():  # as if gone
            if self.pending.pop(number, None) is None:
                self.gone[number] = list(document.terms)

    def postings(self, term: str) -> list[array[int] | None]:
        """The term's postings in each segment (``None``: none in that one)."""
        text = term.encode()
        found: list[array[int] | None] = []
        for segment in self.segments:
            value = records.read_postings(self.txn, segment.prefix, text)
            found.append(None if value is None else records.decode_postings(value))
        return found

    def documents_holding(self, term: str, postings: list[array[int] | None]) -> int:
        """The term's document frequency (df), given its postings in the segments."""
        held = sum(len(numbers) for numbers in postings if numbers is not None) // 2
        held -= self.count(layout.dead_count_key(term))
        held += sum(1 for document in self.pending.values() if term in document.terms)
        held -= sum(1 for terms in self.gone.values() if term in terms)
        return held

    def key_of(self, number: int) -> bytes | None:
        """The entry key of a document (``None``: damage, which verify reports)."""
        document = self.pending.get(number)
        if document is not None:
            return document.key
        data = self.txn.get(_INDEX, layout.document_key(number))
        return None if data is None else records.decode_document(data).key


def search(
    txn: ReadTxn,
    count: Count,
    terms: list[str],
    limit: int,
    accept: Accept | None,
    left_out: dict[int, Document] | None = None,
) -> list[tuple[float, bytes]]:
    """The best ``limit`` entries for the distinct ``terms`` (of those ``accept``
    passes), as ``(score, key)``, by score descending then key ascending.
    ``left_out``: documents (`documents_of`) to leave out of the statistics too, as
    if their entries were gone (expired ones)."""
    left_out = left_out or {}
    entries = count(layout.RECALL_ENTRIES) - len(left_out)
    if entries <= 0 or limit <= 0:
        return []
    tokens = count(layout.RECALL_TOKENS) - sum(doc.length for doc in left_out.values())
    average_length = tokens / entries
    index = _Index(txn, count, left_out)
    weights: list[tuple[str, float]] = []  # (term, idf) in query order, held terms only
    postings: list[list[array[int] | None]] = []  # of each term in weights, per segment
    for term in map(layout.term_text, terms):  # as documents and postings hold them
        in_segments = index.postings(term)
        held = index.documents_holding(term, in_segments)
        if held > 0:
            weights.append((term, math.log(1 + (entries - held + 0.5) / (held + 0.5))))
            postings.append(in_segments)
    if not weights:
        return []
    return _Search(index, weights, postings, average_length, accept).best(limit)


class _Search:
    """One search: the contributions of each term to each document found, per term in
    query order (see the module docstring for the strategy)."""

    def __init__(
        self,
        index: _Index,
        weights: list[tuple[str, float]],
        postings: list[list[array[int] | None]],
        average_length: float,
        accept: Accept | None,
    ) -> None:
        self.index = index
        self.weights = weights
        self.postings = postings
        self.most = [idf * (K1 + 1) for _, idf in weights]  # the most each term can add
        self.scale = K1 * B / average_length
        self.accept = accept
        self.found: dict[int, list[float]] = {}  # document -> contribution of each term
        self.keys: dict[int, bytes | None] = {}
        self.passes: dict[int, bool] = {}  # the filters' verdicts, as asked
        self.split: dict[tuple[int, int], tuple[array[int], array[int]]] = {}

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
                break  # a document holding only the terms left cannot make the top
            self._scan(index)
            scanned = position + 1
            threshold = self._threshold(limit)
        rest = rarest_first[scanned:]
        if rest:
            self._look_up(rest, still_possible[scanned], threshold, limit)
        return self._ranked(limit)

    def _scan(self, index: int) -> None:
        """Every posting of one term. (The hot loop of a search.)"""
        term = self.weights[index][0]
        found = self.found
        width = len(self.weights)
        weight = self.most[index]
        scale = self.scale
        gone = self.index.gone
        for segment, postings in zip(self.index.segments, self.postings[index], strict=True):
            if postings is None:
                continue
            bitmap, first = segment.head.gone, segment.first
            for number, packed in zip(postings[0::2], postings[1::2], strict=True):
                if bitmap:
                    offset = number - first
                    if bitmap[offset >> 3] >> (offset & 7) & 1:
                        continue
                if gone and number in gone:
                    continue
                parts = found.get(number)
                if parts is None:
                    parts = found[number] = [0.0] * width
                frequency = packed >> 32
                length = packed & LOW_32
                parts[index] = weight * frequency / (frequency + _BASE + scale * length)
        for number, document in self.index.pending.items():
            held = document.terms.get(term)
            if held:
                parts = found.get(number)
                if parts is None:
                    parts = found[number] = [0.0] * width
                parts[index] = self._part(index, held, document.length)

    def _threshold(self, limit: int) -> float:
        """The ``limit``-th best score so far among documents that pass the filters (0
        until there are that many): a lower bound of the final one."""
        if self.accept is None:
            if len(self.found) < limit:
                return 0.0
            return heapq.nlargest(limit, map(sum, self.found.values()))[-1]
        found = self.found.items()
        scored = sorted(((sum(parts), number) for number, parts in found), reverse=True)
        passing = 0
        for score, number in scored:
            if self._passes(number):
                passing += 1
                if passing == limit:
                    return score
        return 0.0

    def _look_up(self, rest: list[int], bound: float, threshold: float, limit: int) -> None:
        """Complete the scores of the documents that could still make the top, by
        looking up each term not scanned, best partial score first; keep those alone.
        ``bound``: the most the terms not scanned can add; ``threshold``: a lower
        bound of the final ``limit``-th score, raised as scores complete."""
        found = self.found
        completed: dict[int, list[float]] = {}
        best: list[float] = []  # a min-heap of the top ``limit`` completed scores
        partial = sorted(((sum(parts), number) for number, parts in found.items()), reverse=True)
        for score, number in partial:
            floor = best[0] if len(best) == limit and best[0] > threshold else threshold
            if score + bound < floor * (1 - _MARGIN):
                break  # and so for every document after it: their partial scores are lower
            if not self._passes(number):
                continue
            parts = found[number]
            for index in rest:
                held = self._posting(index, number)
                if held is not None:
                    parts[index] = self._part(index, *held)
            completed[number] = parts
            if len(best) < limit:
                heapq.heappush(best, sum(parts))
            else:
                heapq.heappushpop(best, sum(parts))
        self.found = completed

    def _posting(self, index: int, number: int) -> tuple[int, int] | None:
        """Term ``index``'s frequency in document ``number`` and the document's
        length (``None``: the document does not hold the term)."""
        term = self.weights[index][0]
        document = self.index.pending.get(number)
        if document is not None:
            frequency = document.terms.get(term)
            return None if frequency is None else (frequency, document.length)
        position = bisect.bisect_right(self.index.firsts, number) - 1
        split = self.split.get((position, index))
        if split is None:
            flat = self.postings[index][position]
            if flat is None:
                return None
            split = self.split[position, index] = (flat[0::2], flat[1::2])
        numbers, packed = split
        at = bisect.bisect_left(numbers, number)
        if at == len(numbers) or numbers[at] != number:
            return None
        return packed[at] >> 32, packed[at] & LOW_32

    def _key(self, number: int) -> bytes | None:
        if number in self.keys:
            return self.keys[number]
        key = self.keys[number] = self.index.key_of(number)
        return key

    def _passes(self, number: int) -> bool:
        verdict = self.passes.get(number)
        if verdict is None:
            key = self._key(number)
            verdict = key is not None and (self.accept is None or self.accept(key))
            self.passes[number] = verdict
        return verdict

    def _ranked(self, limit: int) -> list[tuple[float, bytes]]:
        """The top ``limit`` of the documents found that pass, by score descending then
        key ascending: their keys are read in score order, ties at the cut included."""
        scored = [(sum(parts), number) for number, parts in self.found.items()]
        if self.accept is None and len(scored) > limit:
            cut = heapq.nlargest(limit, scored)[-1][0]
            scored = [item for item in scored if item[0] >= cut]
        scored.sort(reverse=True)
        chosen: list[tuple[float, bytes]] = []
        for score, number in scored:
            if len(chosen) >= limit and score < chosen[-1][0]:
                break
            if self._passes(number):
                key = self._key(number)
                assert key is not None  # _passes said so
                chosen.append((score, key))
        chosen.sort(key=lambda item: (-item[0], item[1]))
        return chosen[:limit]


def documents_of(txn: ReadTxn, versions: list[tuple[bytes, datetime]]) -> dict[int, Document]:
    """The documents of entry versions (key, timestamp), by number (those without a
    document, having no token, are left out)."""
    found: dict[int, Document] = {}
    for raw_key, timestamp in versions:
        value = txn.get(_INDEX, layout.time_key(timestamp, raw_key))
        if value:
            number = layout.decode_number(value)
            data = txn.get(_INDEX, layout.document_key(number))
            if data is not None:
                found[number] = records.decode_document(data)
    return found


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
