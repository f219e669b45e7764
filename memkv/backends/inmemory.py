"""The in-memory backend (``memkv.open(":memory:")``): the store lives and dies with
the process. Like every backend, it is checked against the model of the stateful
tests (``tests/memkv/model.py``), which shares no code with it.

Each table is a dict plus a sorted list of its keys. A write transaction collects its
changes in a dict per table, which its own reads consult first; a savepoint is a copy
of those dicts. Commit applies the changes under the state lock, which readers hold
for their whole snapshot, so they see all of a transaction or none of it (and a
commit waits for open snapshots). Inserting a new key costs a ``bisect.insort`` (a
memmove of the key list): fine for tests and for stores of a few hundred thousand
keys.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final

from memkv.backends.base import Backend, Outcome, ReadTxn, T, Table, WriteTxn
from memkv.errors import NestedTransaction, ReadOnlyStore, StoreClosed

LOCATION: Final = ":memory:"


class _TableData:
    __slots__ = ("sorted_keys", "values")

    def __init__(self) -> None:
        self.values: dict[bytes, bytes] = {}
        self.sorted_keys: list[bytes] = []

    def scan(
        self, start: bytes, stop: bytes | None, *, reverse: bool
    ) -> Iterator[tuple[bytes, bytes]]:
        keys = self.sorted_keys
        low = bisect.bisect_left(keys, start)
        high = len(keys) if stop is None else bisect.bisect_left(keys, stop)
        positions = range(high - 1, low - 1, -1) if reverse else range(low, high)
        values = self.values
        return ((keys[i], values[keys[i]]) for i in positions)

    def apply(self, changes: dict[bytes, bytes | None]) -> None:
        for key, value in changes.items():
            if value is None:
                if self.values.pop(key, None) is not None:
                    del self.sorted_keys[bisect.bisect_left(self.sorted_keys, key)]
            else:
                if key not in self.values:
                    bisect.insort(self.sorted_keys, key)
                self.values[key] = value


class _ReadTxn:
    __slots__ = ("_snapshot_id", "_tables")

    def __init__(self, tables: tuple[_TableData, ...], snapshot_id: int) -> None:
        self._tables = tables
        self._snapshot_id = snapshot_id

    @property
    def snapshot_id(self) -> int:
        return self._snapshot_id

    def get(self, table: Table, key: bytes) -> bytes | None:
        return self._tables[table].values.get(key)

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
        items = self._tables[table].scan(start, stop, reverse=reverse)
        found = list(itertools.islice(items, limit))
        return [(key, b"") for key, _ in found] if keys_only else found


Changes = dict[bytes, bytes | None]  # key -> new value, or None: deleted


class _WriteTxn:
    """The changes of one write transaction over the committed tables, which no one
    else changes while it runs (the write lock)."""

    __slots__ = ("_base", "_txn_id", "changes")

    def __init__(self, tables: tuple[_TableData, ...], txn_id: int) -> None:
        self._base = _ReadTxn(tables, txn_id - 1)
        self._txn_id = txn_id
        self.changes: list[Changes] = [{} for _ in Table]

    @property
    def snapshot_id(self) -> int:
        return self._txn_id - 1

    @property
    def txn_id(self) -> int:
        return self._txn_id

    def get(self, table: Table, key: bytes) -> bytes | None:
        changes = self.changes[table]
        return changes[key] if key in changes else self._base.get(table, key)

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
        changed = {
            key: value
            for key, value in self.changes[table].items()
            if start <= key and (stop is None or key < stop)
        }
        # Each changed key hides or replaces at most one committed item: `limit` more
        # than were changed is enough committed items to fill the page.
        enough = None if limit is None else limit + len(changed)
        items: Changes = dict(self._base.scan(table, start, stop, reverse=reverse, limit=enough))
        items.update(changed)
        present = {key: value for key, value in items.items() if value is not None}
        keys = sorted(present, reverse=reverse)[:limit]
        return [(key, b"" if keys_only else present[key]) for key in keys]

    def put(self, table: Table, key: bytes, value: bytes) -> None:
        self.changes[table][key] = bytes(value)

    def delete(self, table: Table, key: bytes) -> bool:
        present = self.get(table, key) is not None
        if present:
            self.changes[table][key] = None
        return present

    def savepoint(self) -> list[Changes]:
        """The changes so far, to go back to with `roll_back_to`."""
        return [dict(changes) for changes in self.changes]

    def roll_back_to(self, savepoint: list[Changes]) -> None:
        self.changes = [dict(changes) for changes in savepoint]


class InMemoryBackend(Backend):
    """An ordered byte-key store held in this process's memory; gone on close."""

    name = "in-memory"
    location = LOCATION

    def __init__(self, *, readonly: bool = False) -> None:
        self.readonly = readonly
        self._tables: tuple[_TableData, ...] | None = tuple(_TableData() for _ in Table)
        self._last_commit = 0
        self._state_lock = threading.RLock()  # commit vs. readers
        self._write_lock = threading.Lock()  # one writer at a time
        self._writer_thread: int | None = None
        self._reading: list[int] = []  # threads inside a read snapshot

    def _live_tables(self) -> tuple[_TableData, ...]:
        if self._tables is None:
            raise StoreClosed("the in-memory store is closed")
        return self._tables

    def read(self, fn: Callable[[ReadTxn], T], *, several_reads: bool = False) -> T:
        thread = threading.get_ident()
        with self._state_lock:
            self._reading.append(thread)
            try:
                return fn(_ReadTxn(self._live_tables(), self._last_commit))
            finally:
                self._reading.remove(thread)

    def check_writable(self) -> None:
        if self.readonly:
            raise ReadOnlyStore("the in-memory store was opened read-only")
        self._live_tables()
        thread = threading.get_ident()
        if self._writer_thread == thread:
            raise NestedTransaction(
                "a write transaction is already open on this thread; use its tx"
            )
        if thread in self._reading:
            # LMDB would let the write proceed beside the snapshot; here readers and
            # writers share one lock, and the write would show through the snapshot.
            raise NestedTransaction("a write inside a read snapshot of the in-memory store")

    def write_group(self, fns: list[Callable[[WriteTxn], Any]]) -> tuple[list[Outcome], int]:
        self.check_writable()
        with self._write_lock:
            self._writer_thread = threading.get_ident()
            try:
                txn, outcomes = self._run_group(fns)
                with self._state_lock:
                    tables = self._live_tables()
                    if any(txn.changes):
                        for data, table_changes in zip(tables, txn.changes, strict=True):
                            data.apply(table_changes)
                        self._last_commit += 1
                return outcomes, txn.txn_id
            finally:
                self._writer_thread = None

    def _run_group(self, fns: list[Callable[[WriteTxn], Any]]) -> tuple[_WriteTxn, list[Outcome]]:
        """The functions all in one transaction, as LMDB runs them: together first (the
        usual case); if one raises, all again, each in a savepoint of its own, so that
        one that raises rolls back alone."""
        tables, txn_id = self._live_tables(), self._last_commit + 1
        txn = _WriteTxn(tables, txn_id)
        try:
            return txn, [(True, fn(txn)) for fn in fns]
        except Exception as exc:
            if len(fns) == 1:
                return _WriteTxn(tables, txn_id), [(False, exc)]
        txn = _WriteTxn(tables, txn_id)
        outcomes: list[Outcome] = []
        for fn in fns:
            savepoint = txn.savepoint()
            try:
                outcomes.append((True, fn(txn)))
            except Exception as exc:
                txn.roll_back_to(savepoint)
                outcomes.append((False, exc))
        return txn, outcomes

    def flush(self, txn_id: int) -> None:
        """Nothing to flush: the store lives and dies with the process."""

    def commit_id(self) -> int:
        if self._tables is None:
            raise StoreClosed("the in-memory store is closed")
        return self._last_commit

    def stats(self) -> dict[str, Any]:
        with self._state_lock:
            tables = self._live_tables()
            return {
                "backend": self.name,
                "location": self.location,
                "records": {table.name.lower(): len(tables[table].values) for table in Table},
                "last_commit": self._last_commit,
            }

    def health_check(self) -> bool:
        return self._tables is not None

    def close(self) -> None:
        with self._state_lock:
            self._tables = None

    @property
    def closed(self) -> bool:
        return self._tables is None
