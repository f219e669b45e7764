"""A write transaction that buffers its changes over a read snapshot.

`OverlayWriteTxn` keeps what a transaction writes in an overlay (one dict per table)
and answers its reads from the overlay first, then from the snapshot below it; the
PostgreSQL backend sends the overlay to the server in one statement at commit.
Savepoints are marks in an undo log, so rolling one function of a group back costs
what that function wrote.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Final

from memkv.backends.base import ReadTxn, Table

Changes = dict[bytes, bytes | None]  # key -> new value, or None: deleted
_UNSET: Final = object()  # in the undo log: the key had no pending change


class OverlayWriteTxn:
    """The changes of one write transaction over ``base``, a snapshot that no one
    else writes to while this transaction runs (the backend's write lock)."""

    __slots__ = ("_base", "_overlay", "_undo")

    def __init__(self, base: ReadTxn) -> None:
        self._base = base
        self._overlay: tuple[Changes, ...] = tuple({} for _ in Table)
        self._undo: list[tuple[Changes, bytes, object]] = []

    @property
    def snapshot_id(self) -> int:
        return self._base.snapshot_id

    def get(self, table: Table, key: bytes) -> bytes | None:
        overlay = self._overlay[table]
        if key in overlay:
            return overlay[key]
        return self._base.get(table, key)

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
        overlay = self._overlay[table]
        changed = sorted(
            (key for key in overlay if key >= start and (stop is None or key < stop)),
            reverse=reverse,
        )
        # Each changed key can hide at most one item of the snapshot's scan: reading
        # that many more still yields `limit` items that are not shadowed.
        base_limit = None if limit is None else limit + len(changed)
        committed = (
            item
            for item in self._base.scan(
                table, start, stop, reverse=reverse, limit=base_limit, keys_only=keys_only
            )
            if item[0] not in overlay
        )
        pending = ((key, overlay[key]) for key in changed)
        merged = heapq.merge(committed, pending, key=lambda item: item[0], reverse=reverse)
        present = ((key, value) for key, value in merged if value is not None)
        found = list(itertools.islice(present, limit))
        return [(key, b"") for key, _ in found] if keys_only else found

    def put(self, table: Table, key: bytes, value: bytes) -> None:
        self._change(self._overlay[table], key, bytes(value))

    def delete(self, table: Table, key: bytes) -> bool:
        present = self.get(table, key) is not None
        if present:
            self._change(self._overlay[table], key, None)
        return present

    def _change(self, overlay: Changes, key: bytes, value: bytes | None) -> None:
        self._undo.append((overlay, key, overlay.get(key, _UNSET)))
        overlay[key] = value

    def changes(self) -> tuple[Changes, ...]:
        """What the transaction wrote, per table (`Table` order)."""
        return self._overlay

    def savepoint(self) -> int:
        """A mark to roll back to: everything written after it can be undone."""
        return len(self._undo)

    def roll_back_to(self, savepoint: int) -> None:
        """Undo every change made since ``savepoint`` was taken."""
        undo = self._undo
        while len(undo) > savepoint:
            overlay, key, previous = undo.pop()
            if previous is _UNSET:
                del overlay[key]
            else:
                overlay[key] = previous  # type: ignore[assignment]
