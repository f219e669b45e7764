"""`MemkvCache`: LangGraph's node cache (`langgraph.cache.base.BaseCache`) on memkv.

A graph compiled with ``cache=MemkvCache(memory)`` keeps the writes of each node
that has a ``CachePolicy`` here, so that a later run with the same input skips the
node. Each value is one entry of the store's internal key space (never among the
user's memories), in category `CATEGORY`, encoded by the cache's ``serde`` as
LangGraph's other caches do, and stored with memkv's expiry: a value set with a
``ttl`` is hidden from every read once the store's clock passes it, and the store's
writes sweep it away later.

Keys are `memkv.keys.pack`ed: ``("langgraph.cache", "n", len(ns), *ns, "k", key)``,
so that a namespace's values share a prefix that no other namespace's do (not one
that nests inside it: its length comes first). A namespace or key too long to fit
memkv's key limit is replaced by a BLAKE2b digest under another tag (``"h"``), which
no short one can take.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec
from langgraph.cache.base import BaseCache, FullKey, Namespace, ValueT
from langgraph.checkpoint.serde.base import SerializerProtocol

from memkv.aio import AsyncMemory
from memkv.errors import InvalidArgument, InvalidKey
from memkv.expiry import check_ttl
from memkv.keys import pack
from memkv.memory import Memory, Reader, Transaction

CATEGORY: Final = "langgraph.cache"
"""The category of every cached value, in the internal key space."""

_ROOT: Final = pack(("langgraph.cache",))
_WHOLE: Final = "n"  # a namespace, label by label, behind its length
_KEY: Final = "k"
_DIGEST: Final = "h"  # a namespace or key too long to keep as it is
_NAMESPACE_BYTES: Final = 120  # its packed part kept as it is, at most
_KEY_BYTES: Final = 100
_DIGEST_SIZE: Final = 16


class CachedValue(msgspec.Struct, frozen=True, kw_only=True):
    """A cached value as the cache's ``serde`` encoded it (``dumps_typed``)."""

    encoding: str
    data: bytes


Write = tuple[str, CachedValue | None, int | None]  # key, value (None: remove), ttl


