"""Keeping the recall index: what a write of an entry does to it, and how its
segments are brought up to date.

A write touches a few keys, whatever the entry's text: the entry's document (the
next number, so the last page of its table), its place in the index by time, and a
few counts. No posting is written then: a posting per distinct term would land on a
page of its own. Once `Tuning.flush_at` documents are pending, the transaction that
reaches it, at its end, turns them into a new segment (its postings written
together, in blocks); removals of documents in segments are marked gone there, and
their postings counted as dead, by the transactions that keep more than
`Tuning.flush_at` of them pending. Segments of one size class are merged
`Tuning.fanout` at a time up to `Tuning.largest_class`, so a posting is rewritten at
most twice and no merge holds the writer long; a segment with more documents gone
than held is rewritten alone, without them."""

from __future__ import annotations

import bisect
import collections
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Final, NamedTuple

from memkv import layout
from memkv.backends.base import Table, WriteTxn
from memkv.counts import CountChanges, write_counts
from memkv.keys import prefix_end
from memkv.recall import records
from memkv.recall.records import Document, Segment, SegmentHead
from memkv.recall.setting import remove_index
from memkv.text import Terms

_INDEX: Final = Table.INDEX

Count = Callable[[bytes], int]  # a stored count, with what the transaction changed
EntryText = tuple[Terms, int]  # an entry's terms with their frequencies, and its length


class Tuning(NamedTuple):
    flush_at: int = 128  # pending documents that make a segment; removals kept pending
    fanout: int = 8  # segments of a size class merged into one
    largest_class: int = 2  # segments of this size class (or larger) merge no more
    gone_marked: int = 32  # removals marked in their segments at least, once over flush_at


TUNING = Tuning()
"""The index's tuning (tests make it small, to reach segments and merges soon)."""


class Indexed(NamedTuple):
    """What the recall index holds of an entry version: its text and its time."""

    text: EntryText
    timestamp: datetime


def update(
    txn: WriteTxn,
    count: Count,
    counts: CountChanges,
    raw_key: bytes,
    old: datetime | None,
    new: Indexed | None,
) -> None:
    """Bring the index of the entry at ``raw_key`` from the version stored at ``old``
    (its timestamp; ``None``: there was none) to ``new`` (``None``: it is gone)."""
    if old is not None:
        _remove(txn, count, counts, layout.time_key(old, raw_key))
    if new is not None:
        _add(txn, count, counts, raw_key, new)


def settle(txn: WriteTxn, count: Count, counts: CountChanges) -> None:
    """At the end of a transaction that called `update`: once `Tuning.flush_at`
    documents are pending, make them a segment (so a transaction of many writes makes
    one segment of them all); once more than `Tuning.flush_at` removals are pending,
    mark the oldest in their segments, so that at most that many stay pending (and at
    least `Tuning.gone_marked` are marked: the work is spread over the transactions
    that remove, each paying for about what it removed)."""
    tuning = TUNING
    pending = count(layout.NEXT_DOCUMENT) - count(layout.FIRST_PENDING)
    gone = count(layout.GONE_PENDING)
    if pending < tuning.flush_at and gone < tuning.flush_at:
        return
    segments = _Segments(txn, count, counts)
    if gone >= tuning.flush_at:
        segments.mark_gone(max(tuning.gone_marked, gone - tuning.flush_at))
    if pending >= tuning.flush_at:
        segments.add_pending()


def _add(txn: WriteTxn, count: Count, counts: CountChanges, raw_key: bytes, new: Indexed) -> None:
    terms, length = new.text
    time_key = layout.time_key(new.timestamp, raw_key)
    if not length:
        txn.put(_INDEX, time_key, b"")
        return
    number = count(layout.NEXT_DOCUMENT)
    document = Document(key=raw_key, length=length, terms=kept_terms(terms))
    txn.put(_INDEX, layout.document_key(number), records.encode_document(document))
    txn.put(_INDEX, time_key, layout.encode_number(number))
    _change(counts, layout.NEXT_DOCUMENT, 1)
    _change(counts, layout.RECALL_ENTRIES, 1)
    _change(counts, layout.RECALL_TOKENS, length)


