"""`MemkvSaver`: LangGraph's checkpointer (`BaseCheckpointSaver`) on any `memkv.Memory`.

Its records live in the store's internal key space (never among the user's memories,
never in recall's index): `memkv.langgraph.checkpoint_keys` lays them out,
`memkv.langgraph.checkpoint_records` reads and writes them. A checkpoint and the blobs
of its new channel versions commit in one transaction; so do the writes of one
`put_writes`. The async twins go through `memkv.aio`'s group commit, so the concurrent
threads of a graph share commits.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from typing import Any, Final, Unpack

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_metadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from memkv.aio import AsyncMemory
from memkv.errors import InvalidArgument
from memkv.langgraph import checkpoint_keys as keys
from memkv.langgraph import checkpoint_records as records
from memkv.langgraph.checkpoint_records import (
    BlobRecord,
    CheckpointRecord,
    StoredCheckpoint,
    WriteRecord,
)
from memkv.memory import Memory, Reader
from memkv.opening import OpenOptions
from memkv.opening import open as open_memory

PAGE: Final = 64
"""Checkpoints read per snapshot by `MemkvSaver.list` (fewer if ``limit`` asks fewer)."""
STRATEGIES: Final = ("keep_latest", "delete")
"""The strategies of `MemkvSaver.prune`."""

Where = tuple[str, str, str]  # thread id, checkpoint namespace, checkpoint id


class MemkvSaver(BaseCheckpointSaver[str]):
    """A LangGraph checkpointer on ``memory`` (any memkv store: LMDB, in memory,
    PostgreSQL), durable as the store was opened (``durability=``).

    Every method has its async twin (``aput``, ``aget_tuple``, ``alist``, ...). Keys
    are the thread id, the namespace and the checkpoint id as whole components, so no
    thread id reads or deletes another thread's records; one over
    `memkv.MAX_KEY_BYTES` once packed is refused with `memkv.InvalidKey` before
    anything is written. ``serde`` (default: LangGraph's `JsonPlusSerializer`)
    turns values into the bytes stored. The saver does not close ``memory``.
    """

    def __init__(self, memory: Memory, *, serde: SerializerProtocol | None = None) -> None:
        if not isinstance(memory, Memory):
            raise InvalidArgument(
                f"MemkvSaver needs a memkv.Memory, not {type(memory).__name__}: {memory!r:.80}"
            )
        super().__init__(serde=serde)
        self.memory = memory.internal  # checkpoints are not among the user's memories
        self.amemory = AsyncMemory(self.memory)

    @classmethod
    @contextmanager
    def from_path(
        cls,
        path: str | os.PathLike[str],
        *,
        serde: SerializerProtocol | None = None,
        **open_options: Unpack[OpenOptions],
    ) -> Iterator[MemkvSaver]:
        """Open the store at ``path`` (as `memkv.open` does, with its options), yield
        a saver on it, close the store on exit."""
        with open_memory(path, **open_options) as memory:
            yield cls(memory, serde=serde)

    @classmethod
    @asynccontextmanager
    async def afrom_path(
        cls,
        path: str | os.PathLike[str],
        *,
        serde: SerializerProtocol | None = None,
        **open_options: Unpack[OpenOptions],
    ) -> AsyncIterator[MemkvSaver]:
        """`from_path` for ``async with``: the store is closed without blocking the loop."""
        memory = await asyncio.to_thread(open_memory, path, **open_options)
        try:
            yield cls(memory, serde=serde)
        finally:
            await asyncio.to_thread(memory.close)

    # -- writes ------------------------------------------------------------------------

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store ``checkpoint`` as the child of the checkpoint ``config`` names (if it
        names one), with the blobs of ``new_versions``, in one transaction; return
        the config that names it. The same checkpoint id again replaces it.

        Raises:
            memkv.InvalidArgument: no thread id in ``config``; memkv.InvalidKey: a key
                over 256 bytes. Nothing is written then.
        """
        where, record, blobs = self._prepared(config, checkpoint, metadata, new_versions)
        self.memory.transact(lambda tx: records.put_in(tx, where, record, blobs))
        return _config_of(*where)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """`put`, group-committed with the other writes waiting."""
        where, record, blobs = self._prepared(config, checkpoint, metadata, new_versions)
        await self.amemory.transact(lambda tx: records.put_in(tx, where, record, blobs))
        return _config_of(*where)

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes against the checkpoint ``config`` names, all
        in one transaction. Done twice, a regular write is kept as first stored; an
        error, interrupt, resume or scheduled write is replaced.

        Raises:
            memkv.InvalidArgument: ``config`` names no thread or no checkpoint.
        """
        where, prepared = self._prepared_writes(config, writes, task_id, task_path)
        self.memory.transact(lambda tx: records.put_writes_in(tx, where, task_id, prepared))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """`put_writes`, group-committed with the other writes waiting."""
        where, prepared = self._prepared_writes(config, writes, task_id, task_path)
        await self.amemory.transact(lambda tx: records.put_writes_in(tx, where, task_id, prepared))

    def _prepared(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> tuple[Where, CheckpointRecord, dict[tuple[str, keys.Version], BlobRecord]]:
        thread_id, checkpoint_ns = _thread_of(config)
        values = checkpoint["channel_values"]
        without_values = {k: v for k, v in checkpoint.items() if k != "channel_values"}
        checkpoint_type, checkpoint_data = self.serde.dumps_typed(without_values)
        full_metadata = get_checkpoint_metadata(config, metadata)
        metadata_type, metadata_data = self.serde.dumps_typed(full_metadata)
        run_id = full_metadata.get("run_id")
        blobs = {
            (channel, version): (
                BlobRecord(type=records.EMPTY_BLOB, data=b"")
                if channel not in values
                else _blob(self.serde.dumps_typed(values[channel]))
            )
            for channel, version in new_versions.items()
        }
        record = CheckpointRecord(
            checkpoint_type=checkpoint_type,
            checkpoint=checkpoint_data,
            metadata_type=metadata_type,
            metadata=metadata_data,
            versions=dict(checkpoint["channel_versions"]),
            parent_id=config["configurable"].get("checkpoint_id"),
            run_id=run_id if isinstance(run_id, str) and run_id else None,
        )
        return (thread_id, checkpoint_ns, checkpoint["id"]), record, blobs

    def _prepared_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> tuple[Where, list[tuple[int, WriteRecord]]]:
        thread_id, checkpoint_ns = _thread_of(config)
        checkpoint_id = config["configurable"].get("checkpoint_id")
        if not isinstance(checkpoint_id, str):
            raise InvalidArgument(
                f"put_writes needs config['configurable']['checkpoint_id'] (a str), "
                f"not {checkpoint_id!r:.80} (thread {thread_id!r:.80})"
            )
        prepared: list[tuple[int, WriteRecord]] = []
        for idx, (channel, value) in enumerate(writes):
            value_type, data = self.serde.dumps_typed(value)
            write = WriteRecord(channel=channel, type=value_type, data=data, task_path=task_path)
            prepared.append((WRITES_IDX_MAP.get(channel, idx), write))
        return (thread_id, checkpoint_ns, checkpoint_id), prepared

    # -- reads -------------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint ``config`` names by id, or (without an id) the latest of its
        thread and namespace: a point read or a one-key reverse scan, then its blobs
        and pending writes, on one snapshot. ``None`` if there is none."""
        thread_id, checkpoint_ns = _thread_of(config)
        checkpoint_id = config["configurable"].get("checkpoint_id")
        stored = self.memory.snapshot(
            lambda view: records.checkpoint_of(view, thread_id, checkpoint_ns, checkpoint_id)
        )
        return None if stored is None else self._tuple_of(stored)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """`get_tuple`, awaited."""
        thread_id, checkpoint_ns = _thread_of(config)
        checkpoint_id = config["configurable"].get("checkpoint_id")
        stored = await self.amemory.snapshot(
            lambda view: records.checkpoint_of(view, thread_id, checkpoint_ns, checkpoint_id)
        )
        return None if stored is None else self._tuple_of(stored)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,  # noqa: A002 - LangGraph's name
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first: of ``config``'s thread (and namespace, if it
        names one; or the one checkpoint it names by id; or every thread's, with
        ``config=None``), whose metadata holds every pair of ``filter``, with an id
        below ``before``'s, at most ``limit``. Read lazily in pages of `PAGE` (or
        ``limit``) checkpoints, each on one snapshot: without ``filter`` the cost is
        what is returned; a ``filter`` reads past the checkpoints it rejects.

        Order: by namespace then id, descending, where a listing spans namespaces.
        """
        listing = _Listing(self, config, filter, before, limit)
        while not listing.done:
            page = self.memory.snapshot(listing.page_of)
            yield from listing.advance(*page)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,  # noqa: A002 - LangGraph's name
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """`list`, awaited page by page."""
        listing = _Listing(self, config, filter, before, limit)
        while not listing.done:
            page = await self.amemory.snapshot(listing.page_of)
            for found in listing.advance(*page):
                yield found

    def _tuple_of(self, stored: StoredCheckpoint) -> CheckpointTuple:
        record = stored.record
        loads = self.serde.loads_typed
        checkpoint = loads((record.checkpoint_type, record.checkpoint))
        checkpoint["channel_values"] = {
            channel: loads((blob.type, blob.data)) for channel, blob in stored.blobs.items()
        }
        where = (stored.thread_id, stored.checkpoint_ns)
        return CheckpointTuple(
            config=_config_of(*where, stored.checkpoint_id),
            checkpoint=checkpoint,
            metadata=loads((record.metadata_type, record.metadata)),
            parent_config=(
                None if record.parent_id is None else _config_of(*where, record.parent_id)
            ),
            pending_writes=[
                (task_id, write.channel, loads((write.type, write.data)))
                for task_id, write in stored.writes
            ],
        )

    def _matches(self, wanted: dict[str, Any]) -> records.Matches:
        def matches(record: CheckpointRecord) -> bool:
            metadata = self.serde.loads_typed((record.metadata_type, record.metadata))
            return all(metadata.get(name) == value for name, value in wanted.items())

        return matches

    # -- deletions and copies ----------------------------------------------------------

    def delete_thread(self, thread_id: str) -> None:
        """Remove every checkpoint, pending write and blob of the thread, in every
        namespace, in transactions of a few hundred checkpoints (checkpoints first:
        one left by a crash midway still reads whole; running it again finishes).
        Absent thread: nothing to do."""
        thread_id = _thread_id(thread_id)
        prefix = keys.checkpoints_of_thread(thread_id)
        while self.memory.transact(lambda tx: records.remove_checkpoints_in(tx, prefix)):
            pass
        self.memory.purge(prefix=keys.writes_of_thread(thread_id))
        self.memory.purge(prefix=keys.blobs_of_thread(thread_id))

    async def adelete_thread(self, thread_id: str) -> None:
        """`delete_thread`, awaited."""
        thread_id = _thread_id(thread_id)
        prefix = keys.checkpoints_of_thread(thread_id)
        while await self.amemory.transact(lambda tx: records.remove_checkpoints_in(tx, prefix)):
            pass
        await self.amemory.purge(prefix=keys.writes_of_thread(thread_id))
        await self.amemory.purge(prefix=keys.blobs_of_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Remove the checkpoints (and their pending writes) made by these runs, in
        every thread and namespace; the blobs stay (later checkpoints may read them).
        Unknown run ids, or none: nothing to do."""
        for run_id in _run_ids(run_ids):
            while self.memory.transact(partial(records.remove_run_in, run_id=run_id)):
                pass

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """`delete_for_runs`, awaited."""
        for run_id in _run_ids(run_ids):
            while await self.amemory.transact(partial(records.remove_run_in, run_id=run_id)):
                pass

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint, pending write and blob of one thread to another (same
        namespaces, ids, order and contents), in one transaction: all of it or none.
        Records already at the target's keys are replaced; an absent source copies
        nothing."""
        source, target = _thread_id(source_thread_id), _thread_id(target_thread_id)
        self.memory.transact(lambda tx: records.copy_thread_in(tx, source, target))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """`copy_thread`, awaited."""
        source, target = _thread_id(source_thread_id), _thread_id(target_thread_id)
        await self.amemory.transact(lambda tx: records.copy_thread_in(tx, source, target))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``"keep_latest"``: keep each namespace's latest checkpoint of each thread,
        with its pending writes and the blobs it reads (one transaction per thread);
        ``"delete"``: `delete_thread` each. Absent threads: nothing to do.

        Raises:
            memkv.InvalidArgument: another strategy (before anything is removed).
        """
        threads = _pruned(thread_ids, strategy)
        for thread_id in threads:
            if strategy == "delete":
                self.delete_thread(thread_id)
            else:
                self.memory.transact(partial(records.keep_latest_in, thread_id=thread_id))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """`prune`, awaited."""
        threads = _pruned(thread_ids, strategy)
        for thread_id in threads:
            if strategy == "delete":
                await self.adelete_thread(thread_id)
            else:
                await self.amemory.transact(partial(records.keep_latest_in, thread_id=thread_id))

    # -- versions ----------------------------------------------------------------------

    def get_next_version(self, current: str | None, channel: None = None) -> str:
        """The version after ``current``, as LangGraph's own savers make them: a
        zero-padded counter (so that versions compare as strings), a dot, and a random
        fraction."""
        if current is None:
            counter = 0
        elif isinstance(current, int):
            counter = current
        else:
            counter = int(current.split(".", 1)[0])
        return f"{counter + 1:032}.{random.random():016}"


