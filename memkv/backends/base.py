"""The backend interface: an ordered byte-key store with transactions, nothing else.

A backend keeps three tables (`Table`), each an ordered map from byte keys to byte
values, compared as unsigned bytes. It offers read snapshots and atomic write
transactions; `memkv.Memory` builds every feature on these few operations, so a new
backend gets all of them by implementing this module's classes and passing the
conformance suite in ``tests/memkv/test_conformance.py``.
"""

from __future__ import annotations

import enum
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from memkv.errors import Unsupported

T = TypeVar("T")
Outcome = tuple[bool, Any]  # (True, result) or (False, the exception it raised)


class EngineSignal(BaseException):
    """Raised by a backend through the transaction functions it runs, for its own
    control flow (the map is full, a read needs a snapshot, a statement failed). A
    BaseException, so that no ``except Exception`` in a function swallows it; never
    the function's own error (`memkv.runs` tells them apart by this class)."""


class Table(enum.IntEnum):
    """The named tables every backend keeps (LMDB: named databases)."""

    ENTRIES = 0  # user key -> encoded record
    INDEX = 1  # category / session indexes and their counts
    META = 2  # format version and other store-wide settings


class ReadTxn(Protocol):
    """A consistent snapshot; valid only inside the function it is handed to."""

    @property
    def snapshot_id(self) -> int:
        """The id of the last commit this snapshot sees (see `Backend.commit_id`)."""
        ...

    def get(self, table: Table, key: bytes) -> bytes | None:
        """The value stored at ``key``, or ``None`` if absent."""
        ...

    def scan(
        self,
        table: Table,
        start: bytes,
        stop: bytes | None,
        *,
        reverse: bool = False,
        limit: int | None = None,
        keys_only: bool = False,
    ) -> list[tuple[bytes, bytes]]:
        """The items with ``start <= key < stop`` (``stop=None``: no upper bound), in
        key order or, with ``reverse``, in descending order; at most ``limit``; with
        ``keys_only`` the values are not read (each is ``b""``). Returns a list:
        nothing of a scan outlives its transaction."""
        ...


class WriteTxn(ReadTxn, Protocol):
    """A write transaction: reads see its own writes; it commits as a whole or not
    at all."""

    @property
    def txn_id(self) -> int:
        """The id this transaction commits as, if it changes anything: strictly
        greater than every id committed before it (see `Backend.commit_id`)."""
        ...

    def put(self, table: Table, key: bytes, value: bytes) -> None:
        """Store ``value`` at ``key``, replacing any previous value."""
        ...

    def delete(self, table: Table, key: bytes) -> bool:
        """Remove ``key``; ``True`` if it was present."""
        ...


class Backend(ABC):
    """An ordered byte-key store with transactions."""

    #: Short name shown to users ("lmdb", "in-memory", "postgres").
    name: str
    #: Where the store lives (a directory, ":memory:", or the server and schema).
    location: str
    readonly: bool
    #: Whether a read is answered in this process without waiting (a memory map, a
    #: dict): `memkv.aio` runs such reads on the event loop, others in a thread.
    local_reads: bool = True

    @abstractmethod
    def read(self, fn: Callable[[ReadTxn], T], *, several_reads: bool = False) -> T:
        """Run ``fn`` on a read snapshot and return its result.

        The snapshot ends when ``fn`` returns. The backend may call ``fn`` again (if
        the map was remapped under it, say), so ``fn`` must only read.
        ``several_reads`` says that ``fn`` makes more than one read: a backend that
        tries a lone read without a snapshot first (PostgreSQL) starts one at once.

        Raises:
            StoreClosed, BackendError.
        """

    @abstractmethod
    def write_group(self, fns: list[Callable[[WriteTxn], Any]]) -> tuple[list[Outcome], int]:
        """Run several transaction functions in one write transaction, each in a
        savepoint of its own: one that raises is rolled back alone (its outcome is
        ``(False, exception)``), the others commit together. Returns each outcome,
        in order, and the id the transaction committed as; the caller then calls
        `flush` with that id before telling anyone the writes are durable.

        As `write`, the backend may run the functions again. An error of the engine
        itself (a full disk, say) fails them all: it is raised.
        """

    def write(self, fn: Callable[[WriteTxn], T]) -> T:
        """Run ``fn`` in a write transaction and commit; return its result.

        If ``fn`` raises, nothing it wrote is kept and the exception propagates. The
        backend may call ``fn`` more than once (after growing the map, say), so
        ``fn`` must have no effects outside the transaction. Write transactions of
        one store are serialised; starting one inside another on the same thread
        raises `NestedTransaction` instead of deadlocking.

        Raises:
            StoreClosed, ReadOnlyStore, NestedTransaction, StorageFull, BackendError.
        """
        [(ok, value)], txn_id = self.write_group([fn])
        if not ok:
            raise value
        self.flush(txn_id)
        return value  # type: ignore[no-any-return]

    @abstractmethod
    def flush(self, txn_id: int) -> None:
        """Make commit ``txn_id`` (and every commit before it) as durable as the
        store's durability level promises. `write_group` leaves this last flush to its
        caller, so that the next group can commit meanwhile; `write` makes it. Cheap
        when a flush since the commit already covered it.

        Raises:
            BackendError: the flush failed (the commit may not survive a power loss).
        """

    @abstractmethod
    def check_writable(self) -> None:
        """Raise now what a write from this thread would raise before running anything:
        `ReadOnlyStore`, `NestedTransaction` (this thread is inside a write transaction
        of this store, or inside a read snapshot where the backend cannot write beside
        one), `StoreClosed`. `memkv.Memory` asks before queueing a write for a group
        commit, so that a doomed write fails its own caller only."""

    def point_reader(self, table: Table) -> Callable[[bytes], bytes | None]:
        """A callable ``key -> value or None`` that reads one key of ``table`` in a
        transaction of its own, by the shortest path the backend has (`Memory.get`
        reads through it on every cache miss: `memkv.cache`). Valid until the backend
        is closed."""
        return lambda key: self.read(lambda txn: txn.get(table, key))

    @abstractmethod
    def commit_id(self) -> int:
        """The id of the last committed write transaction, by any handle or process."""

    def commit_id_reader(self) -> Callable[[], int]:
        """A callable returning `commit_id`, as cheap as the backend can make it (the
        read cache calls it on every hit). Valid until the backend is closed."""
        return self.commit_id

    def backup(self, destination: str | os.PathLike[str], *, compact: bool = True) -> Path:
        """Write a consistent copy of the store, as of one snapshot taken while writers
        go on, to the new directory ``destination``, in the form `memkv.open` opens;
        return its path. The default refuses: only a store made of files (LMDB) can
        be copied as files.

        Raises:
            Unsupported: this kind of store has no file copy; export and import its
                entries instead.
        """
        raise Unsupported(
            f"the {self.name} store at {self.location} has no file backup: copy its "
            "entries with export_jsonl and import_jsonl instead"
        )

    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """Engine figures for ``memkv stats``: size on disk, map size, and so on."""

    @abstractmethod
    def health_check(self) -> bool:
        """``True`` if a read transaction can be started and the format is known."""

    @abstractmethod
    def close(self) -> None:
        """Release the store. Repeated calls do nothing."""

    @property
    @abstractmethod
    def closed(self) -> bool: ...
