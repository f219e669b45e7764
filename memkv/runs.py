"""How transaction functions run: alone (`run_alone`) or in a group commit
(`GroupRun`), each on a `memkv.views.Transaction`; and `PreparedStore`, a store made
ready in the caller's thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from memkv.backends.base import Outcome, WriteTxn
from memkv.cache import CachedValue
from memkv.counts import CountChanges, write_counts
from memkv.entry import CORE, MemoryEntry, clock, encode_entry, new_entry_id
from memkv.keys import encode_key
from memkv.views import Reading, Transaction, check_names

R = TypeVar("R")


class PreparedStore:
    """``store`` (or, with ``only_if_absent``, ``insert``) of one entry as a
    transaction function, checked, stamped and encoded when it is made: in the
    caller's thread, before the write transaction, rather than inside it (where the
    writer of a group commit does each function in turn). Bad input raises here.

    Raises:
        InvalidKey, InvalidArgument, InvalidContent.
    """

    __slots__ = ("entry", "only_if_absent", "raw_key", "record")

    def __init__(
        self,
        key: str,
        content: Any,
        category: str = CORE,
        session_id: str | None = None,
        *,
        only_if_absent: bool = False,
    ) -> None:
        self.raw_key = encode_key(key)
        check_names(category, session_id)
        timestamp, id_prefix = clock()
        self.entry = MemoryEntry(
            id=new_entry_id(id_prefix),
            key=key,
            content=content,
            category=category,
            timestamp=timestamp,
            session_id=session_id,
        )
        self.record = encode_entry(self.entry)
        self.only_if_absent = only_if_absent

    def __call__(self, tx: Transaction) -> MemoryEntry[Any]:
        return tx._write_prepared(
            self.entry, self.raw_key, self.record, only_if_absent=self.only_if_absent
        )


Written = dict[str, CachedValue]  # what the read cache learns once a transaction commits
BackendFunction = Callable[[WriteTxn], Any]
WriteGroup = Callable[[list[BackendFunction]], tuple[list[Outcome], int]]


def run_alone(fn: Callable[[Transaction], R]) -> Callable[[WriteTxn], tuple[R, Written]]:
    """``fn`` as the one function of a backend write transaction: run on a
    `Transaction`; returns its result and what the read cache should learn."""

    def run(txn: WriteTxn) -> tuple[R, Written]:
        return _run(fn, Transaction(txn))

    return run


def _run(fn: Callable[[Transaction], R], tx: Transaction) -> tuple[R, Written]:
    try:
        result = fn(tx)
        written = tx._finish()
    finally:
        tx._abandon()
    return result, written


class GroupAborted(BaseException):
    """Carries an engine error out of a group's last function: the backend aborts
    the whole transaction (a BaseException, so that no savepoint catches it)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


class GroupRun:
    """The transaction functions of one group commit, as backend write functions.

    `functions` is ``[start, one per transaction function, finish]``. ``start``
    begins an attempt (a backend may run the group more than once): one clock
    reading for the whole group, no count changes yet. Each transaction function runs
    on a `Transaction` of its own, whose count changes join the group's; ``finish``
    writes them, summed: two or four count writes per group rather than per
    function. When the backend runs a function in a savepoint of its own (it does
    once a function of the group raised), that function writes its own counts
    instead, so that rolling it back takes them back too.
    """

    def __init__(self, fns: list[Callable[[Transaction], Any]]) -> None:
        self.functions: list[BackendFunction] = [
            self._start,
            *(self._member(fn) for fn in fns),
            self._finish,
        ]
        self._txn: WriteTxn | None = None
        self._reading: Reading | None = None
        self._counts: CountChanges = {}

    def _start(self, txn: WriteTxn) -> None:
        self._txn = txn
        self._reading = clock()
        self._counts = {}

    def _member(self, fn: Callable[[Transaction], R]) -> Callable[[WriteTxn], tuple[R, Written]]:
        def run(txn: WriteTxn) -> tuple[R, Written]:
            together = txn is self._txn  # no savepoint of its own: counts join the group's
            group_counts = self._counts if together else None
            return _run(fn, Transaction(txn, reading=self._reading, group_counts=group_counts))

        return run

    def _finish(self, txn: WriteTxn) -> None:
        try:
            write_counts(txn, self._counts)
        except Exception as exc:
            raise GroupAborted(exc) from exc

    def commit(self, write_group: WriteGroup) -> tuple[list[Outcome], int]:
        """Run the group with ``write_group`` (a backend's); the outcomes of the
        transaction functions, in order, and the commit id.

        Raises:
            the engine error that made ``finish`` fail (nothing committed).
        """
        try:
            outcomes, txn_id = write_group(self.functions)
        except GroupAborted as aborted:
            raise aborted.error from None
        return outcomes[1:-1], txn_id