class MemkvCache(BaseCache[ValueT]):
    """LangGraph's node cache on any `memkv.Memory` (LMDB, in memory, PostgreSQL).

    ``get`` returns the values present and not expired (a missing key is left out);
    ``set`` stores every pair in one transaction, a ``ttl`` (seconds) making the
    value expire that long after by the store's clock (``None``: never; zero or
    less: the key is removed, as an expired value would never be returned);
    ``clear`` removes the given namespaces' values (exactly those namespaces, not
    the ones nested under them), or every value with no namespaces; clearing what is
    absent does nothing. The ``a`` twins do the same; their writes go through
    memkv's group commit (`memkv.aio.AsyncMemory`), shared with the other writes
    waiting.

    Raises (each operation):
        memkv.InvalidKey: a namespace label or key that is neither ``str`` nor ``int``,
            or holds a lone surrogate.
        memkv.InvalidArgument: a namespace that is not a tuple; a ttl that is not a
            number of seconds (nothing is set).
        memkv.StoreClosed, memkv.ReadOnlyStore (writes), memkv.BackendError.
    """

    def __init__(self, memory: Memory, *, serde: SerializerProtocol | None = None) -> None:
        if not isinstance(memory, Memory):
            raise InvalidArgument(
                f"MemkvCache needs a memkv.Memory, not {type(memory).__name__}: {memory!r:.80}"
            )
        super().__init__(serde=serde)
        self.memory = memory.internal  # values are not among the user's memories
        self._async = AsyncMemory(memory).internal

    # -- sync ----------------------------------------------------------------------------

    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, ValueT]:
        """The cached values of ``keys`` that are present and not expired, read
        from one snapshot."""
        if not keys:
            return {}
        wanted = _stored_keys(keys)
        return self._decoded(self.memory.snapshot(functools.partial(_read, wanted)))

    def set(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> None:
        """Store each value under its key with its ttl, all in one transaction."""
        writes = self._writes(pairs)
        if writes:
            self.memory.transact(functools.partial(_write, writes))

    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        """Remove the values of ``namespaces`` (``None``: every value)."""
        if namespaces is None:
            self.memory.purge(category=CATEGORY)
            return
        for prefix in _namespace_prefixes(namespaces):
            self.memory.purge(category=CATEGORY, prefix=prefix)

    # -- async ---------------------------------------------------------------------------

    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, ValueT]:
        """`get`, awaited (in a worker thread where the store's reads are remote)."""
        if not keys:
            return {}
        wanted = _stored_keys(keys)
        return self._decoded(await self._async.snapshot(functools.partial(_read, wanted)))

    async def aset(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> None:
        """`set`, group-committed with the other writes waiting."""
        writes = self._writes(pairs)
        if writes:
            await self._async.transact(functools.partial(_write, writes))

    async def aclear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        """`clear`, each batch an awaited transaction."""
        if namespaces is None:
            await self._async.purge(category=CATEGORY)
            return
        for prefix in _namespace_prefixes(namespaces):
            await self._async.purge(category=CATEGORY, prefix=prefix)

    # -- encoding ------------------------------------------------------------------------

    def _writes(self, pairs: Mapping[FullKey, tuple[ValueT, int | None]]) -> list[Write]:
        """``pairs`` checked and encoded, before any transaction runs.

        Raises:
            InvalidKey, InvalidArgument: see the class.
        """
        writes: list[Write] = []
        for (namespace, key), (value, ttl) in pairs.items():
            stored_key = _stored_key(namespace, key)
            if _already_expired(ttl):
                writes.append((stored_key, None, None))
                continue
            check_ttl(ttl)
            encoding, data = self.serde.dumps_typed(value)
            writes.append((stored_key, CachedValue(encoding=encoding, data=data), ttl))
        return writes

    def _decoded(self, found: list[tuple[FullKey, CachedValue]]) -> dict[FullKey, ValueT]:
        return {
            full_key: self.serde.loads_typed((value.encoding, value.data))
            for full_key, value in found
        }


def _read(wanted: list[tuple[FullKey, str]], view: Reader) -> list[tuple[FullKey, CachedValue]]:
    """The values present at the stored keys of ``wanted``, by their full keys."""
    found: list[tuple[FullKey, CachedValue]] = []
    for full_key, stored_key in wanted:
        entry = view.get(stored_key, type=CachedValue)
        if entry is not None:
            found.append((full_key, entry.content))
    return found


def _write(writes: list[Write], tx: Transaction) -> None:
    for stored_key, value, ttl in writes:
        if value is None:
            tx.forget(stored_key)
        else:
            tx.store(stored_key, value, CATEGORY, ttl=ttl)


def _already_expired(ttl: Any) -> bool:
    """A ttl of zero seconds or less: LangGraph's own caches never return such a value."""
    return isinstance(ttl, int | float) and not isinstance(ttl, bool) and ttl <= 0


def _stored_keys(keys: Sequence[FullKey]) -> list[tuple[FullKey, str]]:
    return [((namespace, key), _stored_key(namespace, key)) for namespace, key in keys]


def _stored_key(namespace: Namespace, key: str) -> str:
    """Where the value of ``key`` in ``namespace`` is kept.

    Raises:
        InvalidArgument, InvalidKey: see `_namespace_prefix`; the same of ``key``.
    """
    stored = pack((_KEY, key))
    if _utf8_length(stored, key) > _KEY_BYTES:
        stored = pack((_DIGEST, _digest(stored)))
    return _namespace_prefix(namespace) + stored


def _namespace_prefixes(namespaces: Sequence[Namespace]) -> list[str]:
    """The key prefixes of ``namespaces``, all checked before anything is removed."""
    return [_namespace_prefix(namespace) for namespace in namespaces]


def _namespace_prefix(namespace: Namespace) -> str:
    """The prefix of every key in ``namespace``, and of no key in another.

    Raises:
        InvalidArgument: ``namespace`` is not a tuple.
        InvalidKey: a label is neither ``str`` nor ``int``, or holds a lone surrogate.
    """
    if not isinstance(namespace, tuple):
        raise InvalidArgument(
            f"a cache namespace must be a tuple of labels, not {type(namespace).__name__}: "
            f"{namespace!r:.80}"
        )
    labels = pack((_WHOLE, len(namespace), *namespace))
    if _utf8_length(labels, namespace) > _NAMESPACE_BYTES:
        labels = pack((_DIGEST, _digest(labels)))
    return _ROOT + labels


def _utf8_length(packed: str, given: object) -> int:
    """The length of ``packed`` in UTF-8.

    Raises:
        InvalidKey: it holds a lone surrogate (from ``given``, which the error names).
    """
    try:
        return len(packed.encode())
    except UnicodeEncodeError as exc:
        raise InvalidKey(f"cache key part {given!r:.80} is not UTF-8: {exc.reason}") from exc


def _digest(packed: str) -> str:
    return hashlib.blake2b(packed.encode(), digest_size=_DIGEST_SIZE).hexdigest()