def _remove(txn: WriteTxn, count: Count, counts: CountChanges, time_key: bytes) -> None:
    """Remove the entry version at ``time_key`` (if the index holds it: after damage,
    it may not) and its document."""
    value = txn.get(_INDEX, time_key)
    if value is None:
        return
    txn.delete(_INDEX, time_key)
    if not value:
        return  # it had no token, so no document
    number = layout.decode_number(value)
    document_key = layout.document_key(number)
    data = txn.get(_INDEX, document_key)
    if data is None:
        return
    txn.delete(_INDEX, document_key)
    document = records.decode_document(data)
    _change(counts, layout.RECALL_ENTRIES, -1)
    _change(counts, layout.RECALL_TOKENS, -document.length)
    if number >= count(layout.FIRST_PENDING):
        return  # in no segment yet: its document was all there was
    txn.put(_INDEX, layout.gone_key(number), records.encode_terms(list(document.terms)))
    _change(counts, layout.GONE_PENDING, 1)


def kept_terms(terms: Terms) -> dict[str, int]:
    """``terms`` as documents and postings keep them (`layout.term_text`)."""
    if max(map(len, terms)) <= layout.SHORT_TERM:  # the usual case: as they are
        return terms
    text = layout.term_text
    return {text(term): frequency for term, frequency in terms.items()}


def _change(counts: CountChanges, count_key: bytes, delta: int) -> None:
    counts[count_key] = counts.get(count_key, 0) + delta


def rebuild(txn: WriteTxn, entries: Iterable[tuple[bytes, Indexed]]) -> None:
    """Replace the whole index by that of ``entries`` (key, version): one segment."""
    remove_index(txn)
    documents: list[tuple[int, Document]] = []
    counts: CountChanges = {}
    for raw_key, version in entries:
        terms, length = version.text
        time_key = layout.time_key(version.timestamp, raw_key)
        if not length:
            txn.put(_INDEX, time_key, b"")
            continue
        number = len(documents)
        document = Document(key=raw_key, length=length, terms=kept_terms(terms))
        documents.append((number, document))
        txn.put(_INDEX, layout.document_key(number), records.encode_document(document))
        txn.put(_INDEX, time_key, layout.encode_number(number))
        _change(counts, layout.RECALL_ENTRIES, 1)
        _change(counts, layout.RECALL_TOKENS, length)
    if documents:
        _write_segment(txn, 0, len(documents), documents)
    _change(counts, layout.NEXT_DOCUMENT, len(documents))
    _change(counts, layout.FIRST_PENDING, len(documents))
    write_counts(txn, counts)


def _write_segment(
    txn: WriteTxn,
    first: int,
    end: int,
    documents: list[tuple[int, Document]],
) -> Segment:
    """Write the segment of ``documents`` (numbered from ``first`` to ``end``, in
    order)."""
    postings: collections.defaultdict[str, bytearray] = collections.defaultdict(bytearray)
    pack = records.POSTING.pack
    for number, document in documents:
        length = document.length
        for term, frequency in document.terms.items():
            postings[term] += pack(number, frequency << 32 | length)
    prefix = layout.postings_prefix(first)
    records.put_postings(txn, prefix, postings)
    head = SegmentHead(end=end, documents=len(documents))
    txn.put(_INDEX, layout.segment_key(first), records.encode_head(head))
    return Segment(first, head, prefix)


