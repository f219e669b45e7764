"""The transactions that read and write functions receive: views of a py-lmdb
transaction over memkv's tables (`memkv.backends.base.ReadTxn`, `WriteTxn`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import lmdb

from memkv.backends.base import EngineSignal, Table


class RetryWithLargerMap(EngineSignal):
    """Raised out of a transaction function when the map is full (an `EngineSignal`,
    so that a transaction function that catches ``Exception`` cannot swallow it)."""


class LmdbReadTxn:
    """A read transaction; ``dbs`` maps each table to its LMDB database."""

    __slots__ = ("_dbs", "_txn")

    def __init__(self, txn: lmdb.Transaction[bytes], dbs: dict[Table, Any]) -> None:
        self._txn = txn
        self._dbs = dbs

    @property
    def snapshot_id(self) -> int:
        return self._txn.id()

    def get(self, table: Table, key: bytes) -> bytes | None:
        return self._txn.get(key, db=self._dbs[table])

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
        items: list[tuple[bytes, bytes]] = []
        if limit is not None and limit <= 0:
            return items
        with self._txn.cursor(db=self._dbs[table]) as cursor:
            if reverse:
                # Position on the last key below `stop`.
                positioned = cursor.last() if stop is None else _seek_below(cursor, stop)
                in_range: Callable[[bytes], bool] = start.__le__
            else:
                positioned = cursor.set_range(start)
                in_range = (lambda key: True) if stop is None else stop.__gt__
            if not positioned:
                return items
            walk: Iterator[tuple[bytes, bytes]]
            if keys_only:  # values are not even copied out of the map
                keys = cursor.iterprev(values=False) if reverse else cursor.iternext(values=False)
                walk = ((key, b"") for key in keys)
            else:
                walk = cursor.iterprev() if reverse else cursor.iternext()
            for key, value in walk:
                if not in_range(key):
                    break
                items.append((key, value))
                if limit is not None and len(items) >= limit:
                    break
        return items


def _seek_below(cursor: lmdb.Cursor[bytes], stop: bytes) -> bool:
    if cursor.set_range(stop):
        return cursor.prev()
    return cursor.last()


class LmdbWriteTxn(LmdbReadTxn):
    """A write transaction (or a savepoint: a nested one). A full map raises
    `RetryWithLargerMap`."""

    __slots__ = ()

    @property
    def snapshot_id(self) -> int:
        return self._txn.id() - 1

    @property
    def txn_id(self) -> int:
        return self._txn.id()

    def put(self, table: Table, key: bytes, value: bytes) -> None:
        try:
            self._txn.put(key, value, db=self._dbs[table])
        except lmdb.MapFullError as exc:
            raise RetryWithLargerMap from exc

    def delete(self, table: Table, key: bytes) -> bool:
        try:
            return self._txn.delete(key, db=self._dbs[table])
        except lmdb.MapFullError as exc:
            raise RetryWithLargerMap from exc
