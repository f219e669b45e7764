"""Purge: remove every entry of a key space that matches a filter (a category, a
session, a key prefix, or several of them at once), in bounded transactions.

`PurgeFilter` is a checked request; `Purge` runs it as a series of transaction
functions (`Purge.batch`), each removing up to `BATCH` entries through
`Transaction.forget`, which keeps the indexes, counts and recall index in step. So
no other writer waits long behind a purge, a crash between two batches leaves a
consistent store holding what the later batches would have removed, and running the
purge again finishes it. `memkv.Memory.purge` drives the batches one after another;
`memkv.aio.AsyncMemory.purge` awaits each.

The keys of a batch are read from the index that serves the filter, as `list` picks
it (`memkv.query.Query`), starting after the last key of the batch before: a purge
reads what it removes, never the rest of the store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import msgspec

from memkv.errors import InvalidArgument
from memkv.keys import render_key
from memkv.query import Query
from memkv.views import Reader, Transaction

BATCH: Final = 128
"""Entries removed per transaction: a few milliseconds of the write lock on LMDB,
commit included (``benchmarks/bench_purge.py``), so that the writers queued behind a
batch wait little."""

_COUNTED_PER_READ: Final = 4096  # keys read at once by `PurgeFilter.count_in`


class PurgeFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which entries a purge removes: those matching every filter given (``None``:
    that filter is not given; at least one is). Make one with `PurgeFilter.of`."""

    category: str | None
    session_id: str | None
    prefix: str | None

    @classmethod
    def of(
        cls, category: str | None = None, session_id: str | None = None, prefix: str | None = None
    ) -> PurgeFilter:
        """Check a purge's filters as `memkv.Memory.list` checks its own.

        Raises:
            InvalidArgument: no filter is given; a bad category or session id; a
                prefix that is not a str, not UTF-8 encodable or longer than a key,
                or empty (it would match every key: give a category or session
                instead, or forget the keys one by one).
        """
        if category is None and session_id is None and prefix is None:
            raise InvalidArgument(
                "purge needs at least one filter (category, session_id or prefix): "
                "it never removes a whole store"
            )
        if prefix == "":
            raise InvalidArgument(
                "purge's prefix must not be empty: it would match every key "
                "(give a category or session_id instead)"
            )
        Query.of(category, session_id, prefix)  # raises if one is bad
        return cls(category=category, session_id=session_id, prefix=prefix)

    def describe(self) -> str:
        """The filters in words, for messages: ``category 'daily', prefix ('a', 1)``."""
        parts = []
        if self.category is not None:
            parts.append(f"category {self.category!r}")
        if self.session_id is not None:
            parts.append(f"session {self.session_id!r}")
        if self.prefix is not None:
            parts.append(f"prefix {render_key(self.prefix)}")
        return ", ".join(parts)

    def count_in(self, view: Reader) -> int:
        """How many entries of ``view`` match: a stored count (O(1)) without a
        prefix; with one, the matching keys are read (without their entries)."""
        if self.prefix is None:
            return view.count(self.category, self.session_id)
        counted = 0
        after = None
        while keys := view.keys(
            self.category, self.session_id, prefix=self.prefix, limit=_COUNTED_PER_READ, after=after
        ):
            counted += len(keys)
            after = keys[-1]
        return counted


class Batch(msgspec.Struct, frozen=True, kw_only=True):
    """What one batch of a purge did: how many entries it removed, the last key it
    read (where the next batch starts), and whether it reached the end."""

    removed: int
    last: str | None
    done: bool


class Purge:
    """One purge under way: hands out the transaction function of its next batch
    (`batch`) and learns what each did (`record`) until it is `done`.

    A batch removes the next `BATCH` matching keys after the last one the batch
    before read: it makes progress even while other writers add matching entries,
    and each transaction reads only what it removes. It removes every entry that
    matched when it started and still matches when a batch reaches its key; an entry
    written meanwhile at a key the batches have passed stays. Entries that have
    expired but are not swept yet are removed too (and not counted: they were
    already absent).
    """

    __slots__ = ("_after", "batch_size", "done", "filter", "removed")

    def __init__(self, wanted: PurgeFilter, *, batch_size: int = BATCH) -> None:
        """``batch_size``: entries removed per transaction (tests and the benchmark
        change it).

        Raises:
            InvalidArgument: ``batch_size`` is not an integer of at least 1.
        """
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise InvalidArgument(f"batch_size must be an integer >= 1, not {batch_size!r:.80}")
        self.filter = wanted
        self.batch_size = batch_size
        self.removed = 0
        self.done = False
        self._after: str | None = None

    def batch(self) -> Callable[[Transaction], Batch]:
        """The transaction function of the next batch (it may run more than once, as
        any: it removes what it finds then)."""
        wanted, after, size = self.filter, self._after, self.batch_size

        def remove(tx: Transaction) -> Batch:
            query = Query.of(
                wanted.category, wanted.session_id, wanted.prefix, size, after, space=tx._space
            )
            keys = tx._stored_keys(query)  # expired ones too: an erasure leaves nothing
            removed = sum(tx.forget(key) for key in keys)
            return Batch(removed=removed, last=keys[-1] if keys else after, done=len(keys) < size)

        return remove

    def record(self, batch: Batch) -> None:
        """Take in what a batch returned."""
        self.removed += batch.removed
        self._after = batch.last
        self.done = batch.done


def purge(
    transact: Callable[[Callable[[Transaction], Batch]], Batch],
    wanted: PurgeFilter,
    *,
    batch_size: int = BATCH,
) -> int:
    """Run a purge with ``transact`` (a `memkv.Memory`'s), one batch after another;
    return how many entries it removed.

    Raises:
        what ``transact`` raises: StoreClosed, ReadOnlyStore, StorageFull,
        BackendError (the batches committed before stay removed).
    """
    run = Purge(wanted, batch_size=batch_size)
    while not run.done:
        run.record(transact(run.batch()))
    return run.removed
