"""How `MemkvStore` answers a search: the items under a namespace prefix that pass
the filter, in one of three orders, read from a `Source`.

* no query: most recently updated first, then key order;
* a query and an index: by cosine similarity (`memkv.langgraph.vectors`);
* a query and no index: by memkv's recall (BM25), within the prefix and category.

A ranked search is followed by the items that pass the filter but were not ranked (no
vector, no term of the query), without a score, newest first.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, NamedTuple

from langgraph.store.base import SearchOp

from memkv.entry import MemoryEntry
from memkv.errors import TypeMismatch
from memkv.langgraph import items as layout
from memkv.langgraph import vectors
from memkv.langgraph.items import ItemVectors, Namespace, StoredItem
from memkv.views import Reader, ReadOperations

Found = list[tuple[float | None, MemoryEntry[StoredItem]]]


class Newest(NamedTuple):
    """The items under a namespace prefix."""

    entries: list[MemoryEntry[StoredItem]]  # most recently updated first, then key order
    by_key: dict[str, MemoryEntry[StoredItem]]


class Source(ABC):
    """Where a search reads the items, vectors and recall hits under a prefix."""

    @abstractmethod
    def newest(self, namespace_prefix: Namespace) -> Newest: ...

    @abstractmethod
    def vectors(self, namespace_prefix: Namespace) -> vectors.VectorTable: ...

    @abstractmethod
    def item(self, key: str) -> MemoryEntry[StoredItem] | None:
        """The item at a memkv key (``None``: absent, expired, or not an item)."""

    @abstractmethod
    def recall(
        self, query: str, limit: int | None, namespace_prefix: Namespace
    ) -> list[MemoryEntry[Any]]: ...


class ViewSource(Source):
    """Reads of one view: a snapshot's, or a transaction's (which sees its writes)."""

    def __init__(self, view: Reader, category: str, dims: int) -> None:
        self.view = view
        self.category = category
        self.dims = dims

    def newest(self, namespace_prefix: Namespace) -> Newest:
        return read_newest(self.view, self.category, namespace_prefix)

    def vectors(self, namespace_prefix: Namespace) -> vectors.VectorTable:
        return read_vectors(self.view, self.category, namespace_prefix, self.dims)

    def item(self, key: str) -> MemoryEntry[StoredItem] | None:
        return read_item(self.view, self.category, key)

    def recall(
        self, query: str, limit: int | None, namespace_prefix: Namespace
    ) -> list[MemoryEntry[Any]]:
        prefix = layout.namespace_prefix(namespace_prefix)
        return self.view.recall(query, limit, category=self.category, prefix=prefix)


def read_item(view: ReadOperations, category: str, key: str) -> MemoryEntry[StoredItem] | None:
    """The item of ``category`` at ``key``, or ``None`` (absent, expired, or an entry
    of another category)."""
    try:
        entry = view.get(key, type=StoredItem)
    except TypeMismatch:
        other = view.get(key)
        if other is not None and other.category != category:
            return None
        raise
    if entry is None or entry.category != category:
        return None
    return entry


def read_newest(view: Reader, category: str, namespace_prefix: Namespace) -> Newest:
    """The items under ``namespace_prefix`` (one range scan of the category's index)."""
    prefix = layout.namespace_prefix(namespace_prefix)
    entries = view.list(category, prefix=prefix, type=StoredItem)
    by_key = {entry.key: entry for entry in entries}
    entries.sort(key=lambda entry: entry.timestamp, reverse=True)  # stable: keys in ties
    return Newest(entries, by_key)


def read_vectors(
    view: Reader, category: str, namespace_prefix: Namespace, dims: int
) -> vectors.VectorTable:
    """The vectors of the items under ``namespace_prefix`` (one range scan of the
    internal key space)."""
    prefix = layout.vectors_prefix(category, namespace_prefix)
    stored = view.internal.list(category, prefix=prefix, type=ItemVectors)
    return vectors.table(
        (
            (layout.item_key_of_vectors(category, entry.key), entry.content.vectors)
            for entry in stored
        ),
        dims,
    )


def search(source: Source, op: SearchOp, query_vector: list[float] | None, keywords: bool) -> Found:
    """The page ``op`` asks for: ranked by ``query_vector`` if given, else by recall if
    ``keywords`` (and the op has a query), else newest first."""
    wanted = op.offset + op.limit
    passes = layout.predicate(op.filter)
    if query_vector is not None:
        found = _by_vectors(source, op, passes, query_vector, wanted)
    elif keywords and op.query:
        found = _by_keywords(source, op, passes, op.query, wanted)
    else:
        found = _then_unranked([], source.newest(op.namespace_prefix), passes, wanted, frozenset())
    return found[op.offset : wanted]


def _by_vectors(
    source: Source, op: SearchOp, passes: layout.Predicate, query: list[float], wanted: int
) -> Found:
    """Without a filter, the best items are read one by one, and the items under the
    prefix only if too few have vectors; with one, all of them are."""
    table = source.vectors(op.namespace_prefix)
    if op.filter:
        newest = source.newest(op.namespace_prefix)
        allowed = {key for key, entry in newest.by_key.items() if passes(entry.content.value)}
        ranked = vectors.rank(table, query, wanted, allowed)
        found: Found = [(score, newest.by_key[key]) for score, key in ranked]
        return _then_unranked(found, newest, passes, wanted, table.held)
    asked = wanted
    while True:
        ranked = vectors.rank(table, query, asked)
        found = []
        for score, key in ranked:
            entry = source.item(key)  # None: vectors of an item gone since they were read
            if entry is not None:
                found.append((score, entry))
        if len(found) >= wanted or len(ranked) < asked:
            break
        asked *= 2
    found = found[:wanted]
    if len(found) < wanted:
        newest = source.newest(op.namespace_prefix)
        return _then_unranked(found, newest, passes, wanted, table.held)
    return found


def _by_keywords(
    source: Source, op: SearchOp, passes: layout.Predicate, query: str, wanted: int
) -> Found:
    """Without a filter, the best hits are read one by one, and the items under the
    prefix only if too few match; with one, all of them are."""
    if op.filter:
        newest = source.newest(op.namespace_prefix)
        found: Found = []
        for hit in source.recall(query, None, op.namespace_prefix):
            entry = newest.by_key.get(hit.key)  # absent: not an item, or read at another commit
            if entry is not None and passes(entry.content.value):
                found.append((hit.score, entry))
                if len(found) >= wanted:
                    break
        return _then_unranked(found, newest, passes, wanted, {entry.key for _, entry in found})
    found = []
    for hit in source.recall(query, wanted, op.namespace_prefix):
        entry = source.item(hit.key)  # None: not an item
        if entry is not None:
            found.append((hit.score, entry))
    if len(found) < wanted:
        newest = source.newest(op.namespace_prefix)
        return _then_unranked(found, newest, passes, wanted, {entry.key for _, entry in found})
    return found


def _then_unranked(
    found: Found,
    newest: Newest,
    passes: layout.Predicate,
    wanted: int,
    ranked: set[str] | frozenset[str],
) -> Found:
    """``found``, then the items that pass the filter and are not in ``ranked``,
    newest first, up to ``wanted``."""
    for entry in newest.entries:
        if len(found) >= wanted:
            break
        if entry.key not in ranked and passes(entry.content.value):
            found.append((None, entry))
    return found