class _Listing:
    """What one `MemkvSaver.list` call reads, page by page: ``page_of`` only reads
    (it may run again on the same snapshot), ``advance`` moves on."""

    def __init__(
        self,
        saver: MemkvSaver,
        config: RunnableConfig | None,
        wanted: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> None:
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)):
            raise InvalidArgument(f"limit must be an int or None, not {limit!r:.80}")
        self.saver = saver
        self.matches = saver._matches(wanted) if wanted else None
        self.before_id: str | None = None
        if before is not None:
            self.before_id = before.get("configurable", {}).get("checkpoint_id")
        self.remaining = limit
        self.done = limit is not None and limit <= 0
        self.after: str | None = None
        self.exact: Where | None = None
        if config is None:
            self.prefix = keys.CHECKPOINTS
            return
        thread_id, checkpoint_ns = _thread_of(config)
        checkpoint_id = config["configurable"].get("checkpoint_id")
        if checkpoint_id is not None:
            self.exact = (thread_id, checkpoint_ns, checkpoint_id)
        if "checkpoint_ns" not in config["configurable"]:
            self.prefix = keys.checkpoints_of_thread(thread_id)
            return
        self.prefix = keys.checkpoints_of_namespace(thread_id, checkpoint_ns)
        if self.before_id is not None:  # start the reverse scan just below it
            self.after = keys.checkpoint_key(thread_id, checkpoint_ns, self.before_id)

    def page_of(self, view: Reader) -> tuple[list[StoredCheckpoint], str | None]:
        if self.exact is not None:
            stored = records.checkpoint_of(view, *self.exact)
            if stored is None or (
                self.before_id is not None and stored.checkpoint_id >= self.before_id
            ):
                return [], None
            if self.matches is not None and not self.matches(stored.record):
                return [], None
            return [stored], None
        size = PAGE if self.remaining is None or self.matches else min(PAGE, self.remaining)
        return records.page_of(
            view,
            self.prefix,
            after=self.after,
            size=size,
            before_id=self.before_id,
            matches=self.matches,
        )

    def advance(self, found: list[StoredCheckpoint], after: str | None) -> list[CheckpointTuple]:
        if self.remaining is not None:
            found = found[: self.remaining]
            self.remaining -= len(found)
        self.after = after
        self.done = after is None or self.remaining == 0
        return [self.saver._tuple_of(stored) for stored in found]


