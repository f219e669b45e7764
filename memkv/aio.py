"""`AsyncMemory`: `Memory`'s operations as coroutines, for asyncio programs.

Writes are group-committed: each write is queued for the store's writer thread,
which commits everything queued together with one flush (`memkv.group_commit`); the
awaiting task resumes once its own write is durable, and the event loop never waits
for a flush. A transaction function that raises fails only its own caller.

Reads are `Memory`'s, as coroutines. Where the backend's reads are local
(`memkv.backends.base.Backend.local_reads`: LMDB, in-memory) they run inline, on the
calling task: such a read is a lookup in a memory map that never waits for the
writer, and costs less than a hand-off to a thread would. Where they are not
(PostgreSQL: a network round trip) they run in a worker thread, so that the event
loop goes on meanwhile.

Cancelling a task that awaits a write ends with the write either withdrawn (it never
runs) or committed: if the writer has already taken it, the cancellation waits the
moment it takes to commit, then propagates.

>>> import asyncio, memkv.aio
>>> async def main() -> str:
...     async with memkv.aio.open(":memory:") as amem:
...         await amem.store("user/name", "Ada")
...         entry = await amem.get("user/name")
...         return entry.content
>>> asyncio.run(main())
'Ada'
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import os
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar, Unpack

from memkv.backends.base import Backend, Outcome
from memkv.entry import CORE, MemoryEntry
from memkv.expiry import Ttl, check_ttl
from memkv.memory import Memory, Problems, Reader, Transaction
from memkv.opening import OpenOptions
from memkv.opening import open as open_memory
from memkv.purge import Purge, PurgeFilter
from memkv.transfer import ImportReport, PathOrFile
from memkv.views import OnConflict

R = TypeVar("R")
P = ParamSpec("P")

__all__ = ["AsyncMemory", "open"]


def open(path: str | os.PathLike[str], **options: Unpack[OpenOptions]) -> AsyncMemory:  # noqa: A001
    """Open the store at ``path`` as `memkv.open` does, for asyncio.

    Raises:
        InvalidArgument, StoreUnavailable: as `memkv.open`.
    """
    return AsyncMemory(open_memory(path, **options))


def _read_operation(
    method: Callable[Concatenate[Memory, P], R],
) -> Callable[Concatenate[AsyncMemory, P], Coroutine[Any, Any, R]]:
    """`Memory`'s read ``method`` as a coroutine of `AsyncMemory` (same parameters and
    contract): inline on a backend with local reads, else in a worker thread."""

    async def operation(self: AsyncMemory, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if self._reads_inline:
            return method(self._memory, *args, **kwargs)
        return await asyncio.to_thread(method, self._memory, *args, **kwargs)

    name = method.__name__
    operation.__name__ = name
    operation.__qualname__ = f"AsyncMemory.{name}"
    operation.__doc__ = f"`Memory.{name}`, awaited.\n\n{inspect.getdoc(method)}"
    operation.__signature__ = inspect.signature(method)  # type: ignore[attr-defined]
    return operation


class _Waiter:
    """The writer thread's callback for one queued write: hands its outcome to the
    future its task awaits (through the loop's inbox)."""

    __slots__ = ("future", "inbox", "settled")

    def __init__(self, inbox: _LoopInbox, future: asyncio.Future[Any]) -> None:
        self.inbox = inbox
        self.future = future  # replaced if the task is cancelled while it commits
        self.settled = False  # the outcome reached the loop (set there, read there)

    def __call__(self, outcome: Outcome) -> None:
        self.inbox.deliver(self, outcome)


class _LoopInbox:
    """Outcomes handed from the writer thread to one event loop: a whole group's
    worth wakes the loop once, not once per write."""

    __slots__ = ("_outcomes", "_scheduled", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._outcomes: collections.deque[tuple[_Waiter, Outcome]] = collections.deque()
        self._scheduled = False  # a `_settle` is due on the loop

    def deliver(self, waiter: _Waiter, outcome: Outcome) -> None:
        """From the writer thread. Appending before looking at `_scheduled` (which
        `_settle` clears before it drains) means no outcome is ever left behind."""
        self._outcomes.append((waiter, outcome))
        if not self._scheduled:
            self._scheduled = True
            with contextlib.suppress(RuntimeError):  # a closed loop: no one is waiting
                self.loop.call_soon_threadsafe(self._settle)

    def _settle(self) -> None:
        """On the loop."""
        self._scheduled = False
        outcomes = self._outcomes
        while outcomes:
            waiter, (ok, value) = outcomes.popleft()
            waiter.settled = True
            future = waiter.future
            if future.done():  # cancelled
                continue
            if ok:
                future.set_result(value)
            elif isinstance(value, StopIteration):  # a future cannot hold one
                future.set_exception(RuntimeError(f"transaction function raised {value!r}"))
            else:
                future.set_exception(value)


class AsyncMemory:
    """`Memory`'s operations as coroutines; see the module docstring.

    ``AsyncMemory(memory)`` wraps an open `Memory` (threads using it directly share
    its group commits); `close` closes it. Usable as an async context manager.
    """

    __slots__ = ("_inbox", "_inboxes", "_internal", "_memory", "_reads_inline")

    def __init__(self, memory: Memory) -> None:
        self._memory = memory
        self._reads_inline = memory.backend.local_reads
        self._inbox: _LoopInbox | None = None  # of the loop last seen: the usual one
        self._inboxes: dict[asyncio.AbstractEventLoop, _LoopInbox] = {}
        self._internal: AsyncMemory | None = None

    # -- lifecycle -----------------------------------------------------------------

    @property
    def memory(self) -> Memory:
        """The `Memory` underneath, for use from threads."""
        return self._memory

    @property
    def internal(self) -> AsyncMemory:
        """The store's internal key space, as coroutines (see `Memory.internal`)."""
        memory = self._memory
        if memory.internal is memory:
            return self
        internal = self._internal
        if internal is None:
            internal = self._internal = AsyncMemory(memory.internal)
        return internal

    @property
    def backend(self) -> Backend:
        return self._memory.backend

    @property
    def closed(self) -> bool:
        return self._memory.closed

    async def close(self) -> None:
        """Wait for the writes already queued to commit, then close the store. Later
        calls raise `StoreClosed`; repeated calls do nothing."""
        await asyncio.to_thread(self._memory.close)

    async def __aenter__(self) -> AsyncMemory:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<memkv.aio.AsyncMemory over {self._memory!r}>"

    health_check = _read_operation(Memory.health_check)

    # -- transactions ----------------------------------------------------------------

    async def transact(self, fn: Callable[[Transaction], R]) -> R:
        """Run ``fn(tx)`` atomically, as `Memory.transact` does, group-committed with
        the other writes waiting; return its result once it is durable.

        ``fn`` runs on the writer thread: it must not await, and (as ever) must have
        no effects outside ``tx``.

        Raises:
            Whatever ``fn`` raises; StoreClosed, ReadOnlyStore, NestedTransaction,
            StorageFull, BackendError.
        """
        loop = asyncio.get_running_loop()
        inbox = self._inbox
        if inbox is None or inbox.loop is not loop:
            inbox = self._inbox_of(loop)
        waiter = _Waiter(inbox, loop.create_future())
        pending = self._memory.submit(fn, waiter)
        try:
            return await waiter.future  # type: ignore[no-any-return]
        except asyncio.CancelledError:
            if not waiter.settled and not self._memory.withdraw(pending):
                # The writer has taken it: wait the moment it takes to commit and
                # flush, so that the cancelled task ends with the write durable or
                # absent (the outcome, not yet on the loop, will settle this future).
                waiter.future = loop.create_future()
                await _until_done(waiter.future)
            raise

    def _inbox_of(self, loop: asyncio.AbstractEventLoop) -> _LoopInbox:
        inbox = self._inboxes.get(loop)
        if inbox is None:
            for old in [old for old in self._inboxes if old.is_closed()]:
                del self._inboxes[old]
            inbox = self._inboxes[loop] = _LoopInbox(loop)
        self._inbox = inbox
        return inbox

    async def snapshot(self, fn: Callable[[Reader], R]) -> R:
        """Run ``fn(view)`` on one consistent snapshot; see `Memory.snapshot`. Where
        reads are not local, ``fn`` runs in a worker thread."""
        if self._reads_inline:
            return self._memory.snapshot(fn)
        return await asyncio.to_thread(self._memory.snapshot, fn)

    # -- writes ----------------------------------------------------------------------

    async def store(
        self,
        key: str,
        content: Any,
        category: str = CORE,
        session_id: str | None = None,
        *,
        ttl: Ttl | None = None,
    ) -> MemoryEntry[Any]:
        """Store ``content`` at ``key`` (insert or replace); see `Memory.store`."""
        return await self.transact(self._memory._prepare(key, content, category, session_id, ttl))

    async def insert(
        self,
        key: str,
        content: Any,
        category: str = CORE,
        session_id: str | None = None,
        *,
        ttl: Ttl | None = None,
    ) -> MemoryEntry[Any]:
        """Store ``content`` at ``key`` only if absent (or expired); see `Memory.insert`.

        Raises:
            Conflict: the key is present; the stored entry is left untouched.
        """
        prepared = self._memory._prepare(
            key, content, category, session_id, ttl, only_if_absent=True
        )
        return await self.transact(prepared)

    async def forget(self, key: str) -> bool:
        """Remove ``key``; ``True`` if it was there. See `Memory.forget`."""
        return await self.transact(lambda tx: tx.forget(key))

    async def touch(self, key: str, ttl: Ttl | None) -> MemoryEntry[Any]:
        """Make the entry at ``key`` expire ``ttl`` from now; see `Memory.touch`.

        Raises:
            NotFound: the key is absent or has expired.
        """
        check_ttl(ttl)
        return await self.transact(lambda tx: tx.touch(key, ttl))

    async def sweep(self, limit: int | None = None) -> int:
        """Remove expired entries; see `Memory.sweep` (its transactions run from a
        worker thread)."""
        return await asyncio.to_thread(self._memory.sweep, limit)

    async def purge(
        self,
        *,
        category: str | None = None,
        session_id: str | None = None,
        prefix: str | None = None,
    ) -> int:
        """Remove every entry matching all the filters given; see `Memory.purge`. Each
        batch is a transaction awaited in turn, so the event loop runs between them.

        Raises:
            InvalidArgument, StoreClosed, ReadOnlyStore, StorageFull, BackendError.
        """
        run = Purge(PurgeFilter.of(category, session_id, prefix))
        while not run.done:
            run.record(await self.transact(run.batch()))
        return run.removed

    # -- reads (see `_read_operation`) ------------------------------------------------

    get = _read_operation(Memory.get)
    list = _read_operation(Memory.list)
    keys = _read_operation(Memory.keys)
    count = _read_operation(Memory.count)
    categories = _read_operation(Memory.categories)
    sessions = _read_operation(Memory.sessions)
    recall = _read_operation(Memory.recall)

    async def verify(self) -> Problems:
        """See `Memory.verify`; it reads the whole store, so it runs in a thread."""
        return await asyncio.to_thread(self._memory.verify)

    async def repair(self) -> Problems:
        """See `Memory.repair`; it reads the whole store, so it runs in a thread."""
        return await asyncio.to_thread(self._memory.repair)

    async def backup(self, dest: str | os.PathLike[str], *, compact: bool = True) -> Path:
        """See `Memory.backup`; it copies the whole store, so it runs in a thread."""
        return await asyncio.to_thread(self._memory.backup, dest, compact=compact)

    async def export_jsonl(
        self,
        path_or_file: PathOrFile,
        *,
        category: str | None = None,
        session_id: str | None = None,
        prefix: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        """See `Memory.export_jsonl`; it reads many entries, so it runs in a thread
        (a file object given is written from that thread)."""
        return await asyncio.to_thread(
            self._memory.export_jsonl,
            path_or_file,
            category=category,
            session_id=session_id,
            prefix=prefix,
            since=since,
            until=until,
        )

    async def import_jsonl(
        self, path_or_file: PathOrFile, *, on_conflict: OnConflict = "error"
    ) -> ImportReport:
        """See `Memory.import_jsonl`; it runs in a thread, its transactions
        group-committed with the other writes."""
        return await asyncio.to_thread(
            self._memory.import_jsonl, path_or_file, on_conflict=on_conflict
        )


async def _until_done(future: asyncio.Future[Any]) -> None:
    """Wait for ``future`` to be settled, through any further cancellations; its
    outcome is dropped (the caller was cancelled)."""
    while not future.done():
        try:
            await asyncio.wait((future,))
        except asyncio.CancelledError:
            continue
    if not future.cancelled():
        future.exception()  # retrieved, so asyncio does not log it as forgotten
