"""Records that packages built on memkv wrote before the internal key space existed.

Such records sit among the user's memories. `adopt` moves a package's records into
the internal key space (`memkv.Memory.internal`) the first time the package is used
on the store: `memkv.SequenceLog` and each domain package call it when they are made.
"""

from __future__ import annotations

import functools
from typing import Final

from memkv.memory import InternalSpace, Memory, Transaction

BATCH: Final = 1_000  # entries moved per transaction

Holding = tuple[str, str]  # (category, key prefix) of a package's records


def adopt(memory: Memory, *holdings: Holding) -> int:
    """Move the entries of each (category, key prefix) in ``holdings`` from the
    user's key space of ``memory``'s store into its internal one, keeping each as it
    was (id, timestamp, session); return how many moved.

    Costs one snapshot of a point read per holding when there is nothing to move
    (the usual case). Moves in transactions of `BATCH` entries: a crash halfway
    leaves every entry in exactly one space, and the next call finishes the move.
    An entry that the internal space already holds at the same key stays, and the
    old one is dropped (the internal one was written later).

    Raises:
        ReadOnlyStore: there is something to move and the store is read-only.
        StoreClosed, StorageFull, BackendError.
    """
    users = memory._owner if isinstance(memory, InternalSpace) else memory
    waiting = users.snapshot(
        lambda view: [
            (category, prefix)
            for category, prefix in holdings
            if view.keys(category, prefix=prefix, limit=1)
        ]
    )
    moved = 0
    for category, prefix in waiting:
        while True:
            count = users.transact(functools.partial(_move, category=category, prefix=prefix))
            moved += count
            if count < BATCH:
                break
    return moved


def _move(tx: Transaction, *, category: str, prefix: str) -> int:
    return tx._move_to_internal(category, prefix, BATCH)
