"""Recall: keyword search over the user's memories, ranked by Okapi BM25.

Scoring is BM25 with ``k1 = 1.2``, ``b = 0.75``,
``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``, summed over the distinct query terms
(tokens: `memkv.text`). Its statistics are exact after every commit, whatever the
backend, group commit or crash: everything the index holds is written by the
transaction that writes the entry.

Each indexed version of an entry is a numbered *document* (`records.Document`). A
write adds or removes documents at a cost that does not depend on the entry's
number of terms; the inverted index (postings per term, and how many documents hold
each term) is kept in *segments* that the writes bring up to date in bulk, once
enough of them are pending (`writing`). A search reads the segments and the pending
documents alike (`reading`). `memkv.layout` says where each record is kept.
"""

from memkv.recall.checking import check
from memkv.recall.reading import Accept, documents_of, most_recent, search
from memkv.recall.setting import choose, kept, setting
from memkv.recall.writing import Count, EntryText, Indexed, rebuild, settle, update

__all__ = [
    "Accept",
    "Count",
    "EntryText",
    "Indexed",
    "check",
    "choose",
    "documents_of",
    "kept",
    "most_recent",
    "rebuild",
    "search",
    "setting",
    "settle",
    "update",
]
