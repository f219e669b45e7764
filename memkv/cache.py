"""The read cache: recently read entries, never stale, in a cachetools cache.

Coherence rests on the backend's commit id, which every committed write transaction
(of any handle, thread or process) increases by exactly one. The cache holds entries
as of one commit, its `stamp`:

* a lookup may hit only if the store's current commit id equals the stamp, so no
  entry is served after a write anywhere until it is re-validated;
* a value read from snapshot ``s`` is kept only if ``s`` is the stamp; a newer
  snapshot empties the cache and becomes the stamp;
* a commit ``t`` made through this cache's `Memory` updates the written keys that
  are cached if the stamp was ``t - 1`` (nothing else changed in between), else
  empties the cache.

Policy: a key enters the cache on its second miss (a "doorkeeper" set remembers the
first), so one-off reads neither pay for an insertion nor push anything out; the
cache evicts in insertion order (cachetools' FIFOCache). With admission doing the
filtering, FIFO keeps nearly what an LRU would, and its hit costs a dict lookup where
an LRU hit reorders a list (75 ns against 150 ns here, on a path of 300 ns).

An entry that has expired (`memkv.expiry`) stays cached as it is and is served as
absent: expiry depends on the clock, not on a commit.

What the cache keeps for a key: the `MemoryEntry` itself when its content is
immutable (str, bytes, numbers, None), else the encoded record, decoded afresh on
every hit so that no caller can mutate what another caller reads; or `ABSENT`.

`ReadCache.get` is `memkv.Memory.get`: a hit is one comparison with the commit id
and one dict lookup (for an entry that can be shared); a miss is one point read of
the store, offered to the cache. `Uncached` stands in when the cache is off. Once
closed, either raises `StoreClosed` from every `get`. Lookups take no lock (dict
reads under the GIL); changes take one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final, NoReturn, Protocol

import cachetools

from memkv.clock import SYSTEM_CLOCK, Now
from memkv.entry import (
    CHECKED,
    RESIDUE,
    MemoryEntry,
    convert_content,
    crc32c,
    decode_entry,
    decode_unchecked,
    entry_decoder,
)
from memkv.errors import StoreClosed
from memkv.keys import encode_key

ReadRecord = Callable[[bytes], bytes | None]  # the stored record of a (valid) key, or None

ABSENT: Final = object()
"""Cached knowledge that a key is not stored."""


_MISS: Final = object()  # not in the cache


class EntryReads(Protocol):
    """How `memkv.Memory.get` reads: `ReadCache`, or `Uncached`."""

    def get(self, key: str, type: Any = None) -> MemoryEntry[Any] | None:  # noqa: A002
        """The entry at ``key``, or ``None`` (see `memkv.Memory.get`)."""
        ...

    def close(self, message: str) -> None:
        """Forget everything; from now on `get` raises `StoreClosed` (``message``)."""
        ...


CachedValue = MemoryEntry[Any] | bytes | object

_SHAREABLE_CONTENT: Final = frozenset({str, bytes, int, float, bool, type(None)})
# The doorkeeper forgets all once it holds maxsize keys: a key missed again after
# that many other misses would have left an LRU of maxsize keys anyway.
_DOORKEEPER_FACTOR: Final = 1


def cached_value(entry: MemoryEntry[Any], record: bytes) -> CachedValue:
    """What to cache for an entry read or written as ``record``."""
    return entry if type(entry.content) in _SHAREABLE_CONTENT else record


class _Entries(cachetools.FIFOCache[str, CachedValue]):
    """The cache (cachetools decides what to evict), mirrored in a plain dict,
    `plain`, that lookups read: one C call for a hit or a miss, where cachetools
    answers through Python methods (and a miss by raising KeyError inside)."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self.plain: dict[str, CachedValue] = {}

    def __setitem__(self, key: str, value: CachedValue) -> None:
        super().__setitem__(key, value)
        self.plain[key] = value

    def popitem(self) -> tuple[str, CachedValue]:
        key, value = super().popitem()
        self.plain.pop(key, None)
        return key, value

    def clear(self) -> None:
        super().clear()
        self.plain.clear()


