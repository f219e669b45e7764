"""LangGraph's long-term memory store on memkv: `MemkvStore`, `AsyncMemkvStore`.

Either is a ``langgraph.store.base.BaseStore`` over any `memkv.Memory` (LMDB, in
memory, PostgreSQL), and swaps for ``SqliteStore`` / ``AsyncSqliteStore`` in one line.
How items are kept is in `memkv.langgraph.items`; what a batch does:

* its puts (the last one per item wins; a ``None`` value deletes) are one memkv
  transaction, after the reads of the batch, which see the store as it was before it;
  `AsyncMemkvStore` hands it to memkv's group commit, so concurrent ``aput`` calls
  share commits and never meet a lock error;
* a search without a query returns the items under the namespace prefix that pass
  the filter, most recently updated first; with a query and an index (embeddings)
  it ranks them by cosine similarity; with a query and no index, by memkv's recall
  (BM25 over the item's key and the strings of its value). Either way the items that
  match the filter but not the query follow, without a score, as in LangGraph's own
  stores;
* a read of an item with a time to live starts it again (``refresh_ttl``), in a
  transaction after the reads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, Unpack, cast

import msgspec
from langchain_core.embeddings import Embeddings
from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    ensure_embeddings,
)

from memkv.aio import AsyncMemory
from memkv.entry import MemoryEntry
from memkv.errors import Conflict, InvalidArgument, NotFound
from memkv.keys import check_name, quote_key
from memkv.langgraph import items as layout
from memkv.langgraph import searching, vectors
from memkv.langgraph.items import CATEGORY, ItemVectors, Namespace, StoredItem
from memkv.memory import Memory
from memkv.opening import OpenOptions
from memkv.opening import open as open_memory
from memkv.views import Reader, ReadOperations, Transaction

__all__ = ["AsyncMemkvStore", "MemkvStore"]

_log = logging.getLogger(__name__)
_DEFAULT_SWEEP_MINUTES = 5
R = TypeVar("R")


@dataclass
class _Plan:
    """A checked batch: its reads in order, its puts (last per item), and what must be
    embedded before it runs."""

    size: int
    reads: list[tuple[int, GetOp | SearchOp | ListNamespacesOp]] = field(default_factory=list)
    puts: dict[tuple[Namespace, str], PutOp] = field(default_factory=dict)
    texts: list[tuple[PutOp, str, str]] = field(default_factory=list)  # (op, field, text)
    queries: list[str] = field(default_factory=list)  # to embed


@dataclass
class _Refresh:
    """Items read that have a time to live to start again: memkv key -> minutes."""

    ttls: dict[str, float] = field(default_factory=dict)


class _ReadsCache:
    """Reads of the memkv store kept as of one commit (namespace listings, the items
    under a namespace prefix), each valid until the next commit by any process or the
    next expiry of an entry, whichever comes first (`memkv.views.Reader.next_expiry`).
    Kept only where reads are local (LMDB, in memory), where asking for the commit
    id costs nothing; at most `KEPT` reads, and `KEPT_ITEMS` items in all."""

    KEPT = 64
    KEPT_ITEMS = 50_000

    def __init__(self, memory: Memory) -> None:
        backend = memory.backend
        self._commit_id = backend.commit_id_reader() if backend.local_reads else None
        self._clock = memory.clock
        self._stamp = -1
        self._until: datetime | None = None
        self._kept: dict[Hashable, Any] = {}
        self._items = 0
        self._lock = threading.Lock()  # for changes; look-ups take none (dict reads)

    def stamp(self) -> int:
        """The commit id now (read before the snapshot a read is made in)."""
        return -1 if self._commit_id is None else self._commit_id()

    def look_up(self, key: Hashable) -> Any:
        """What was read for ``key``, if it is still what a read would find."""
        if self._commit_id is None or not self._kept:
            return None
        if self._commit_id() != self._stamp or (
            self._until is not None and self._clock.now() >= self._until
        ):
            with self._lock:
                self._kept.clear()
                self._items = 0
            return None
        try:
            return self._kept.get(key)
        except TypeError:  # a condition's path given as a list: not hashable
            return None

    def keep(
        self, key: Hashable, found: Any, size: int, stamp: int, until: datetime | None
    ) -> None:
        """Keep ``found`` (``size`` items), read in a snapshot taken after the commit
        id was ``stamp``, if the store is still at ``stamp`` (so that it was that
        snapshot's)."""
        if self._commit_id is None or size > self.KEPT_ITEMS:
            return
        with self._lock:
            if self._commit_id() != stamp:
                return
            full = len(self._kept) >= self.KEPT or self._items + size > self.KEPT_ITEMS
            if stamp != self._stamp or full:
                self._kept.clear()
                self._items = 0
                self._until = until
                self._stamp = stamp
            with contextlib.suppress(TypeError):
                self._kept[key] = found
                self._items += size


class _CachedSource(searching.Source):
    """A search's reads through the store's reads cache (recall in a snapshot of its
    own)."""

    def __init__(self, store: _StoreCore) -> None:
        self.store = store

    def newest(self, namespace_prefix: Namespace) -> searching.Newest:
        store = self.store
        return store._cached(
            ("items", namespace_prefix),
            lambda view: searching.read_newest(view, store.category, namespace_prefix),
            lambda newest: len(newest.entries),
        )

    def vectors(self, namespace_prefix: Namespace) -> vectors.VectorTable:
        store = self.store
        return store._cached(
            ("vectors", namespace_prefix),
            lambda view: searching.read_vectors(
                view, store.category, namespace_prefix, store._dims
            ),
            lambda table: len(table.keys),
        )

    def item(self, key: str) -> MemoryEntry[StoredItem] | None:
        return searching.read_item(self.store.memory, self.store.category, key)

    def recall(
        self, query: str, limit: int | None, namespace_prefix: Namespace
    ) -> list[MemoryEntry[Any]]:
        prefix = layout.namespace_prefix(namespace_prefix)
        return self.store.memory.recall(query, limit, category=self.store.category, prefix=prefix)


class _StoreCore:
    """What `MemkvStore` and `AsyncMemkvStore` share: checking a batch, and running
    its reads and writes on memkv views."""

    supports_ttl = True

    def _setup(
        self,
        memory: Memory,
        index: IndexConfig | None,
        ttl: TTLConfig | None,
        category: str,
    ) -> None:
        if not isinstance(memory, Memory):
            raise InvalidArgument(f"memory must be a memkv.Memory, not {type(memory).__name__}")
        self.memory = memory
        self.category = check_name(category, "category")
        self.index_config = dict(index) if index is not None else None
        self.embeddings: Embeddings | None = None
        self._paths: vectors.Paths = []
        self._dims = 0
        if index is not None:
            dims = index.get("dims")
            if not isinstance(dims, int) or isinstance(dims, bool) or dims <= 0:
                raise InvalidArgument(f"index dims must be a positive int, not {dims!r}")
            self._dims = dims
            self.embeddings = ensure_embeddings(index.get("embed"))
            self._paths = vectors.configured_paths(index)
        self.ttl_config = ttl
        self._sweeper_stop = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._sweeper_done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._recall_kept: bool | None = None  # does the memkv store keep recall? (asked once)
        self._cache = _ReadsCache(memory)

    # -- checking a batch ------------------------------------------------------------

    def _plan(self, ops: Iterable[Op]) -> _Plan:
        """Check every op before anything runs.

        Raises:
            InvalidNamespaceError, InvalidKey, InvalidArgument: a bad op (nothing runs).
        """
        plan = _Plan(size=0)
        for position, given in enumerate(ops):
            plan.size = position + 1
            op = _with_tuple_namespace(given)
            if isinstance(op, PutOp):
                self._check_put(op)
                plan.puts[(op.namespace, op.key)] = op
                continue
            _check_read(op)
            plan.reads.append((position, op))
            query = op.query if isinstance(op, SearchOp) else None
            if query and self.embeddings is not None and query not in plan.queries:
                plan.queries.append(query)
        if self.embeddings is not None:
            for op in plan.puts.values():
                plan.texts += [
                    (op, name, text) for name, text in vectors.texts_to_embed(op, self._paths)
                ]
        return plan

    def _check_put(self, op: PutOp) -> None:
        namespace = layout.check_namespace(op.namespace, for_put=True)
        if namespace[0] == "langgraph":
            raise InvalidNamespaceError(f'a namespace cannot start with "langgraph": {namespace!r}')
        layout.item_key(namespace, layout.check_item_key(op.key))
        if op.value is not None and not isinstance(op.value, dict):
            raise InvalidArgument(
                f"the value of item {op.key!r} in {namespace!r} must be a dict, "
                f"not {type(op.value).__name__}"
            )
        if op.ttl is not None:
            ttl = op.ttl
            if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
                raise InvalidArgument(
                    f"the ttl of item {op.key!r} in {namespace!r} must be a number of "
                    f"minutes > 0 or None, not {ttl!r}"
                )
        if op.index not in (None, False) and (
            not isinstance(op.index, list) or not all(isinstance(path, str) for path in op.index)
        ):
            raise InvalidArgument(
                f"index must be None, False or a list of field paths: {op.index!r}"
            )

    def _vectors_of(self, plan: _Plan, embedded: list[list[float]]) -> dict[int, dict[str, bytes]]:
        """The vectors of each put, by ``id(op)``, from the embeddings of its texts."""
        if len(embedded) != len(plan.texts):
            raise InvalidArgument(
                f"the embedding function returned {len(embedded)} vectors for "
                f"{len(plan.texts)} texts"
            )
        found: dict[int, dict[str, bytes]] = {}
        for (op, name, _), vector in zip(plan.texts, embedded, strict=True):
            where = f"{op.key!r} in {op.namespace!r} ({name})"
            found.setdefault(id(op), {})[name] = vectors.encode_vector(vector, self._dims, where)
        return found

    # -- the reads -------------------------------------------------------------------

    def _read_all(
        self, view: Reader, plan: _Plan, queries: dict[str, list[float]], refresh: _Refresh
    ) -> list[Result]:
        results: list[Result] = [None] * plan.size
        for position, op in plan.reads:
            if isinstance(op, GetOp):
                results[position] = self._get(view, op, refresh)
            elif isinstance(op, SearchOp):
                source = searching.ViewSource(view, self.category, self._dims)
                results[position] = self._search(source, op, queries, refresh, shared=False)
            else:
                results[position] = self._list_namespaces(view, op)
        return results

    def _get(self, view: ReadOperations, op: GetOp, refresh: _Refresh) -> Item | None:
        key = layout.item_key(op.namespace, op.key)
        entry = self._read_item(view, key)
        if entry is None:
            return None
        self._note_refresh(op.refresh_ttl, key, entry, refresh)
        return _item(op.namespace, op.key, entry)

    def _get_alone(self, op: GetOp) -> Item | None:
        """A batch of one get (``store.get``), by the shortest path: memkv's read cache."""
        key = layout.item_key(op.namespace, op.key)
        entry = searching.read_item(self.memory, self.category, key)
        if entry is None:
            return None
        minutes = entry.content.ttl_minutes
        if op.refresh_ttl and minutes is not None:
            refresh = _Refresh({key: minutes})
            self.memory.transact(functools.partial(self._refresh, refresh=refresh))
        return _item(op.namespace, op.key, entry)

    def _read_item(self, view: ReadOperations, key: str) -> MemoryEntry[StoredItem] | None:
        return searching.read_item(view, self.category, key)

    def _note_refresh(
        self, wanted: bool, key: str, entry: MemoryEntry[StoredItem], refresh: _Refresh
    ) -> None:
        if wanted and entry.content.ttl_minutes is not None:
            refresh.ttls[key] = entry.content.ttl_minutes

    def _search(
        self,
        source: searching.Source,
        op: SearchOp,
        queries: dict[str, list[float]],
        refresh: _Refresh,
        *,
        shared: bool,
    ) -> list[SearchItem]:
        """``shared``: the source's entries are kept by the reads cache (the values
        returned are copies)."""
        query_vector = queries.get(op.query) if op.query else None
        found = searching.search(source, op, query_vector, bool(op.query) and self._keeps_recall())
        for _, entry in found:
            self._note_refresh(op.refresh_ttl, entry.key, entry, refresh)
        return [_search_item(entry, score, copy=shared) for score, entry in found]

    def _keeps_recall(self) -> bool:
        """Whether the memkv store keeps its recall index (one made with
        ``recall=False`` ranks nothing: a query there is ignored, as LangGraph's
        stores ignore one without an index)."""
        kept = self._recall_kept
        if kept is None:
            try:
                self.memory.recall("", 0)
            except InvalidArgument:
                kept = False
            else:
                kept = True
            self._recall_kept = kept
        return kept

    def _list_namespaces(self, view: Reader, op: ListNamespacesOp) -> list[Namespace]:
        """The namespaces holding items, in tuple order, found by skipping from one
        namespace to the next (one seek each, whatever their items)."""
        conditions = tuple(op.match_conditions or ())
        depth = op.max_depth
        scan_prefix = layout.namespace_prefix(layout.fixed_prefix(conditions))
        found: list[Namespace] = []
        after: str | None = None
        wanted = op.offset + op.limit
        while len(found) < wanted:
            keys = view.keys(self.category, prefix=scan_prefix, after=after, limit=1)
            if not keys:
                break
            try:
                namespace, _ = layout.split_item_key(keys[0])
            except InvalidArgument:  # an entry of the category that is not an item
                after = keys[0]
                continue
            if layout.namespace_matches(namespace, conditions):
                shown = namespace if depth is None else namespace[:depth]
                if not found or found[-1] != shown:
                    found.append(shown)
                if depth is not None and len(namespace) > depth:
                    after = layout.past_namespaces_under(shown)
                    continue
            after = layout.past_namespace(namespace)
        return found[op.offset : wanted]

    # -- the writes ------------------------------------------------------------------

    def _write_all(
        self, tx: Transaction, plan: _Plan, embedded: dict[int, dict[str, bytes]]
    ) -> None:
        for (namespace, key), op in plan.puts.items():
            memkv_key = layout.item_key(namespace, key)
            vectors_key = layout.vectors_key(self.category, namespace, key)
            if op.value is None:
                if self._read_item(tx, memkv_key) is not None:
                    tx.forget(memkv_key)
                tx.internal.forget(vectors_key)
                continue
            created_at = self._created_at(tx, memkv_key)
            ttl = None if op.ttl is None else timedelta(minutes=op.ttl)
            item = StoredItem(value=dict(op.value), created_at=created_at, ttl_minutes=op.ttl)
            tx.store(memkv_key, item, self.category, ttl=ttl)
            found = embedded.get(id(op))
            if found:
                tx.internal.store(vectors_key, ItemVectors(vectors=found), self.category, ttl=ttl)
            else:
                tx.internal.forget(vectors_key)

    def _created_at(self, tx: Transaction, memkv_key: str) -> Any:
        """When the item at ``memkv_key`` was first put: kept from the item being
        replaced, else now.

        Raises:
            Conflict: the key holds an entry of another category (not this store's).
        """
        previous = tx.get(memkv_key)
        if previous is None:
            return tx.now
        if previous.category != self.category:
            raise Conflict(
                f"key {quote_key(memkv_key)} holds an entry of category "
                f"{previous.category!r}, not this store's ({self.category!r}): not replaced",
                key=memkv_key,
            )
        return self._read_item(tx, memkv_key).content.created_at  # type: ignore[union-attr]

    def _refresh(self, tx: Transaction, refresh: _Refresh) -> None:
        """Start the time to live of each item read again (and of its vectors)."""
        for memkv_key, minutes in refresh.ttls.items():
            ttl = timedelta(minutes=minutes)
            try:
                tx.touch(memkv_key, ttl)
            except NotFound:
                continue  # deleted or expired since it was read
            namespace, key = layout.split_item_key(memkv_key)
            with contextlib.suppress(NotFound):
                tx.internal.touch(layout.vectors_key(self.category, namespace, key), ttl)

    def _run_writing(
        self,
        plan: _Plan,
        queries: dict[str, list[float]],
        embedded: dict[int, dict[str, bytes]],
    ) -> Callable[[Transaction], list[Result]]:
        """The transaction function of a batch with puts: its reads, then its writes."""

        def run(tx: Transaction) -> list[Result]:
            refresh = _Refresh()
            results = self._read_all(tx, plan, queries, refresh)
            self._refresh(tx, refresh)
            self._write_all(tx, plan, embedded)
            return results

        return run

    def _batch(self, ops: Iterable[Op]) -> list[Result]:
        """A batch run on the memkv store directly, in the calling thread."""
        if ops.__class__ is list and len(ops) == 1:  # get() and list_namespaces(): shortest
            alone = ops[0]
            if alone.__class__ is GetOp:
                return [self._get_alone(alone)]
            if alone.__class__ is ListNamespacesOp:
                _check_read(alone)
                return [self._listed(alone)]
        plan = self._plan(ops)
        queries: dict[str, list[float]] = {}
        embedded: dict[int, dict[str, bytes]] = {}
        if self.embeddings is not None:
            queries = {query: self.embeddings.embed_query(query) for query in plan.queries}
            if plan.texts:
                texts = [text for _, _, text in plan.texts]
                embedded = self._vectors_of(plan, self.embeddings.embed_documents(texts))
        if plan.puts:
            return self.memory.transact(self._run_writing(plan, queries, embedded))
        results, refresh = self._read_only(plan, queries)
        if refresh.ttls:
            self.memory.transact(functools.partial(self._refresh, refresh=refresh))
        return results

    def _read_only(
        self, plan: _Plan, queries: dict[str, list[float]]
    ) -> tuple[list[Result], _Refresh]:
        """The results of a batch without puts, and the items whose time to live they
        start again. Each op reads on its own: a get through memkv's read cache, a
        namespace listing and a search through this store's (`_ReadsCache`)."""
        refresh = _Refresh()
        results: list[Result] = [None] * plan.size
        for position, op in plan.reads:
            if isinstance(op, GetOp):
                results[position] = self._get(self.memory, op, refresh)
            elif isinstance(op, SearchOp):
                source = _CachedSource(self)
                results[position] = self._search(source, op, queries, refresh, shared=True)
            else:
                results[position] = self._listed(op)
        return results, refresh

    def _listed(self, op: ListNamespacesOp) -> list[Namespace]:
        """`_list_namespaces` in a snapshot of its own, or as it was last listed when
        nothing has been committed or has expired since."""
        found = self._cached(op, lambda view: self._list_namespaces(view, op), len)
        return list(found)

    def _cached(self, key: Hashable, read: Callable[[Reader], R], size: Callable[[R], int]) -> R:
        """``read`` in a snapshot of its own, or what it found last time if nothing has
        been committed or has expired since (the caller must not change it);
        ``size``: how many items it holds, for the cache's bound."""
        cache = self._cache
        found = cache.look_up(key)
        if found is None:
            stamp = cache.stamp()
            found, until = self.memory.snapshot(lambda view: (read(view), view.next_expiry()))
            cache.keep(key, found, size(found), stamp, until)
        return cast("R", found)

    # -- time to live ----------------------------------------------------------------

    def _sweep(self) -> int:
        """Remove the expired entries now (items and their vectors); how many items."""
        removed = self.memory.sweep()
        self.memory.internal.sweep()
        return removed

    def _sweep_interval(self, minutes: float | None) -> float:
        """Seconds between sweeps: ``minutes``, else the TTL config's, else 5 minutes."""
        chosen = minutes or (self.ttl_config or {}).get("sweep_interval_minutes")
        return float(chosen or _DEFAULT_SWEEP_MINUTES) * 60


class MemkvStore(_StoreCore, BaseStore):
    """LangGraph's ``BaseStore`` on a memkv store (see the module docstring).

    ``index``: LangGraph's ``IndexConfig`` (``dims``, ``embed``, ``fields``), for
    vector search; ``ttl``: its ``TTLConfig`` (``default_ttl`` in minutes,
    ``refresh_on_read``, ``sweep_interval_minutes``); ``category``: the memkv
    category of the items (two stores of different categories on one memkv store are
    separate). The store does not own ``memory``: closing it is the caller's.

    Errors are memkv's (`memkv.MemkvError`; the argument errors are also
    ``ValueError``) and LangGraph's ``InvalidNamespaceError``; a bad op in a batch
    fails it before anything is written.
    """

    def __init__(
        self,
        memory: Memory,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        category: str = CATEGORY,
    ) -> None:
        self._setup(memory, index, ttl, category)

    @classmethod
    @contextlib.contextmanager
    def from_path(
        cls,
        path: str | os.PathLike[str],
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        category: str = CATEGORY,
        **open_options: Unpack[OpenOptions],
    ) -> Iterator[MemkvStore]:
        """A store on the memkv store at ``path`` (opened, or created, with
        ``open_options`` as `memkv.open` takes them), closed on exit."""
        memory = open_memory(path, **open_options)
        try:
            store = cls(memory, index=index, ttl=ttl, category=category)
            try:
                yield store
            finally:
                store.stop_ttl_sweeper()
        finally:
            memory.close()

    def setup(self) -> None:
        """Nothing to migrate: a memkv store needs no schema. Kept for LangGraph's
        stores' interface."""

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return self._batch(ops)

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """`batch` in a worker thread (`AsyncMemkvStore` is the asyncio store)."""
        return await asyncio.get_running_loop().run_in_executor(None, self.batch, list(ops))

    def sweep_ttl(self) -> int:
        """Remove the expired items now; how many. (They are absent from every read
        from the moment they expire; this frees their space.)"""
        return self._sweep()

    def start_ttl_sweeper(
        self, sweep_interval_minutes: int | None = None
    ) -> concurrent.futures.Future[None]:
        """Sweep in a daemon thread every ``sweep_interval_minutes`` (default: the
        TTL config's, else 5) until `stop_ttl_sweeper`, or until the future returned
        is cancelled; it completes when the thread stops. A failed round is logged,
        and the next one tries again. While one runs, its future is returned."""
        if self._sweeper is not None and self._sweeper.is_alive():
            return self._sweeper_done
        interval = self._sweep_interval(sweep_interval_minutes)
        stop = self._sweeper_stop
        stop.clear()
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        done.add_done_callback(lambda future: stop.set() if future.cancelled() else None)

        def sweep_until_stopped() -> None:
            try:
                while not stop.wait(interval):
                    try:
                        self._sweep()
                    except Exception:
                        _log.exception("memkv store TTL sweep failed")
            finally:
                if not done.done():
                    done.set_result(None)

        self._sweeper_done = done
        self._sweeper = threading.Thread(
            target=sweep_until_stopped, name="memkv-ttl-sweeper", daemon=True
        )
        self._sweeper.start()
        return done

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper thread; whether it stopped within ``timeout`` seconds
        (``True`` if none was running)."""
        sweeper = self._sweeper
        if sweeper is None or not sweeper.is_alive():
            return True
        self._sweeper_stop.set()
        sweeper.join(timeout)
        if sweeper.is_alive():
            return False
        self._sweeper = None
        return True


class AsyncMemkvStore(_StoreCore, BaseStore):
    """`MemkvStore` for asyncio: the same store, whose writes go through memkv's group
    commit (`memkv.aio.AsyncMemory`): concurrent ``aput`` calls share commits. Reads
    of an LMDB or in-memory store run on the calling task (a lookup in a memory map);
    a PostgreSQL store's in a worker thread. The sync methods (``put``, ``get``, ...)
    work too, from outside the event loop's thread.
    """

    def __init__(
        self,
        memory: Memory | AsyncMemory,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        category: str = CATEGORY,
    ) -> None:
        if isinstance(memory, AsyncMemory):
            self._async_memory = memory
            memory = memory.memory
        else:
            self._async_memory = AsyncMemory(memory)
        self._setup(memory, index, ttl, category)
        self._sweeper_task: asyncio.Task[None] | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def from_path(
        cls,
        path: str | os.PathLike[str],
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        category: str = CATEGORY,
        **open_options: Unpack[OpenOptions],
    ) -> AsyncIterator[AsyncMemkvStore]:
        """A store on the memkv store at ``path``, closed on exit (``async with``)."""
        memory = await asyncio.to_thread(open_memory, path, **open_options)
        async_memory = AsyncMemory(memory)
        try:
            store = cls(async_memory, index=index, ttl=ttl, category=category)
            try:
                yield store
            finally:
                await store.stop_ttl_sweeper()
        finally:
            await async_memory.close()

    async def setup(self) -> None:
        """Nothing to migrate (see `MemkvStore.setup`)."""

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        plan = self._plan(ops)
        queries: dict[str, list[float]] = {}
        embedded: dict[int, dict[str, bytes]] = {}
        if self.embeddings is not None:
            if plan.queries:
                found = await asyncio.gather(
                    *(self.embeddings.aembed_query(query) for query in plan.queries)
                )
                queries = dict(zip(plan.queries, found, strict=True))
            if plan.texts:
                texts = [text for _, _, text in plan.texts]
                embedded = self._vectors_of(plan, await self.embeddings.aembed_documents(texts))
        amemory = self._async_memory
        if plan.puts:
            return await amemory.transact(self._run_writing(plan, queries, embedded))
        if self.memory.backend.local_reads:  # a lookup in a memory map: on this task
            results, refresh = self._read_only(plan, queries)
        else:
            results, refresh = await asyncio.to_thread(self._read_only, plan, queries)
        if refresh.ttls:
            await amemory.transact(functools.partial(self._refresh, refresh=refresh))
        return results

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """The batch run on the memkv store directly (from a thread that is not
        running this store's event loop)."""
        return self._batch(ops)

    async def sweep_ttl(self) -> int:
        """Remove the expired items now, in a worker thread; how many."""
        return await asyncio.to_thread(self._sweep)

    async def start_ttl_sweeper(
        self, sweep_interval_minutes: int | None = None
    ) -> asyncio.Task[None]:
        """Sweep every ``sweep_interval_minutes`` (default: the TTL config's, else 5)
        in a task of the running loop, until `stop_ttl_sweeper`."""
        if self._sweeper_task is not None and not self._sweeper_task.done():
            return self._sweeper_task
        interval = self._sweep_interval(sweep_interval_minutes)

        async def sweep_forever() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.sweep_ttl()
                except Exception:
                    _log.exception("memkv store TTL sweep failed")

        self._sweeper_task = asyncio.create_task(sweep_forever(), name="memkv-ttl-sweeper")
        return self._sweeper_task

    async def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper task; whether it stopped within ``timeout`` seconds."""
        task = self._sweeper_task
        if task is None or task.done():
            return True
        task.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except asyncio.CancelledError:
            pass
        except TimeoutError:
            return False
        self._sweeper_task = None
        return True

    async def __aenter__(self) -> AsyncMemkvStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop_ttl_sweeper()


def _with_tuple_namespace(op: Op) -> Op:
    """``op`` with its namespace (or prefix) as a tuple if it was given as a list."""
    if isinstance(op, GetOp | PutOp) and isinstance(op.namespace, list):
        return op._replace(namespace=tuple(op.namespace))
    if isinstance(op, SearchOp) and isinstance(op.namespace_prefix, list):
        return op._replace(namespace_prefix=tuple(op.namespace_prefix))
    return op


def _check_read(op: Op) -> None:
    """Raises: InvalidNamespaceError, InvalidKey, InvalidArgument (a bad read op)."""
    if isinstance(op, GetOp):
        layout.item_key(layout.check_namespace(op.namespace), layout.check_item_key(op.key))
    elif isinstance(op, SearchOp):
        layout.check_namespace(op.namespace_prefix)
        layout.check_filter(op.filter)
        _check_window(op.limit, op.offset)
        if op.query is not None and not isinstance(op.query, str):
            raise InvalidArgument(f"a search query is a str, not {op.query!r:.80}")
    elif isinstance(op, ListNamespacesOp):
        for condition in op.match_conditions or ():
            layout.check_namespace(tuple(condition.path))
            if condition.match_type not in ("prefix", "suffix"):
                raise InvalidArgument(f"unknown namespace match type {condition.match_type!r}")
        if op.max_depth is not None and op.max_depth < 0:
            raise InvalidArgument(f"max_depth must be >= 0, not {op.max_depth!r}")
        _check_window(op.limit, op.offset)
    else:
        raise InvalidArgument(f"unknown store operation: {type(op).__name__}")


def _check_window(limit: object, offset: object) -> None:
    for name, number in (("limit", limit), ("offset", offset)):
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            raise InvalidArgument(f"{name} must be an int >= 0, not {number!r:.80}")


_value_encoder = msgspec.msgpack.Encoder()
_value_decoder = msgspec.msgpack.Decoder(dict[str, Any])


def _copy_value(value: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a value as memkv stored it (msgpack types only)."""
    return _value_decoder.decode(_value_encoder.encode(value))


def _item(namespace: Namespace, key: str, entry: MemoryEntry[StoredItem]) -> Item:
    return Item(
        value=entry.content.value,
        key=key,
        namespace=namespace,
        created_at=entry.content.created_at,
        updated_at=entry.timestamp,
    )


def _search_item(
    entry: MemoryEntry[StoredItem], score: float | None, *, copy: bool = False
) -> SearchItem:
    """``copy``: the value is a copy (the entry is kept by `_ReadsCache`, where no
    caller may change it)."""
    namespace, key = layout.split_item_key(entry.key)
    value = entry.content.value
    return SearchItem(
        namespace=namespace,
        key=key,
        value=_copy_value(value) if copy else value,
        created_at=entry.content.created_at,
        updated_at=entry.timestamp,
        score=score,
    )
