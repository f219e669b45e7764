"""The text of an entry, as recall sees it: what is indexed, and how it becomes terms.

* An entry's indexed text is its key, plus every ``str`` in its content: the content
  itself if it is a ``str``, else the ``str`` values found recursively in the values
  of dicts and the items of lists. Content is taken as it is stored (as msgspec
  decodes it without a type): a Struct is the map (or array) of its fields, with its
  tag if it has one. Dict keys, bytes, numbers and other values are not indexed.
* Each string is normalised (Unicode NFKC, then `str.casefold`) and cut into tokens:
  maximal runs of word characters (``re``'s ``\\w``: letters, digits, underscore).
* Within a token, each maximal run of CJK characters (`CJK_RANGES`: Han, Hiragana,
  Katakana, Hangul) becomes its overlapping two-character bigrams (a run of one
  character stays one token), and the rest of the token stays whole: "東京" (one
  bigram) finds "東京タワーに行った" (eight).
* A query is tokenised the same way; its terms are its distinct tokens.

The functions here know nothing of storage (see `memkv.recall`).
"""

from __future__ import annotations

import collections
import re
import unicodedata
from collections.abc import Iterator
from typing import Any, Final

CJK_RANGES: Final = (
    ("\u1100", "\u11ff"),  # Hangul Jamo
    ("\u3005", "\u3007"),  # ideographic iteration mark, closing mark, number zero (Han)
    ("\u3021", "\u3029"),  # Hangzhou numerals (Han)
    ("\u3038", "\u303b"),  # Han
    ("\u3041", "\u309f"),  # Hiragana
    ("\u30a0", "\u30ff"),  # Katakana (with the prolonged sound mark ー)
    ("\u3131", "\u318e"),  # Hangul Compatibility Jamo
    ("\u31f0", "\u31ff"),  # Katakana Phonetic Extensions
    ("\u3400", "\u4dbf"),  # CJK Unified Ideographs Extension A
    ("\u4e00", "\u9fff"),  # CJK Unified Ideographs
    ("\ua960", "\ua97f"),  # Hangul Jamo Extended-A
    ("\uac00", "\ud7af"),  # Hangul Syllables
    ("\ud7b0", "\ud7ff"),  # Hangul Jamo Extended-B
    ("\uf900", "\ufaff"),  # CJK Compatibility Ideographs
    ("\U0001b000", "\U0001b16f"),  # Kana Supplement and Extended-A
    ("\U00020000", "\U0003134f"),  # CJK Unified Ideographs Extensions B to G
)
"""The characters whose runs are cut into bigrams, as (first, last) ranges."""

_CJK_CLASS: Final = "".join(f"{first}-{last}" for first, last in CJK_RANGES)
_WORDS: Final = re.compile(r"\w+")
_CJK_OR_NOT: Final = re.compile(f"([{_CJK_CLASS}]+)|[^{_CJK_CLASS}]+")
_HAS_CJK: Final = re.compile(f"[{_CJK_CLASS}]")

Terms = collections.Counter[str]  # term -> how often it occurs (its tf)


def tokens(text: str) -> list[str]:
    """The tokens of ``text``, in order, repeats included (see the module docstring)."""
    if text.isascii():  # NFKC leaves ASCII as it is; casefold is lower
        return _WORDS.findall(text.lower())
    words = _WORDS.findall(unicodedata.normalize("NFKC", text).casefold())
    if not any(_HAS_CJK.search(word) for word in words):
        return words
    found: list[str] = []
    for word in words:
        for piece in _CJK_OR_NOT.finditer(word):
            run = piece.group(1)
            if run is None:
                found.append(piece.group())
            elif len(run) == 1:
                found.append(run)
            else:
                found += [run[i : i + 2] for i in range(len(run) - 1)]
    return found


def query_terms(query: str) -> list[str]:
    """The distinct terms of a query, in order of first appearance."""
    return list(dict.fromkeys(tokens(query)))


def entry_terms(key: str, content: Any) -> tuple[Terms, int]:
    """The terms of an entry's indexed text with their frequencies, and its length in
    tokens (its ``dl``). ``content`` as decoded without a type (see above)."""
    found = tokens(key)
    if isinstance(content, str):
        found += tokens(content)
    else:
        for text in strings_of(content):
            found += tokens(text)
    return collections.Counter(found), len(found)


def strings_of(content: Any) -> Iterator[str]:
    """Every ``str`` in ``content`` that is indexed (see the module docstring)."""
    if isinstance(content, str):
        yield content
    elif isinstance(content, dict):
        for value in content.values():
            yield from strings_of(value)
    elif isinstance(content, list | tuple):
        for item in content:
            yield from strings_of(item)