def _thread_of(config: RunnableConfig) -> tuple[str, str]:
    """The thread id and checkpoint namespace ``config`` names (namespace: ``""``)."""
    configurable = config.get("configurable") or {}
    checkpoint_ns = configurable.get("checkpoint_ns", "")
    if not isinstance(checkpoint_ns, str):
        raise InvalidArgument(
            f"config['configurable']['checkpoint_ns'] must be a str, not {checkpoint_ns!r:.80}"
        )
    return _thread_id(configurable.get("thread_id")), checkpoint_ns


def _thread_id(thread_id: object) -> str:
    """A thread id as stored: a str, or an int as its decimal text (as LangGraph's
    SQL savers store it)."""
    if isinstance(thread_id, int) and not isinstance(thread_id, bool):
        return str(thread_id)
    if not isinstance(thread_id, str):
        raise InvalidArgument(
            f"a checkpoint needs a thread id (config['configurable']['thread_id'], a str), "
            f"not {thread_id!r:.80}"
        )
    return thread_id


def _run_ids(run_ids: Sequence[str]) -> list[str]:
    if isinstance(run_ids, str):
        raise InvalidArgument(f"run_ids is a sequence of run ids, not one str: {run_ids!r:.80}")
    bad = [run_id for run_id in run_ids if not isinstance(run_id, str)]
    if bad:
        raise InvalidArgument(f"run ids are strs, not {bad[0]!r:.80}")
    return list(run_ids)


def _pruned(thread_ids: Sequence[str], strategy: str) -> list[str]:
    if strategy not in STRATEGIES:
        raise InvalidArgument(f"prune strategy {strategy!r:.80} is not one of {STRATEGIES}")
    if isinstance(thread_ids, str):
        raise InvalidArgument(f"thread_ids is a sequence of ids, not one str: {thread_ids!r:.80}")
    return [_thread_id(thread_id) for thread_id in thread_ids]


def _config_of(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
        }
    }


def _blob(typed: tuple[str, bytes]) -> BlobRecord:
    return BlobRecord(type=typed[0], data=typed[1])