class _Segments:
    """Bringing the segments up to date, in one transaction (see the module docstring)."""

    def __init__(self, txn: WriteTxn, count: Count, counts: CountChanges) -> None:
        self.txn = txn
        self.count = count
        self.counts = counts
        self.segments = records.load_segments(txn)

    def add_pending(self) -> None:
        """Make the pending documents a segment, and merge."""
        first = self.count(layout.FIRST_PENDING)
        end = self.count(layout.NEXT_DOCUMENT)
        pending = self.txn.scan(_INDEX, layout.document_key(first), prefix_end(layout.DOCUMENTS))
        if pending:
            skip = len(layout.DOCUMENTS)
            documents = [
                (layout.decode_number(key[skip:]), records.decode_document(value))
                for key, value in pending
            ]
            self.segments.append(_write_segment(self.txn, first, end, documents))
        _change(self.counts, layout.FIRST_PENDING, end - first)
        self._merge()

    def mark_gone(self, most: int) -> None:
        """Mark the ``most`` oldest documents removed from segments gone in their
        segments, count their postings as dead, and rewrite each segment left with more
        documents gone than held."""
        gone = self.txn.scan(_INDEX, layout.GONE, prefix_end(layout.GONE), limit=most)
        firsts = [segment.first for segment in self.segments]
        bitmaps: dict[int, bytearray] = {}  # segment position -> its new bitmap
        lost: dict[int, int] = {}
        skip = len(layout.GONE)
        for key, value in gone:
            self.txn.delete(_INDEX, key)
            number = layout.decode_number(key[skip:])
            position = bisect.bisect_right(firsts, number) - 1
            if position < 0 or number >= self.segments[position].head.end:
                continue  # in no segment: damage, which verify reports and repair mends
            segment = self.segments[position]
            bitmap = bitmaps.get(position)
            if bitmap is None:
                bitmap = bitmaps[position] = _bitmap(segment)
            offset = number - segment.first
            if bitmap[offset >> 3] >> (offset & 7) & 1:
                continue
            bitmap[offset >> 3] |= 1 << (offset & 7)
            lost[position] = lost.get(position, 0) + 1
            for term in records.decode_terms(value):
                _change(self.counts, layout.dead_count_key(term), 1)
        _change(self.counts, layout.GONE_PENDING, -len(gone))
        rewrite = []
        for position, bitmap in bitmaps.items():
            segment = self.segments[position]
            held = segment.head.documents - lost.get(position, 0)
            head = SegmentHead(end=segment.head.end, documents=held, gone=bytes(bitmap))
            self.segments[position] = segment = segment._replace(head=head)
            self.txn.put(_INDEX, layout.segment_key(segment.first), records.encode_head(head))
            if held < _gone_count(segment):
                rewrite.append(position)
        for position in sorted(rewrite, reverse=True):
            merged = self._combine([self.segments[position]])
            if merged is None:
                del self.segments[position]
            else:
                self.segments[position] = merged

    def _merge(self) -> None:
        """Merge the newest segments while `Tuning.fanout` of them are of the newest
        one's size class or smaller."""
        tuning = TUNING
        while len(self.segments) >= tuning.fanout:
            newest = _size_class(self.segments[-1])
            if newest >= tuning.largest_class:
                return
            run = 0
            for segment in reversed(self.segments):
                if _size_class(segment) > newest:
                    break
                run += 1
            if run < tuning.fanout:
                return
            merged = self._combine(self.segments[-run:])
            del self.segments[-run:]
            if merged is not None:
                self.segments.append(merged)

    def _combine(self, run: list[Segment]) -> Segment | None:
        """Rewrite consecutive segments as one without their gone documents
        (``None``: nothing is left of them)."""
        txn = self.txn
        joined: dict[str, list[bytes]] = {}
        for segment in run:
            postings, keys = records.all_postings(txn, segment.prefix)
            for key in keys:
                txn.delete(_INDEX, key)
            txn.delete(_INDEX, layout.segment_key(segment.first))
            gone = _gone_numbers(segment)
            for term, value in postings.items():
                kept = _without(value, gone) if gone else value
                dead = (len(value) - len(kept)) // records.POSTING_BYTES
                if dead:
                    _change(self.counts, layout.dead_count_key(term), -dead)
                if kept:
                    joined.setdefault(term, []).append(kept)
        held = sum(segment.head.documents for segment in run)
        if not held:
            return None
        first = run[0].first
        prefix = layout.postings_prefix(first)
        records.put_postings(txn, prefix, {term: b"".join(parts) for term, parts in joined.items()})
        head = SegmentHead(end=run[-1].head.end, documents=held)
        txn.put(_INDEX, layout.segment_key(first), records.encode_head(head))
        return Segment(first, head, prefix)


def _bitmap(segment: Segment) -> bytearray:
    size = (segment.head.end - segment.first + 7) // 8
    bitmap = bytearray(segment.head.gone)
    bitmap.extend(bytes(size - len(bitmap)))
    return bitmap


def _gone_count(segment: Segment) -> int:
    return int.from_bytes(segment.head.gone, "little").bit_count()


def _gone_numbers(segment: Segment) -> set[int]:
    """The numbers of the documents gone from ``segment``."""
    first = segment.first
    return {
        first + at * 8 + bit
        for at, byte in enumerate(segment.head.gone)
        if byte
        for bit in range(8)
        if byte >> bit & 1
    }


def _without(value: bytes, gone: set[int]) -> bytes:
    """Encoded postings less those of the documents ``gone``."""
    postings = records.decode_postings(value)
    numbers = postings[0::2]
    kept = [at for at, number in enumerate(numbers) if number not in gone]
    if len(kept) == len(numbers):
        return value
    packed = postings[1::2]
    return records.encode_postings([item for at in kept for item in (numbers[at], packed[at])])


def _size_class(segment: Segment) -> int:
    """0 for a segment of fewer than ``flush_at * fanout`` documents, then one more
    for each further factor of ``fanout``."""
    tuning = TUNING
    size, found = segment.head.documents, 0
    while size >= tuning.flush_at * tuning.fanout:
        size //= tuning.fanout
        found += 1
    return found
