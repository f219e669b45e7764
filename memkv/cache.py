"""The read cache: an LRU of recently read entries that is never stale.

Coherence rests on the backend's commit id, which every committed write transaction
(of any handle, thread or process) increases by exactly one. The cache holds entries
as of one commit, its *stamp*:

* a lookup hits only if the store's current commit id equals the stamp, so no entry
  can be served after any write, here or elsewhere, until it is re-validated;
* a value read from snapshot ``s`` is kept only if ``s`` is the stamp; a newer
  snapshot empties the cache and becomes the stamp;
* a commit ``t`` made through this cache's `Memory` updates the written keys in place
  if the stamp was ``t - 1`` (nothing else changed in between), else empties it.

Lookups take no lock (a dict read under the GIL); changes take one.

Content that could be mutated by the caller (dicts, lists, Structs) is never handed
out from the cache: for those the cache keeps the record and decodes a fresh copy.
"""

from __future__ import annotations

import threading
from typing import Final

import cachetools

from memkv.entry import MemoryEntry, StoredRecord

_IMMUTABLE_CONTENT: Final = frozenset({str, bytes, int, float, bool, type(None)})


class CachedEntry:
    """What the cache keeps for one key: its record (``None``: the key is absent), and
    the decoded entry when it is safe to share (else ``None``)."""

    __slots__ = ("entry", "record")

    def __init__(self, record: StoredRecord | None, entry: MemoryEntry | None) -> None:
        self.record = record
        shareable = entry is not None and type(entry.content) in _IMMUTABLE_CONTENT
        self.entry = entry if shareable else None


ABSENT: Final = CachedEntry(None, None)
"""Cached knowledge that a key is not stored."""


class ReadCache:
    """See the module docstring. ``maxsize`` is the number of keys kept."""

    def __init__(self, maxsize: int) -> None:
        self._entries: cachetools.LRUCache[str, CachedEntry] = cachetools.LRUCache(maxsize)
        self._stamp = -1
        self._lock = threading.Lock()

    def lookup(self, key: str, commit_id: int) -> CachedEntry | None:
        """The cached entry for ``key`` if still valid at ``commit_id``, else ``None``."""
        if commit_id != self._stamp:
            return None
        try:
            return self._entries[key]
        except (KeyError, TypeError):  # TypeError: an unhashable key, refused later
            return None

    def fill(self, key: str, cached: CachedEntry, snapshot_id: int) -> None:
        """Keep what was read for ``key`` from snapshot ``snapshot_id``."""
        with self._lock:
            if snapshot_id > self._stamp:
                self._entries.clear()
                self._stamp = snapshot_id
            if snapshot_id == self._stamp:
                self._entries[key] = cached

    def apply_commit(self, txn_id: int, written: dict[str, CachedEntry]) -> None:
        """Record the keys a transaction of this handle wrote, committed as ``txn_id``."""
        with self._lock:
            if self._stamp > txn_id:
                return  # readers already refilled from a later snapshot
            if self._stamp < txn_id - 1:
                self._entries.clear()
            self._stamp = txn_id
            for key, cached in written.items():
                self._entries[key] = cached

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._stamp = -1

    def __len__(self) -> int:
        return len(self._entries)
