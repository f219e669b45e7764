"""Stored counts (`memkv.layout` count keys), as transactions change them: collected
while a transaction runs, written once at its end (or its group's end).

A count change is a delta per count key: the entry counts per category and session,
and recall's statistics (`memkv.recall`), alike.
"""

from __future__ import annotations

from typing import Final

from memkv import layout
from memkv.backends.base import Table, WriteTxn
from memkv.errors import CorruptRecord

CountChanges = dict[bytes, int]  # count key -> what it gains (or loses)

_INDEX: Final = Table.INDEX


def write_counts(txn: WriteTxn, changes: CountChanges) -> None:
    """Apply count changes to the stored counts; a count that reaches zero is deleted
    (see `memkv.layout`).

    Raises:
        CorruptRecord: a count would fall below zero (the store's indexes are damaged).
    """
    for count_key, delta in changes.items():
        if delta:
            total = layout.decode_count(txn.get(_INDEX, count_key)) + delta
            if total < 0:
                raise CorruptRecord(
                    f"count {count_key!r} would fall below zero: the indexes disagree with "
                    "the entries (Memory.repair() rebuilds them)",
                    key=repr(count_key),
                )
            if total:
                txn.put(_INDEX, count_key, layout.encode_count(total))
            else:
                txn.delete(_INDEX, count_key)


def add_counts(into: CountChanges, changes: CountChanges) -> None:
    """Add ``changes`` to ``into``."""
    for count_key, delta in changes.items():
        into[count_key] = into.get(count_key, 0) + delta


def change_entry_counts(
    changes: CountChanges,
    space: layout.Space,
    category: str,
    session_id: str | None,
    delta: int,
) -> None:
    """Count ``delta`` entries more in every count an entry of this space, category
    and session adds to."""
    for count_key in layout.count_keys(space, category, session_id):
        changes[count_key] = changes.get(count_key, 0) + delta
