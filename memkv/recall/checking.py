"""Checking the recall index against the entries (for `memkv.verify`): every record
of it read and compared with what the entries say, each disagreement a sentence."""

from __future__ import annotations

import collections
from typing import Final

import msgspec

from memkv import layout
from memkv.backends.base import ReadTxn, Table
from memkv.keys import prefix_end, quote_key
from memkv.recall import records
from memkv.recall.records import LOW_32, Document, Segment
from memkv.recall.writing import Indexed, kept_terms

_INDEX: Final = Table.INDEX


def check(txn: ReadTxn, expected: dict[bytes, Indexed]) -> list[str]:
    """What is wrong with the recall index, given every entry's key and version (empty:
    nothing)."""
    return _Check(txn, expected).problems


def _named(raw_key: bytes) -> str:
    return quote_key(raw_key.decode("utf-8", errors="replace"))


def _scan(txn: ReadTxn, prefix: bytes) -> list[tuple[bytes, bytes]]:
    return txn.scan(_INDEX, prefix, prefix_end(prefix))


class _Check:
    def __init__(self, txn: ReadTxn, expected: dict[bytes, Indexed]) -> None:
        self.txn = txn
        self.expected = expected
        self.problems: list[str] = []
        self.dead: collections.Counter[bytes] = collections.Counter()  # dead postings
        try:
            numbers = self._time_index()
            live = self._documents(numbers)
            in_segments, gone = self._segments(live)
            self._counts(live, in_segments, gone)
        except (msgspec.DecodeError, ValueError) as exc:
            self.problems.append(f"a record of the recall index cannot be read: {exc}")

    def _stored(self, count_key: bytes) -> int:
        return layout.decode_count(self.txn.get(_INDEX, count_key))

    def _time_index(self) -> dict[bytes, int | None]:
        """Each entry's document number (``None``: it has no token), from the time index."""
        numbers: dict[bytes, int | None] = {}
        for time_key, value in _scan(self.txn, layout.BY_TIME):
            raw_key = time_key[layout.TIME_KEY_SKIP :]
            version = self.expected.get(raw_key)
            if version is None or layout.time_key(version.timestamp, raw_key) != time_key:
                self.problems.append(
                    f"recall's index by time holds {_named(raw_key)} at a time that is not "
                    "its entry's"
                )
                continue
            numbers[raw_key] = layout.decode_number(value) if value else None
        for raw_key in self.expected.keys() - numbers.keys():
            self.problems.append(f"entry {_named(raw_key)} is missing from recall's index")
        return numbers

    def _documents(self, numbers: dict[bytes, int | None]) -> dict[int, Document]:
        """The documents of the entries, checked against their text."""
        skip = len(layout.DOCUMENTS)
        stored = {
            layout.decode_number(key[skip:]): records.decode_document(value)
            for key, value in _scan(self.txn, layout.DOCUMENTS)
        }
        live: dict[int, Document] = {}
        for raw_key, number in numbers.items():
            terms, length = self.expected[raw_key].text
            if number is None:
                if length:
                    self.problems.append(f"entry {_named(raw_key)} has no recall document")
                continue
            document = stored.get(number)
            want = Document(key=raw_key, length=length, terms=dict(kept_terms(terms)))
            if document != want:
                self.problems.append(
                    f"recall document {number} of entry {_named(raw_key)} is "
                    f"{'missing' if document is None else 'not its text'}"
                )
            live[number] = want
        for number in stored.keys() - live.keys():
            self.problems.append(f"recall document {number} belongs to no entry")
        return live

    def _segments(
        self, live: dict[int, Document]
    ) -> tuple[dict[int, dict[str, tuple[int, int]]], dict[int, list[str]]]:
        """The postings of the documents in segments, not gone, checked against the
        documents (live, or gone since the segments were brought up to date)."""
        skip = len(layout.GONE)
        gone = {
            layout.decode_number(key[skip:]): records.decode_terms(value)
            for key, value in _scan(self.txn, layout.GONE)
        }
        first_pending = self._stored(layout.FIRST_PENDING)
        held: dict[int, dict[str, tuple[int, int]]] = collections.defaultdict(dict)
        end = 0
        for segment in records.load_segments(self.txn):
            if segment.first < end or not segment.first < segment.head.end <= first_pending:
                self.problems.append(
                    f"recall segment {segment.first} overlaps another or reaches pending documents"
                )
            end = segment.head.end
            self._postings(segment, held)
        for number, terms in held.items():
            if number in gone:
                wanted = set(gone[number])
                if number in live or set(terms) != wanted:
                    self.problems.append(f"recall document {number}, gone, is held wrongly")
                continue
            document = live.get(number)
            if document is None or terms != {
                term: (frequency, document.length) for term, frequency in document.terms.items()
            }:
                self.problems.append(f"recall segment postings of document {number} are wrong")
        for number in live:
            if (number < first_pending) != (number in held):
                self.problems.append(
                    f"recall document {number} is "
                    f"{'in no segment' if number < first_pending else 'pending and in a segment'}"
                )
        for number in gone.keys() - held.keys():
            self.problems.append(f"recall document {number}, gone, is in no segment")
        return held, gone

    def _postings(self, segment: Segment, held: dict[int, dict[str, tuple[int, int]]]) -> None:
        in_segment: set[int] = set()
        postings, _ = records.all_postings(self.txn, segment.prefix)
        for term, value in postings.items():
            flat = records.decode_postings(value)
            numbers = flat[0::2]
            if list(numbers) != sorted(set(numbers)):
                self.problems.append(f"recall postings of {term!r} are not in order")
            for number, packed in zip(numbers, flat[1::2], strict=True):
                if not segment.first <= number < segment.head.end:
                    self.problems.append(f"recall postings of {term!r} hold another segment's")
                elif segment.holds_gone(number):
                    self.dead[layout.dead_count_key(term)] += 1
                else:
                    held[number][term] = (packed >> 32, packed & LOW_32)
                    in_segment.add(number)
        if len(in_segment) != segment.head.documents:
            self.problems.append(
                f"recall segment {segment.first} holds {len(in_segment)} documents, "
                f"not {segment.head.documents}"
            )

    def _counts(
        self,
        live: dict[int, Document],
        in_segments: dict[int, dict[str, tuple[int, int]]],
        gone: dict[int, list[str]],
    ) -> None:
        stored = {
            key: layout.decode_count(value) for key, value in _scan(self.txn, layout.DEAD_POSTINGS)
        }
        if stored != self.dead:
            wrong = sorted(set(stored.items()) ^ set(self.dead.items()))[:3]
            self.problems.append(f"recall's counts of dead postings are wrong ({wrong!r:.200})")
        lengths = [document.length for document in live.values()]
        expected_counts = {
            layout.RECALL_ENTRIES: len(lengths),
            layout.RECALL_TOKENS: sum(lengths),
            layout.GONE_PENDING: len(gone),
        }
        for count_key, value in expected_counts.items():
            if self._stored(count_key) != value:
                self.problems.append(
                    f"recall count {count_key!r} is {self._stored(count_key)}, not {value}"
                )
        numbers = [*live, *gone]
        next_document = self._stored(layout.NEXT_DOCUMENT)
        if numbers and max(numbers) >= next_document:
            self.problems.append(f"recall's next document number {next_document} is in use")
        if self._stored(layout.FIRST_PENDING) > next_document:
            self.problems.append("recall's first pending document is past the next one")