class ReadCache:
    """See the module docstring. ``maxsize`` is the number of keys kept;
    ``read_record`` reads a record from the store, ``commit_id`` returns the store's
    last commit (both as cheaply as the backend can)."""

    __slots__ = (
        "_commit_id",
        "_entries",
        "_lock",
        "_maxsize",
        "_now",
        "_read_record",
        "_values",
        "doorkeeper",
        "stamp",
    )

    def __init__(
        self,
        maxsize: int,
        read_record: ReadRecord,
        commit_id: Callable[[], int],
        now: Now = SYSTEM_CLOCK.now,
    ) -> None:
        self._entries = _Entries(maxsize)
        self._values = self._entries.plain
        self.stamp = -1  # the commit the cached values are as of
        self._maxsize = maxsize
        self.doorkeeper: set[str] = set()  # keys missed once since the last admission
        self._lock = threading.Lock()
        self._read_record = read_record
        self._commit_id = commit_id
        self._now = now  # an expired entry is served as absent

    def get(self, key: str, type: Any = None) -> MemoryEntry[Any] | None:  # noqa: A002
        """The entry at ``key`` (see `memkv.Memory.get`): the cached one while the
        store's last commit is the cache's stamp, else read from the store (and
        offered to the cache).

        Raises:
            InvalidKey, InvalidArgument, TypeMismatch, CorruptRecord; StoreClosed.
        """
        current = self._commit_id()
        if current == self.stamp:
            try:
                cached = self._values.get(key, _MISS)
            except TypeError:  # unhashable, so not a key: `encode_key` says why
                cached = _MISS
            if cached is not _MISS:
                if cached.__class__ is MemoryEntry and type is None and cached.expires_at is None:
                    return cached
                return _unexpired(_served(key, cached, type), self._now)
        # A miss: read from the store, as of commit ``current`` or later, and offer
        # what was read to the cache (inline, not a method: every cold read takes it).
        raw_key = encode_key(key)
        if type is not None:
            entry_decoder(type)
        # The snapshot read below is at least `current`: labelling what it returns
        # with `current` is safe (the cache only ever serves at stamp == commit id).
        record = self._read_record(raw_key)
        if record is None or type is not None:
            entry = None if record is None else decode_entry(key, record, type)
        else:
            try:  # `decode_entry` in two C calls: this is the path of every cold read
                entry = decode_unchecked(record)
            except ValueError:
                entry = decode_entry(key, record)  # raises CorruptRecord, naming the key
            if (crc32c(record) != RESIDUE and record[:1] == CHECKED) or entry.key != key:
                decode_entry(key, record)  # raises CorruptRecord: altered, or another key's
        doorkeeper = self.doorkeeper
        if current == self.stamp and key not in doorkeeper:
            doorkeeper.add(key)  # a first miss, the usual case: see `fill`
        else:
            self.fill(key, entry if type is None else None, record, current)
        if entry is None or entry.expires_at is None:  # `_unexpired`, less a call
            return entry
        return _unexpired(entry, self._now)

    def fill(
        self, key: str, entry: MemoryEntry[Any] | None, record: bytes | None, snapshot_id: int
    ) -> None:
        """Offer what was read for ``key`` (``record`` None: absent) from snapshot
        ``snapshot_id``; ``entry`` is the decoded record, if it was decoded untyped."""
        doorkeeper = self.doorkeeper
        if snapshot_id == self.stamp and key not in doorkeeper:
            doorkeeper.add(key)  # first miss: remember, do not admit
            return
        if record is None:
            value: CachedValue = ABSENT
        else:
            value = record if entry is None else cached_value(entry, record)
        with self._lock:
            if snapshot_id > self.stamp:
                self._entries.clear()
                self.stamp = snapshot_id
            if snapshot_id == self.stamp:
                if len(doorkeeper) > _DOORKEEPER_FACTOR * self._maxsize:
                    doorkeeper.clear()  # forget old first misses now and then
                else:
                    doorkeeper.discard(key)
                self._entries[key] = value

    def apply_commit(self, txn_id: int, written: dict[str, CachedValue]) -> None:
        """Learn the keys a transaction of this handle wrote, committed as ``txn_id``."""
        with self._lock:
            if self.stamp > txn_id:
                return  # readers already refilled from a later snapshot
            if self.stamp < txn_id - 1:
                self._entries.clear()
                self.stamp = txn_id
                return
            self.stamp = txn_id
            entries = self._entries
            for key, value in written.items():
                if key in entries:
                    entries[key] = value

    def close(self, message: str) -> None:
        """Forget everything; from now on `get` raises `StoreClosed` (``message``),
        even where it was bound before (`memkv.Memory.get`)."""
        self._commit_id = _refusing(message)
        with self._lock:
            self._entries.clear()
            self.doorkeeper.clear()
            self.stamp = -1

    def __contains__(self, key: str) -> bool:
        """Whether ``key`` is cached (valid or not at the store's current commit)."""
        return key in self._values

    def __len__(self) -> int:
        return len(self._entries)


def _unexpired(entry: MemoryEntry[Any] | None, now: Now) -> MemoryEntry[Any] | None:
    """``entry``, or ``None`` if it has expired (`memkv.expiry`)."""
    if entry is None or entry.expires_at is None or entry.expires_at > now():
        return entry
    return None


def _served(key: str, cached: CachedValue, type: Any) -> MemoryEntry[Any] | None:  # noqa: A002
    """A cached value as `get` returns it: a record decoded afresh, an entry's content
    converted to ``type``, `ABSENT` as ``None``."""
    if cached is ABSENT:
        return None
    if isinstance(cached, bytes):
        return decode_entry(key, cached, type)
    if type is None:
        return cached  # type: ignore[return-value]
    return convert_content(cached, type)  # type: ignore[arg-type]


class Uncached:
    """`EntryReads` with the cache off: every `get` is one point read."""

    __slots__ = ("_closed", "_now", "_read_record")

    def __init__(self, read_record: ReadRecord, now: Now = SYSTEM_CLOCK.now) -> None:
        self._read_record = read_record
        self._now = now
        self._closed: str | None = None  # once closed, what StoreClosed says

    def get(self, key: str, type: Any = None) -> MemoryEntry[Any] | None:  # noqa: A002
        """See `ReadCache.get`."""
        if self._closed is not None:
            raise StoreClosed(self._closed)
        raw_key = encode_key(key)
        if type is not None:
            entry_decoder(type)
        record = self._read_record(raw_key)
        return None if record is None else _unexpired(decode_entry(key, record, type), self._now)

    def close(self, message: str) -> None:
        """From now on `get` raises `StoreClosed` (``message``)."""
        self._closed = message


def _refusing(message: str) -> Callable[..., NoReturn]:
    def refuse(*_args: object) -> NoReturn:
        raise StoreClosed(message)

    return refuse
