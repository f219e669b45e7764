"""How transaction functions run: alone (`run_alone`) or in a group commit
(`GroupRun`), each on a `memkv.views.Transaction`; `PreparedStore`, a store made
ready in the caller's thread; and `check_runs_now` / `check_result`, which refuse a
function whose body would not run when called (an ``async def``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from types import CoroutineType, FunctionType, GeneratorType, MethodType
from typing import Any, Final, NoReturn, TypeVar

from memkv import expiry
from memkv.backends.base import EngineSignal, Outcome, WriteTxn
from memkv.cache import CachedValue
from memkv.clock import SYSTEM_CLOCK, Clock, Reading
from memkv.counts import CountChanges, write_counts
from memkv.entry import CORE, MemoryEntry, encode_entry, new_entry_id
from memkv.errors import InvalidArgument
from memkv.keys import encode_key
from memkv.views import Transaction, check_names

R = TypeVar("R")

# Code flags of a function whose call returns an object instead of running the body:
# async def, async generators, generators (and @types.coroutine ones).
DEFERRED_BODY: Final = (
    inspect.CO_COROUTINE
    | inspect.CO_ITERABLE_COROUTINE
    | inspect.CO_ASYNC_GENERATOR
    | inspect.CO_GENERATOR
)
_CACHE_LIMIT: Final = 1024  # types remembered by each cache below (a bound, never reached)
# Callables of these types run their body when called (`check_runs_now` learns them);
# results of these types are never awaitable (`check_result` learns them). Callers on
# a hot path look a type up here before calling those.
SYNC_CALLABLE_TYPES: set[type] = set()
PLAIN_RESULT_TYPES: set[type] = set()


def check_runs_now(fn: object, role: str = "a transaction function") -> None:
    """Raise unless calling ``fn`` runs its body there and then: a transaction (or
    snapshot) function runs on the writer's (or reader's) thread, and the body of an
    ``async def`` would not run at all (the call only makes a coroutine), so nothing
    would be written and nothing raised. Cheap on the hot path: a plain function costs
    a look at its code flags, a callable object a look-up of its type, once checked.

    Raises:
        InvalidArgument: ``fn`` is not callable, or is a coroutine function, an async
            generator or generator function, or a `functools.partial`, bound method or
            object whose ``__call__`` is one (``role`` says what ``fn`` was for).
    """
    kind = type(fn)
    if kind is FunctionType:
        if fn.__code__.co_flags & DEFERRED_BODY:  # type: ignore[attr-defined]
            _refuse(fn, role)
        return
    if kind in SYNC_CALLABLE_TYPES:
        return
    if kind is MethodType and type(fn.__func__) is FunctionType:  # type: ignore[attr-defined]
        if fn.__func__.__code__.co_flags & DEFERRED_BODY:  # type: ignore[attr-defined]
            _refuse(fn, role)
        return
    target = fn
    while isinstance(target, functools.partial | MethodType):  # made anew per call: unwrap
        target = target.func if isinstance(target, functools.partial) else target.__func__
    if isinstance(target, FunctionType):
        if target.__code__.co_flags & DEFERRED_BODY:
            _refuse(fn, role)
        return
    if not callable(target):
        raise InvalidArgument(f"{role} must be callable, not {type(fn).__name__}: {fn!r:.80}")
    call = getattr(type(target), "__call__", None)  # noqa: B004 - the class's, not the object's
    if isinstance(call, FunctionType) and call.__code__.co_flags & DEFERRED_BODY:
        _refuse(fn, role)
    if inspect.iscoroutinefunction(target):  # marked (inspect.markcoroutinefunction)
        _refuse(fn, role)
    if target is fn and len(SYNC_CALLABLE_TYPES) < _CACHE_LIMIT:
        SYNC_CALLABLE_TYPES.add(kind)


def _refuse(fn: object, role: str) -> NoReturn:
    raise InvalidArgument(
        f"{role} must be a plain function, run to the end when called: {fn!r:.100} is an "
        "async def (or a generator), whose body would not run, so nothing would be "
        "written or read; use a plain def (with no await), and await other work before "
        "or after"
    )


def check_result(result: object, role: str = "a transaction function") -> None:
    """Raise if ``result`` (what a transaction or snapshot function returned) is
    awaitable: the function was async after all (`check_runs_now` let it through: a
    plain def returning a coroutine, say). A coroutine is closed first, so that it is
    not reported as never awaited. In a transaction, raising rolls it back.

    Raises:
        InvalidArgument: naming the result.
    """
    kind = type(result)
    if kind in PLAIN_RESULT_TYPES:
        return
    if inspect.isawaitable(result):
        if isinstance(result, CoroutineType | GeneratorType):
            result.close()
        raise InvalidArgument(
            f"{role} returned {result!r:.100}, an awaitable: its work was never done and "
            "nothing it was to write is kept; use a plain def (with no await)"
        )
    if kind is not GeneratorType and len(PLAIN_RESULT_TYPES) < _CACHE_LIMIT:
        PLAIN_RESULT_TYPES.add(kind)


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
        ttl: expiry.Ttl | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.raw_key = encode_key(key)
        check_names(category, session_id)
        span = expiry.check_ttl(ttl)
        timestamp, id_prefix = clock.reading()
        self.entry = MemoryEntry(
            id=new_entry_id(id_prefix),
            key=key,
            content=content,
            category=category,
            timestamp=timestamp,
            session_id=session_id,
            expires_at=expiry.expires_at(timestamp, span),
        )
        self.record = encode_entry(self.entry)
        self.only_if_absent = only_if_absent

    def __call__(self, tx: Transaction) -> MemoryEntry[Any]:
        return tx._write_prepared(
            self.entry, self.raw_key, self.record, only_if_absent=self.only_if_absent
        )


SYNC_CALLABLE_TYPES.add(PreparedStore)

Written = dict[str, CachedValue]  # what the read cache learns once a transaction commits
BackendFunction = Callable[[WriteTxn], Any]
WriteGroup = Callable[[list[BackendFunction]], tuple[list[Outcome], int]]


def run_alone(
    fn: Callable[[Transaction], R], clock: Clock = SYSTEM_CLOCK
) -> Callable[[WriteTxn], tuple[R, Written]]:
    """``fn`` as the one function of a backend write transaction: run on a
    `Transaction` (reading ``clock``); returns its result and what the read cache
    should learn."""

    def run(txn: WriteTxn) -> tuple[R, Written]:
        return _run(fn, Transaction(txn, clock=clock))

    return run


def _run(fn: Callable[[Transaction], R], tx: Transaction) -> tuple[R, Written]:
    try:
        result = fn(tx)
        if type(result) not in PLAIN_RESULT_TYPES:
            check_result(result)
        written = tx._finish()
    except (Exception, EngineSignal):
        raise
    except BaseException as exc:  # SystemExit, KeyboardInterrupt...: this function's own
        raise FunctionInterrupted(exc) from exc
    finally:
        tx._abandon()
    return result, written


class FunctionInterrupted(Exception):
    """Carries a BaseException that is not an `Exception` (SystemExit,
    KeyboardInterrupt, ...) raised by a transaction function out of it as an ordinary
    failure, so that the backend rolls that function back alone and the others of its
    group commit; `outcome` hands the original back for its caller."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(error)
        self.error = error


def outcome(ok: bool, value: Any) -> Outcome:
    """A function's outcome for its caller: a `FunctionInterrupted` unwrapped."""
    if not ok and isinstance(value, FunctionInterrupted):
        return False, value.error
    return ok, value


class GroupAborted(EngineSignal):
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

    def __init__(
        self, fns: list[Callable[[Transaction], Any]], clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._clock = clock
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
        self._reading = self._clock.reading()
        self._counts = {}

    def _member(self, fn: Callable[[Transaction], R]) -> Callable[[WriteTxn], tuple[R, Written]]:
        def run(txn: WriteTxn) -> tuple[R, Written]:
            together = txn is self._txn  # no savepoint of its own: counts join the group's
            group_counts = self._counts if together else None
            tx = Transaction(
                txn, clock=self._clock, reading=self._reading, group_counts=group_counts
            )
            return _run(fn, tx)

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
