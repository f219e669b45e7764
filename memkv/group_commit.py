"""Group commit: the transaction functions of many writers, committed together.

A durable commit costs disk flushes, whatever it holds. Writers that arrive while a
commit is under way queue up; the next commit takes all of them (up to
`MAX_GROUP`) in one write transaction, each function in a savepoint of its own, so
that one that raises rolls back alone while the others commit. Each caller resumes
only once the commit that holds its write is durable.

A function that raises a BaseException (SystemExit, KeyboardInterrupt) fails alone
too, and its caller gets it. One exception: a KeyboardInterrupt raised in the main
thread while it runs another thread's function is a Ctrl-C, and belongs to the main
thread; that function's caller gets a `BackendError` caused by it.

A group is committed, then made durable (the backend's last flush, see
`memkv.Durability.flushes_after_commit`). Leadership passes on between the two, so
that the next group commits while the last one is being flushed.

Two ways in, one queue:

* `GroupCommitter.run` for threads: the first caller to find no one leading leads,
  committing the queue one group at a time until its own function is committed; the
  others wait, and leadership passes to the oldest waiter (no extra thread, no
  hand-off for a lone writer).
* `GroupCommitter.submit` for asyncio: the committer's own writer threads lead, and
  call each caller back from there (`memkv.aio`), so no event loop waits for a disk.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Final

from memkv import forking
from memkv.backends.base import Outcome
from memkv.errors import BackendError, NestedTransaction, StoreClosed

MAX_GROUP: Final = 256  # transaction functions per commit
WRITER_THREADS: Final = 2  # one commits the next group while the other flushes

WriterCallback = Callable[[Outcome], None]
TransactionFunction = Callable[[Any], Any]
# Commits functions together: their outcomes, in order, and a token for MakeDurable
# (None: nothing to flush).
CommitGroup = Callable[[list[TransactionFunction]], tuple[list[Outcome], Any]]
MakeDurable = Callable[[Any], None]


class Pending:
    """One queued transaction function and, once committed, its outcome."""

    __slots__ = ("done", "fn", "lead", "on_done", "outcome", "thread")

    def __init__(
        self, fn: TransactionFunction, on_done: WriterCallback | None, thread: int | None = None
    ) -> None:
        self.fn = fn
        self.thread = thread  # the thread waiting for it (None: called back)
        self.on_done = on_done  # asyncio callers are called back; threads wait on `done`
        self.done: threading.Event | None = None  # made only for a thread that waits
        self.outcome: Outcome | None = None  # set at commit; told once durable
        self.lead = False  # set when leadership passes to this (waiting) thread

    def tell(self) -> None:
        """Hand the outcome to the caller."""
        if self.on_done is not None:
            assert self.outcome is not None
            self.on_done(self.outcome)
        elif self.done is not None:
            self.done.set()

    def result(self) -> Any:
        assert self.outcome is not None
        ok, value = self.outcome
        if ok:
            return value
        raise value


class _Batch:
    """A group that was committed (or failed), to be made durable and told."""

    __slots__ = ("group", "interrupt", "token")

    def __init__(self, group: list[Pending], token: Any, interrupt: BaseException | None) -> None:
        self.group = group
        self.token = token
        self.interrupt = interrupt  # a KeyboardInterrupt, say, in the committing thread


def _interrupted(exc: BaseException) -> BackendError:
    failed = BackendError(f"the commit was interrupted ({exc!r}) in the thread making it")
    failed.__cause__ = exc
    return failed


class GroupCommitter(forking.ChildForkHook):
    """Queues transaction functions, commits them in groups with ``commit_group``
    and makes each group durable with ``make_durable`` before telling its callers."""

    def __init__(
        self,
        commit_group: CommitGroup,
        make_durable: MakeDurable,
        *,
        max_group: int = MAX_GROUP,
    ) -> None:
        self._commit_group = commit_group
        self._make_durable = make_durable
        self.max_group = max_group
        self._start()
        forking.register(self)

    def _start(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[Pending] = []
        self._leading = False  # someone holds leadership, or is about to take it
        self._leader_thread: int | None = None  # the thread running a group's functions
        self._unfinished = 0  # groups taken from the queue, their callers not yet told
        self._closed = False
        self._writers: list[threading.Thread] = []
        self._idle_writers = 0
        self._writer_turn = False  # leadership was passed to a writer thread
        self._writer_wake = threading.Condition(self._lock)
        self._quiet = threading.Condition(self._lock)  # no leader, nothing unfinished

    # -- threads -----------------------------------------------------------------------

    def run(self, fn: TransactionFunction) -> Any:
        """Commit ``fn`` (in a group, if others are waiting) and return its result
        once durable, or raise what it raised.

        Raises:
            NestedTransaction: called from inside a transaction function.
            StoreClosed: the committer is closed.
        """
        thread = threading.get_ident()
        if self._leader_thread == thread:
            raise NestedTransaction(
                "a transaction function started another transaction; use its tx instead"
            )
        pending = Pending(fn, None, thread)
        with self._lock:
            self._check_open()
            self._queue.append(pending)
            lead = not self._leading
            if not lead:
                pending.done = threading.Event()
            self._leading = True
        if not lead:
            assert pending.done is not None
            pending.done.wait()
            if not pending.lead:
                return pending.result()
        self._lead_until_committed(pending)
        return pending.result()

    def _lead_until_committed(self, mine: Pending) -> None:
        """Commit groups until ``mine`` is committed, then make that group durable
        (see `_hand_over_if_queued`) and pass leadership on."""
        handed = False
        interrupt: BaseException | None = None  # one in this thread is re-raised here
        try:
            while True:
                batch = self._commit_next_group()
                interrupt = interrupt or batch.interrupt
                if mine.outcome is not None:
                    break
                self._finish(batch)
            with self._lock:
                handed = self._hand_over_if_queued()
            self._finish(batch)
        finally:
            if not handed:
                with self._lock:
                    self._pass_leadership()
        if interrupt is not None:
            raise interrupt

    def _hand_over_if_queued(self) -> bool:
        """With the lock held, a group just committed and not yet flushed: if others
        wait already, hand them leadership, so that their group commits during the
        flush (``True``). If none waits, keep it (``False``): writers arriving during
        the flush then wait for it and commit together after, one larger group."""
        if not self._queue:
            return False
        self._pass_leadership()
        return True

    def _pass_leadership(self) -> None:
        """With the lock held: hand leadership to the oldest waiter, or let it go."""
        if not self._queue:
            self._leading = False
            self._quiet.notify_all()
            return
        oldest = self._queue[0]
        if oldest.on_done is None:  # a waiting thread: it leads next
            assert oldest.done is not None
            oldest.lead = True
            oldest.done.set()
        else:  # an asyncio caller: a writer thread leads next
            self._wake_writer()

    def _commit_next_group(self) -> _Batch:
        with self._lock:
            group = self._queue[: self.max_group]
            del self._queue[: self.max_group]
            self._unfinished += 1
        if not group:  # all withdrawn
            return _Batch(group, None, None)
        token = interrupt = None
        thread = self._leader_thread = threading.get_ident()
        try:
            outcomes, token = self._commit_group([pending.fn for pending in group])
        except Exception as exc:
            outcomes = [(False, exc)] * len(group)
        except BaseException as exc:
            outcomes = [(False, _interrupted(exc))] * len(group)
            interrupt = exc
        finally:
            self._leader_thread = None
        main = thread == threading.main_thread().ident
        for pending, outcome in zip(group, outcomes, strict=True):
            pending.outcome = outcome
            if main and not outcome[0] and pending.thread != thread:
                value = outcome[1]
                if isinstance(value, KeyboardInterrupt):
                    # Ctrl-C lands in the main thread, whatever function it was running:
                    # the interrupt is this thread's; that function's caller learns why
                    # it failed. (Anything else a function raises is its caller's.)
                    interrupt = interrupt or value
                    pending.outcome = (False, _interrupted(value))
        return _Batch(group, token, interrupt)

    def _finish(self, batch: _Batch) -> None:
        """Make a committed group durable, then tell its callers."""
        try:
            if batch.token is not None:
                self._make_durable(batch.token)
        except Exception as exc:
            for pending in batch.group:
                pending.outcome = (False, exc)
        finally:
            for pending in batch.group:
                pending.tell()
            with self._lock:
                self._unfinished -= 1
                self._quiet.notify_all()

    # -- asyncio -------------------------------------------------------------------------

    def submit(self, fn: TransactionFunction, on_done: WriterCallback) -> Pending:
        """Queue ``fn`` without waiting; ``on_done(outcome)`` is called from a writer
        thread once the commit holding it is durable (or failed).

        Raises:
            StoreClosed: the committer is closed.
        """
        pending = Pending(fn, on_done)
        with self._lock:
            self._check_open()
            self._queue.append(pending)
            if not self._leading:
                self._leading = True
                self._wake_writer()
        return pending

    def withdraw(self, pending: Pending) -> bool:
        """Take ``pending`` out of the queue if no commit has taken it yet: ``True``
        if withdrawn (it will never run, ``on_done`` is never called), ``False`` if it
        is being committed or is done."""
        with self._lock:
            try:
                self._queue.remove(pending)
            except ValueError:
                return False
            return True

    def _wake_writer(self) -> None:
        """With the lock held: a writer thread leads next (started if none is idle)."""
        self._writer_turn = True
        if not self._idle_writers and len(self._writers) < WRITER_THREADS:
            writer = threading.Thread(target=self._write_loop, name="memkv-writer", daemon=True)
            self._writers.append(writer)
            writer.start()
        self._writer_wake.notify()

    def _write_loop(self) -> None:
        try:
            while self._lead_when_asked():
                pass
        finally:
            with self._lock:
                self._writers.remove(threading.current_thread())

    def _lead_when_asked(self) -> bool:
        """A writer thread: wait for leadership; lead (see `_hand_over_if_queued`)
        until nothing waits. ``False`` once closed with nothing to lead."""
        with self._lock:
            self._idle_writers += 1
            while not self._writer_turn and not self._closed:
                self._writer_wake.wait()
            self._idle_writers -= 1
            if not self._writer_turn:
                return False
            self._writer_turn = False
        handed = False
        try:
            while not handed:
                batch = self._commit_next_group()
                with self._lock:
                    handed = self._hand_over_if_queued()
                self._finish(batch)  # an interrupt here has no caller to go to: dropped
                if not handed:
                    with self._lock:
                        if not self._queue:  # nothing arrived during the flush
                            self._pass_leadership()
                            handed = True
        finally:
            if not handed:
                with self._lock:
                    self._pass_leadership()
        return True

    # -- closing -----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("the store is closed; no more transactions")

    def close(self) -> None:
        """Refuse new transactions; wait until those queued are committed, durable
        and told, and the writer threads have stopped.

        Raises:
            NestedTransaction: called from inside a transaction function.
        """
        if self._leader_thread == threading.get_ident():
            raise NestedTransaction("cannot close the store inside a transaction function")
        with self._lock:
            self._closed = True
            self._writer_wake.notify_all()
            while self._leading or self._unfinished:
                self._quiet.wait()
            writers = list(self._writers)
        for writer in writers:
            if writer is not threading.current_thread():
                writer.join()

    def after_fork_in_child(self) -> None:
        """The child inherits none of the parent's threads: start over, empty (what
        the parent queued is the parent's to commit)."""
        closed = self._closed
        self._start()
        self._closed = closed
