"""The records of the recall index (`memkv.layout` says where each is kept) and their
encodings: a document, a segment's head, a segment's postings of one term, the terms
of a document gone from a segment.

A posting is two unsigned 64-bit little-endian numbers: the document's number, then
its frequency of the term (high 32 bits) and its length in tokens (low 32 bits). A
segment's postings of a term are sorted by document number, so the postings of
consecutive segments concatenate into those of their union. A term with at least
`LONG` bytes of postings in a segment has a key of its own; the others share blocks
of about `BLOCK_BYTES` (a map from term to postings), so that a segment costs a few
writes per block of rare terms, not one per term.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Mapping
from typing import Final, NamedTuple

import msgspec

from memkv import layout
from memkv.backends.base import ReadTxn, Table, WriteTxn
from memkv.keys import prefix_end

LOW_32: Final = 0xFFFF_FFFF
POSTING: Final = struct.Struct("<QQ")
POSTING_BYTES: Final = POSTING.size
LONG: Final = 64 * POSTING_BYTES
BLOCK_BYTES: Final = 4000
_SWAP: Final = sys.byteorder != "little"


class Document(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """One indexed version of an entry: its key, its length in tokens (``dl``) and
    each of its terms (as `layout.term_text` gives it) with its frequency (``tf``)."""

    key: bytes
    length: int
    terms: dict[str, int]


class SegmentHead(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """A segment: the inverted index of the documents numbered from its first (its
    key) to ``end`` (exclusive), written once. ``documents``: how many of them it
    holds and are not gone; ``gone``: a bitmap, bit ``n - first`` set when document
    ``n`` is gone (its postings stay until the segment is rewritten)."""

    end: int
    documents: int
    gone: bytes = b""


class Segment(NamedTuple):
    """A segment's head, with the first document number and the prefix of its postings."""

    first: int
    head: SegmentHead
    prefix: bytes

    def holds_gone(self, number: int) -> bool:
        """Whether document ``number`` of this segment is gone."""
        gone = self.head.gone
        if not gone:
            return False
        offset = number - self.first
        return bool(gone[offset >> 3] >> (offset & 7) & 1)


_document_encoder: Final = msgspec.msgpack.Encoder()
_document_decoder: Final = msgspec.msgpack.Decoder(Document)
_head_encoder: Final = msgspec.msgpack.Encoder()
_head_decoder: Final = msgspec.msgpack.Decoder(SegmentHead)
_block_encoder: Final = msgspec.msgpack.Encoder()
_block_decoder: Final = msgspec.msgpack.Decoder(dict[str, bytes])
_terms_encoder: Final = msgspec.msgpack.Encoder()
_terms_decoder: Final = msgspec.msgpack.Decoder(list[str])

encode_document: Final = _document_encoder.encode
decode_document: Final = _document_decoder.decode
encode_head: Final = _head_encoder.encode
decode_head: Final = _head_decoder.decode
encode_terms: Final = _terms_encoder.encode  # the terms of a document gone from a segment
decode_terms: Final = _terms_decoder.decode


def load_segments(txn: ReadTxn) -> list[Segment]:
    """Every segment, by first document number."""
    skip = len(layout.SEGMENTS)
    found = []
    for key, value in txn.scan(Table.INDEX, layout.SEGMENTS, prefix_end(layout.SEGMENTS)):
        first = layout.decode_number(key[skip:])
        found.append(Segment(first, decode_head(value), layout.postings_prefix(first)))
    return found


def encode_postings(flat: list[int]) -> bytes:
    """Postings given as ``[number, frequency << 32 | length, ...]``."""
    numbers = array("Q", flat)
    if _SWAP:
        numbers.byteswap()
    return numbers.tobytes()


def decode_postings(data: bytes) -> array[int]:
    """The flat array `encode_postings` took."""
    numbers = array("Q")
    numbers.frombytes(data)
    if _SWAP:
        numbers.byteswap()
    return numbers


def put_postings(txn: WriteTxn, prefix: bytes, postings: Mapping[str, bytes | bytearray]) -> None:
    """Write a segment's postings (term as in keys -> encoded postings) under ``prefix``."""
    block: dict[str, bytes | bytearray] = {}
    block_key = b""
    size = 0
    for term in sorted(postings, key=str.encode):
        value = postings[term]
        if len(value) >= LONG:
            txn.put(Table.INDEX, prefix + layout.LONG_POSTINGS + term.encode(), bytes(value))
            continue
        if not block:
            block_key = prefix + layout.POSTING_BLOCKS + term.encode()
        block[term] = value
        size += len(term) + len(value) + 4
        if size >= BLOCK_BYTES:
            txn.put(Table.INDEX, block_key, _block_encoder.encode(block))
            block, size = {}, 0
    if block:
        txn.put(Table.INDEX, block_key, _block_encoder.encode(block))


def read_postings(txn: ReadTxn, prefix: bytes, term: bytes) -> bytes | None:
    """A term's encoded postings in the segment whose postings are under ``prefix``
    (``term`` as in keys; ``None``: it has none)."""
    value = txn.get(Table.INDEX, prefix + layout.LONG_POSTINGS + term)
    if value is not None:
        return value
    blocks = prefix + layout.POSTING_BLOCKS
    found = txn.scan(Table.INDEX, blocks, blocks + term + b"\x00", reverse=True, limit=1)
    return _block_decoder.decode(found[0][1]).get(term.decode()) if found else None


def all_postings(txn: ReadTxn, prefix: bytes) -> tuple[dict[str, bytes], list[bytes]]:
    """Every term's encoded postings in the segment whose postings are under
    ``prefix``, and the keys they are kept at."""
    found: dict[str, bytes] = {}
    keys = []
    skip = len(prefix) + 1
    for key, value in txn.scan(Table.INDEX, prefix, prefix_end(prefix)):
        keys.append(key)
        if key[skip - 1 : skip] == layout.LONG_POSTINGS:
            found[key[skip:].decode()] = value
        else:
            found.update(_block_decoder.decode(value))
    return found, keys
