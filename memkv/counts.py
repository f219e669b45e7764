"""Entry counts per (space, category, session), as transactions change them:
collected while a transaction runs, written once at its end (or its group's end)."""

from __future__ import annotations

from typing import Final

from memkv import layout
from memkv.backends.base import Table, WriteTxn

# (space, category, session) -> entries added
CountChanges = dict[tuple[layout.Space, str, str | None], int]

_INDEX: Final = Table.INDEX


def write_counts(txn: WriteTxn, changes: CountChanges) -> None:
    """Apply count changes per (space, category, session) to the stored counts; a
    count that reaches zero is deleted (see `memkv.layout`)."""
    deltas: dict[bytes, int] = {}
    for (space, category, session_id), delta in changes.items():
        if delta:
            for count_key in layout.count_keys(space, category, session_id):
                deltas[count_key] = deltas.get(count_key, 0) + delta
    for count_key, delta in deltas.items():
        if delta:
            total = layout.decode_count(txn.get(_INDEX, count_key)) + delta
            if total:
                txn.put(_INDEX, count_key, layout.encode_count(total))
            else:
                txn.delete(_INDEX, count_key)


def add_counts(into: CountChanges, changes: CountChanges) -> None:
    """Add ``changes`` to ``into``."""
    for group, delta in changes.items():
        into[group] = into.get(group, 0) + delta


def pending(
    changes: CountChanges, space: layout.Space, category: str | None, session_id: str | None
) -> int:
    """What ``changes`` add to the count of a category, a session, both or all
    (``None``: any) of ``space``."""
    return sum(
        delta
        for (entry_space, entry_category, entry_session), delta in changes.items()
        if entry_space == space
        and category in (None, entry_category)
        and session_id in (None, entry_session)
    )
