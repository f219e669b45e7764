"""The records of `MemkvSaver` and what it does with them inside one transaction
(``*_in(tx, ...)``) or one snapshot (``*_of(view, ...)``). Values arrive already
serialised by the saver's ``serde``: this module moves bytes, never decodes them.
Keys: `memkv.langgraph.checkpoint_keys`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final, NamedTuple

import msgspec

from memkv.keys import unpack
from memkv.langgraph import checkpoint_keys as keys
from memkv.memory import Reader, Transaction

EMPTY_BLOB: Final = "empty"
"""The type of a blob that records "no value at this version" (LangGraph's marker)."""
BATCH: Final = 256
"""Checkpoints removed per transaction by the deletions that may be long."""


class CheckpointRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A checkpoint without its channel values (those are blobs), its metadata, both
    as ``serde.dumps_typed`` made them, its parent's id and the run that made it.
    ``versions`` repeats the checkpoint's channel versions: the blobs it reads."""

    checkpoint_type: str
    checkpoint: bytes
    metadata_type: str
    metadata: bytes
    versions: dict[str, keys.Version]
    parent_id: str | None = None
    run_id: str | None = None


class BlobRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A channel's value at one version (``type`` `EMPTY_BLOB`: none)."""

    type: str
    data: bytes


class WriteRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One pending write of a task against a checkpoint."""

    channel: str
    type: str
    data: bytes
    task_path: str = ""


class StoredCheckpoint(NamedTuple):
    """A checkpoint as read: where it is, its record, the values of its channels
    (those with a value) and its pending writes as ``(task_id, write)`` in LangGraph's
    `writes_sort_key` order."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    record: CheckpointRecord
    blobs: dict[str, BlobRecord]
    writes: list[tuple[str, WriteRecord]]


Matches = Callable[[CheckpointRecord], bool]
BlobsRead = dict[tuple[str, str, str, keys.Version], BlobRecord | None]


# -- writes ------------------------------------------------------------------------------


def put_in(
    tx: Transaction,
    where: tuple[str, str, str],
    record: CheckpointRecord,
    blobs: dict[tuple[str, keys.Version], BlobRecord],
) -> None:
    """Store a checkpoint at ``where`` (thread id, namespace, checkpoint id) and the
    blobs of its new channel versions; the same id again replaces it (and the run it
    is filed under)."""
    thread_id, checkpoint_ns, checkpoint_id = where
    key = keys.checkpoint_key(thread_id, checkpoint_ns, checkpoint_id)
    blob_keys = [
        (keys.blob_key(thread_id, checkpoint_ns, channel, version), blob)
        for (channel, version), blob in blobs.items()
    ]  # every key built (and checked) before the first write
    run_key = (
        None
        if record.run_id is None
        else keys.run_key(record.run_id, thread_id, checkpoint_ns, checkpoint_id)
    )
    for blob_key, blob in blob_keys:
        if blob.type == EMPTY_BLOB:  # no record: an absent blob reads as no value
            tx.forget(blob_key)  # (a value an earlier put gave this version is gone)
        else:
            tx.store(blob_key, blob, keys.CATEGORY)
    _store_checkpoint(tx, key, where, record, run_key)


def _store_checkpoint(
    tx: Transaction,
    key: str,
    where: tuple[str, str, str],
    record: CheckpointRecord,
    run_key: str | None,
) -> None:
    """Store the checkpoint record and file it under its run (no longer under the run
    of a record it replaces)."""
    replaced = tx.get(key, type=CheckpointRecord)
    if replaced is not None and replaced.content.run_id not in (None, record.run_id):
        tx.forget(keys.run_key(replaced.content.run_id, *where))
    tx.store(key, record, keys.CATEGORY)
    if run_key is not None:
        tx.store(run_key, "", keys.CATEGORY)


def put_writes_in(
    tx: Transaction,
    where: tuple[str, str, str],
    task_id: str,
    writes: Iterable[tuple[int, WriteRecord]],
) -> None:
    """Store a task's writes against a checkpoint, by index: a regular write (index >=
    0) already stored is kept as it was; a special one (negative index, as LangGraph's
    `WRITES_IDX_MAP` numbers errors and interrupts) is replaced."""
    thread_id, checkpoint_ns, checkpoint_id = where
    keyed = [
        (keys.write_key(thread_id, checkpoint_ns, checkpoint_id, task_id, idx), idx, write)
        for idx, write in writes
    ]
    for key, idx, write in keyed:
        if idx >= 0 and tx.keys(prefix=key, limit=1) == [key]:
            continue
        tx.store(key, write, keys.CATEGORY)


def remove_checkpoints_in(tx: Transaction, prefix: str) -> int:
    """Remove up to `BATCH` checkpoints under ``prefix`` with their run entries and
    pending writes; return how many (0: none left)."""
    entries = tx.list(prefix=prefix, limit=BATCH, type=CheckpointRecord)
    for entry in entries:
        _remove_checkpoint(tx, entry.key, entry.content)
    return len(entries)


def remove_run_in(tx: Transaction, run_id: str) -> int:
    """Remove up to `BATCH` checkpoints the run made (with their writes); return how
    many run entries it went through (0: none left)."""
    run_keys = tx.keys(prefix=keys.checkpoints_of_run(run_id), limit=BATCH)
    for run_key in run_keys:
        _, _, _, thread_id, checkpoint_ns, checkpoint_id = unpack(run_key)
        key = keys.checkpoint_key(str(thread_id), str(checkpoint_ns), str(checkpoint_id))
        entry = tx.get(key, type=CheckpointRecord)
        if entry is not None:
            _remove_checkpoint(tx, key, entry.content)
        tx.forget(run_key)
    return len(run_keys)


def _remove_checkpoint(tx: Transaction, key: str, record: CheckpointRecord) -> None:
    thread_id, checkpoint_ns, checkpoint_id = _where(key)
    tx.forget(key)
    if record.run_id is not None:
        tx.forget(keys.run_key(record.run_id, thread_id, checkpoint_ns, checkpoint_id))
    for write_key in tx.keys(
        prefix=keys.writes_of_checkpoint(thread_id, checkpoint_ns, checkpoint_id)
    ):
        tx.forget(write_key)


def copy_thread_in(tx: Transaction, source: str, target: str) -> int:
    """Copy every checkpoint, blob and pending write of thread ``source`` to thread
    ``target`` (same namespaces, ids and contents; a record already at a target key
    is replaced); return how many checkpoints."""
    for record_type, of_thread in (
        (BlobRecord, keys.blobs_of_thread),
        (WriteRecord, keys.writes_of_thread),
    ):
        source_prefix, target_prefix = of_thread(source), of_thread(target)
        for entry in tx.list(prefix=source_prefix, type=record_type):
            moved = keys.retarget(entry.key, source_prefix, target_prefix)
            tx.store(moved, entry.content, keys.CATEGORY)
    source_prefix = keys.checkpoints_of_thread(source)
    target_prefix = keys.checkpoints_of_thread(target)
    checkpoints = tx.list(prefix=source_prefix, type=CheckpointRecord)
    for entry in checkpoints:
        _, checkpoint_ns, checkpoint_id = _where(entry.key)
        where = (target, checkpoint_ns, checkpoint_id)
        run_id = entry.content.run_id
        run_key = None if run_id is None else keys.run_key(run_id, *where)
        moved = keys.retarget(entry.key, source_prefix, target_prefix)
        _store_checkpoint(tx, moved, where, entry.content, run_key)
    return len(checkpoints)


def keep_latest_in(tx: Transaction, thread_id: str) -> int:
    """Keep only the latest checkpoint of each namespace of the thread, its pending
    writes and the blobs it reads; return how many checkpoints were removed."""
    latest: dict[str, tuple[str, CheckpointRecord]] = {}  # namespace -> (id, record)
    older: list[tuple[str, CheckpointRecord]] = []
    for entry in tx.list(prefix=keys.checkpoints_of_thread(thread_id), type=CheckpointRecord):
        _, checkpoint_ns, checkpoint_id = _where(entry.key)
        previous = latest.get(checkpoint_ns)
        if previous is not None:  # keys come in id order: this one is newer
            older.append((keys.checkpoint_key(thread_id, checkpoint_ns, previous[0]), previous[1]))
        latest[checkpoint_ns] = (checkpoint_id, entry.content)
    for key, record in older:
        _remove_checkpoint(tx, key, record)
    kept_blobs = {
        keys.blob_key(thread_id, checkpoint_ns, channel, version)
        for checkpoint_ns, (_, record) in latest.items()
        for channel, version in record.versions.items()
    }
    for blob_key in tx.keys(prefix=keys.blobs_of_thread(thread_id)):
        if blob_key not in kept_blobs:
            tx.forget(blob_key)
    return len(older)


# -- reads -------------------------------------------------------------------------------


def checkpoint_of(
    view: Reader, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None
) -> StoredCheckpoint | None:
    """The checkpoint with that id, or the namespace's latest (``None``: the latest);
    ``None`` if there is none. Costs a point read (or a reverse scan of one key), the
    blobs it reads and its writes."""
    if checkpoint_id is not None:
        key = keys.checkpoint_key(thread_id, checkpoint_ns, checkpoint_id)
        entry = view.get(key, type=CheckpointRecord)
    else:
        prefix = keys.checkpoints_of_namespace(thread_id, checkpoint_ns)
        latest = view.list(prefix=prefix, reverse=True, limit=1, type=CheckpointRecord)
        entry = latest[0] if latest else None
    if entry is None:
        return None
    return _complete(view, _where(entry.key), entry.content, {})


def page_of(
    view: Reader,
    prefix: str,
    *,
    after: str | None,
    size: int,
    before_id: str | None,
    matches: Matches | None,
) -> tuple[list[StoredCheckpoint], str | None]:
    """Up to ``size`` checkpoints under ``prefix``, newest key first, after the key
    ``after`` (a reverse scan), those with an id below ``before_id`` that ``matches``
    accepts; and the key to go on after (``None``: the scan reached the end)."""
    entries = view.list(prefix=prefix, reverse=True, limit=size, after=after, type=CheckpointRecord)
    found: list[StoredCheckpoint] = []
    blobs: BlobsRead = {}  # read once per page: checkpoints share them
    for entry in entries:
        where = _where(entry.key)
        if before_id is not None and where[2] >= before_id:
            continue
        if matches is not None and not matches(entry.content):
            continue
        found.append(_complete(view, where, entry.content, blobs))
    return found, (entries[-1].key if len(entries) == size else None)


def _complete(
    view: Reader,
    where: tuple[str, str, str],
    record: CheckpointRecord,
    blobs_read: BlobsRead,
) -> StoredCheckpoint:
    """The checkpoint at ``where`` with its blobs (through ``blobs_read``, those
    already read on the same snapshot) and its pending writes."""
    thread_id, checkpoint_ns, checkpoint_id = where
    blobs: dict[str, BlobRecord] = {}
    blob_prefix = None
    for channel, version in record.versions.items():
        known = (thread_id, checkpoint_ns, channel, version)
        if known in blobs_read:
            blob = blobs_read[known]
        else:
            if blob_prefix is None:
                blob_prefix = keys.blobs_of_namespace(thread_id, checkpoint_ns)
            entry = view.get(keys.blob_in_namespace(blob_prefix, channel, version), type=BlobRecord)
            blob = blobs_read[known] = None if entry is None else entry.content
        if blob is not None and blob.type != EMPTY_BLOB:
            blobs[channel] = blob
    prefix = keys.writes_of_checkpoint(thread_id, checkpoint_ns, checkpoint_id)
    writes: list[tuple[str, int, WriteRecord]] = []
    for entry in view.list(prefix=prefix, type=WriteRecord):
        task_id, idx = unpack(entry.key[len(prefix) :])  # only what follows the prefix
        writes.append((str(task_id), int(idx), entry.content))
    writes.sort(key=lambda write: (write[2].task_path, write[0], write[1]))  # writes_sort_key
    return StoredCheckpoint(
        thread_id,
        checkpoint_ns,
        checkpoint_id,
        record,
        blobs,
        [(task_id, write) for task_id, _, write in writes],
    )


def _where(key: str) -> tuple[str, str, str]:
    """Thread id, namespace and checkpoint id of a checkpoint key."""
    thread_id, checkpoint_ns, checkpoint_id = unpack(key[_CHECKPOINT_PARTS_AT:])
    return str(thread_id), str(checkpoint_ns), str(checkpoint_id)


_CHECKPOINT_PARTS_AT: Final = len(keys.CHECKPOINTS)  # where a checkpoint key's ids start
