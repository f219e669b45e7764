"""`memkv.aio.AsyncMemory`: `Memory`'s behaviour as coroutines; group commit across
tasks; cancellation; and nothing of a commit or a flush on the event loop."""

from __future__ import annotations

import asyncio
import functools
import inspect
import random
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memkv
import memkv.aio
from memkv.aio import AsyncMemory
from memkv.backends.base import Backend, Outcome, ReadTxn, T, WriteTxn
from tests.conftest import BACKENDS, open_backend
from tests.memkv.helpers import DelegatingBackend


@pytest.fixture
def amemory(memory: memkv.Memory) -> AsyncMemory:
    return AsyncMemory(memory)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


# -- the same behaviour as Memory -----------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c/1", "c/2", "d"])
CATEGORIES = st.sampled_from(["core", "daily", "work"])
SESSIONS = st.sampled_from([None, "s1", "s2"])
OPERATION = st.one_of(
    st.tuples(st.just("store"), KEYS, st.integers(), CATEGORIES, SESSIONS),
    st.tuples(st.just("insert"), KEYS, st.integers(), CATEGORIES, SESSIONS),
    st.tuples(st.just("forget"), KEYS),
    st.tuples(st.just("get"), KEYS),
    st.tuples(st.just("list"), st.one_of(st.none(), CATEGORIES), SESSIONS),
    st.tuples(st.just("keys"), st.one_of(st.none(), st.just("c/"))),
    st.tuples(st.just("count"), st.one_of(st.none(), CATEGORIES)),
    st.tuples(st.just("categories")),
    st.tuples(st.just("sessions")),
    st.tuples(st.just("transact"), KEYS, KEYS),
    st.tuples(st.just("bad key"), st.sampled_from(["", "x" * 300, 7])),
)


def comparable(value: Any) -> Any:
    """What two stores agree on (ids and timestamps are each store's own)."""
    if isinstance(value, memkv.MemoryEntry):
        return ("entry", value.key, value.content, value.category, value.session_id)
    if isinstance(value, list):
        return [comparable(item) for item in value]
    if isinstance(value, BaseException):
        return ("raised", type(value).__name__)
    return value


def move(tx: memkv.Transaction, source: str, target: str) -> bool:
    """A transaction function used by both: move an entry to another key."""
    entry = tx.get(source)
    if entry is None:
        return False
    tx.forget(source)
    tx.store(target, entry.content, entry.category, entry.session_id)
    return True


def sync_call(mem: memkv.Memory, operation: tuple[Any, ...]) -> Any:
    kind, *args = operation
    try:
        if kind == "list":
            return mem.list(args[0], args[1])
        if kind == "keys":
            return mem.keys(prefix=args[0])
        if kind == "transact":
            return mem.transact(functools.partial(move, source=args[0], target=args[1]))
        if kind == "bad key":
            return mem.store(args[0], 1)
        return getattr(mem, kind)(*args)
    except memkv.MemkvError as exc:
        return exc


async def async_call(amem: AsyncMemory, operation: tuple[Any, ...]) -> Any:
    kind, *args = operation
    try:
        if kind == "list":
            return await amem.list(args[0], args[1])
        if kind == "keys":
            return await amem.keys(prefix=args[0])
        if kind == "transact":
            return await amem.transact(functools.partial(move, source=args[0], target=args[1]))
        if kind == "bad key":
            return await amem.store(args[0], 1)
        return await getattr(amem, kind)(*args)
    except memkv.MemkvError as exc:
        return exc


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=40)
@given(operations=st.lists(OPERATION, max_size=30))
def test_async_memory_behaves_as_memory(backend: str, operations: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        reference = memkv.open(memkv.IN_MEMORY)
        amem = AsyncMemory(open_backend(backend, Path(directory)))

        async def compare() -> None:
            for operation in operations:
                expected = comparable(sync_call(reference, operation))
                assert comparable(await async_call(amem, operation)) == expected, operation
            assert await amem.verify() == []
            assert comparable(await amem.snapshot(lambda view: view.list())) == comparable(
                reference.list()
            )

        try:
            run(compare())
        finally:
            run(amem.close())
            reference.close()


def test_every_operation_of_memory_is_a_coroutine_with_the_same_parameters() -> None:
    plumbing = {"submit", "withdraw"}  # what memkv.aio itself is built on
    operations = [
        (name, method)
        for name, method in inspect.getmembers(memkv.Memory, inspect.isfunction)
        if not name.startswith("_") and name not in plumbing
    ]
    assert len(operations) >= 14
    for name, method in operations:
        twin = getattr(AsyncMemory, name)
        assert inspect.iscoroutinefunction(twin), name
        assert list(inspect.signature(twin).parameters.values()) == list(
            inspect.signature(method).parameters.values()
        ), name


def test_open_options_and_context_manager(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with memkv.aio.open(tmp_path / "store", durability="relaxed") as amem:
            await amem.store("k", "v", category="daily", session_id="s")
            assert amem.backend.stats()["durability"] == "relaxed"
            assert await amem.health_check()
            assert "AsyncMemory" in repr(amem)
        assert amem.closed
        with pytest.raises(memkv.StoreClosed):
            await amem.store("late", 1)
        await amem.close()  # again: nothing happens
        with pytest.raises(memkv.InvalidArgument):
            memkv.aio.open(tmp_path / "other", durability="sometimes")

    run(scenario())
    with memkv.open(tmp_path / "store") as mem:
        entry = mem.get("k")
        assert entry is not None
        assert (entry.content, entry.category, entry.session_id) == ("v", "daily", "s")


# -- group commit across tasks ----------------------------------------------------------------


def test_concurrent_tasks_share_commits(amemory: AsyncMemory) -> None:
    async def scenario() -> int:
        before = amemory.backend.commit_id()
        entries = await asyncio.gather(
            *(amemory.store(f"task/{i:03d}", i, session_id=f"s{i % 4}") for i in range(200))
        )
        assert [entry.content for entry in entries] == list(range(200))
        return amemory.backend.commit_id() - before

    commits = run(scenario())
    assert commits < 200  # stores that waited together shared a commit
    assert amemory.memory.count() == 200
    assert amemory.memory.sessions() == {f"s{i}": 50 for i in range(4)}
    assert amemory.memory.verify() == []


class Failed(Exception):
    pass


def write_or_fail(tx: memkv.Transaction, i: int, fails: bool) -> int:
    tx.store(f"g/{i:03d}", i, category="group")
    if fails:
        raise Failed(i)
    return i


@settings(max_examples=25)
@given(failing=st.lists(st.booleans(), min_size=1, max_size=40))
def test_in_a_group_a_failing_task_fails_alone(failing: list[bool]) -> None:
    async def scenario(amem: AsyncMemory) -> list[Any]:
        release = threading.Event()
        entered = threading.Event()

        def hold(_tx: memkv.Transaction) -> None:
            entered.set()
            release.wait(30)

        holder = asyncio.ensure_future(amem.transact(hold))
        await asyncio.to_thread(entered.wait, 30)
        before = amem.backend.commit_id()
        tasks = [
            asyncio.ensure_future(amem.transact(functools.partial(write_or_fail, i=i, fails=f)))
            for i, f in enumerate(failing)
        ]
        await asyncio.sleep(0)  # let every task queue its function
        release.set()
        await holder
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert amem.backend.commit_id() - before <= 1  # one group
        return results

    amem = memkv.aio.open(memkv.IN_MEMORY)
    results = run(scenario(amem))
    for i, (fails, result) in enumerate(zip(failing, results, strict=True)):
        if fails:
            assert isinstance(result, Failed)
            assert result.args == (i,)
        else:
            assert result == i
    survivors = [f"g/{i:03d}" for i, fails in enumerate(failing) if not fails]
    assert amem.memory.keys("group") == survivors
    assert amem.memory.count("group") == len(survivors)
    run(amem.close())


async def in_one_group(amem: AsyncMemory, fns: list[Callable[[memkv.Transaction], Any]]) -> Any:
    """Run ``fns`` as tasks whose writes commit in one group (the writer is held while
    they queue); their results or exceptions (BaseExceptions too), in order."""

    async def outcome_of(fn: Callable[[memkv.Transaction], Any]) -> Any:
        try:
            return await amem.transact(fn)
        except BaseException as exc:  # SystemExit would leave the loop
            return exc

    release, entered = threading.Event(), threading.Event()

    def hold(_tx: memkv.Transaction) -> None:
        entered.set()
        release.wait(30)

    holder = asyncio.ensure_future(amem.transact(hold))
    await asyncio.to_thread(entered.wait, 30)
    before = amem.backend.commit_id()
    tasks = [asyncio.ensure_future(outcome_of(fn)) for fn in fns]
    await asyncio.sleep(0)  # let every task queue its function
    release.set()
    await holder
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert amem.backend.commit_id() - before <= 1  # one group
    return results


async def store_async(tx: memkv.Transaction) -> None:
    tx.store("async", 1)


def test_an_async_function_is_refused_and_a_returned_coroutine_fails_alone(
    amemory: AsyncMemory,
) -> None:
    """``await amem.transact(async_fn)`` used to return a coroutine and write nothing."""
    made: list[Any] = []

    def returns_a_coroutine(tx: memkv.Transaction) -> Any:
        tx.store("half", 1)
        made.append(store_async(tx))
        return made[-1]

    async def scenario() -> list[Any]:
        with pytest.raises(memkv.InvalidArgument, match="async def"):
            await amemory.transact(store_async)  # type: ignore[unused-coroutine]
        with pytest.raises(memkv.InvalidArgument, match="async def"):
            await amemory.snapshot(store_async)  # type: ignore[arg-type,unused-coroutine]
        return await in_one_group(  # type: ignore[no-any-return]
            amemory,
            [
                lambda tx: tx.store("a", 1).content,
                returns_a_coroutine,
                lambda tx: tx.store("b", 2).content,
            ],
        )

    first, failed, last = run(scenario())
    assert (first, last) == (1, 2)
    assert isinstance(failed, memkv.InvalidArgument)
    assert "awaitable" in str(failed)
    assert amemory.memory.keys() == ["a", "b"]
    assert made
    assert all(inspect.getcoroutinestate(coroutine) == "CORO_CLOSED" for coroutine in made)


class Interrupt(BaseException):
    pass


@pytest.mark.parametrize(
    "raised", [SystemExit(3), KeyboardInterrupt(), Interrupt()], ids=["SystemExit", "Ctrl-C", "own"]
)
def test_a_base_exception_fails_its_own_task_alone_and_the_group_commits(
    backend_name: str, tmp_path: Path, raised: BaseException
) -> None:
    """It used to fail every write of the group with BackendError."""

    def raises(tx: memkv.Transaction) -> None:
        tx.store("raiser", 1)
        raise raised

    def stores(i: int) -> Callable[[memkv.Transaction], int]:
        return lambda tx: tx.store(f"a/{i}", i).content

    amem = AsyncMemory(open_backend(backend_name, tmp_path))
    results = run(in_one_group(amem, [stores(0), stores(1), raises, stores(3)]))
    assert results[2] is raised
    assert [results[i] for i in (0, 1, 3)] == [0, 1, 3]
    run(amem.close())
    with open_backend(backend_name, tmp_path) as again:  # durable (in memory: a new store)
        if backend_name != "in-memory":
            assert again.keys() == ["a/0", "a/1", "a/3"]


def test_errors_keep_their_type(amemory: AsyncMemory) -> None:
    async def scenario() -> None:
        await amemory.insert("k", 1)
        with pytest.raises(memkv.Conflict):
            await amemory.insert("k", 2)
        with pytest.raises(memkv.InvalidKey):
            await amemory.get("")
        with pytest.raises(memkv.InvalidContent):
            await amemory.store("k", object())
        with pytest.raises(RuntimeError, match="StopIteration"):  # a future cannot hold one
            await amemory.transact(lambda tx: next(iter([])))
        with pytest.raises(memkv.NestedTransaction):
            await amemory.transact(lambda tx: amemory.memory.store("inner", 1))

    run(scenario())
    assert amemory.memory.get("k").content == 1  # type: ignore[union-attr]
    assert amemory.memory.get("inner") is None


# -- the event loop never waits for the disk ------------------------------------------------


class ThreadRecordingBackend(DelegatingBackend):
    """Another backend, noting the threads that commit and flush."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.writing_threads: set[int] = set()

    def write_group(self, fns: list[Callable[[WriteTxn], Any]]) -> tuple[list[Outcome], int]:
        self.writing_threads.add(threading.get_ident())
        return self.inner.write_group(fns)

    def flush(self, txn_id: int) -> None:
        self.writing_threads.add(threading.get_ident())
        self.inner.flush(txn_id)


def test_no_commit_or_flush_runs_on_the_event_loop(memory: memkv.Memory) -> None:
    recording = ThreadRecordingBackend(memory.backend)
    amem = AsyncMemory(memkv.Memory(recording))

    async def scenario() -> int:
        await asyncio.gather(*(amem.store(f"k{i}", i) for i in range(50)))
        await amem.transact(lambda tx: tx.forget("k0"))
        return threading.get_ident()

    loop_thread = run(scenario())
    assert recording.writing_threads
    assert loop_thread not in recording.writing_threads
    assert amem.memory.count() == 49


class ReadRecordingBackend(DelegatingBackend):
    """Another backend, noting the threads that read."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.reading_threads: list[int] = []

    def read(self, fn: Callable[[ReadTxn], T], *, several_reads: bool = False) -> T:
        self.reading_threads.append(threading.get_ident())
        return self.inner.read(fn, several_reads=several_reads)


def test_reads_leave_the_event_loop_only_where_they_are_not_local(
    memory: memkv.Memory, backend_name: str
) -> None:
    """PostgreSQL reads (round trips) run in worker threads; LMDB and in-memory reads
    (memory lookups) on the loop, cheaper than a hand-off."""
    memory.store("k", 1, "c", "s")
    recording = ReadRecordingBackend(memory.backend)
    amem = AsyncMemory(memkv.Memory(recording))
    recording.reading_threads.clear()  # opening reads the store's recall choice

    async def reads() -> tuple[int, list[Any]]:
        results = [
            await amem.get("k"),
            await amem.list("c"),
            await amem.keys(session_id="s"),
            await amem.count(),
            await amem.categories(),
            await amem.sessions(),
            await amem.snapshot(lambda view: view.count("c")),
            await amem.health_check(),
            await amem.recall("k"),
        ]
        return threading.get_ident(), results

    loop_thread, results = run(reads())
    assert [result is not None for result in results] == [True] * len(results)
    assert results[3:7] == [1, {"c": 1}, {"s": 1}, 1]
    assert len(recording.reading_threads) >= 8  # health_check may read below the wrapper
    on_the_loop = {thread == loop_thread for thread in recording.reading_threads}
    assert on_the_loop == {backend_name != "postgres"}


def test_reads_do_not_wait_for_the_writer(amemory: AsyncMemory) -> None:
    async def scenario() -> list[Any]:
        await amemory.store("before", 1)
        release, entered = threading.Event(), threading.Event()

        def hold(tx: memkv.Transaction) -> None:
            tx.store("during", 1)
            entered.set()
            release.wait(30)

        holder = asyncio.ensure_future(amemory.transact(hold))
        await asyncio.to_thread(entered.wait, 30)
        try:  # the write transaction is open meanwhile
            return await asyncio.wait_for(
                asyncio.gather(amemory.get("before"), amemory.count(), amemory.keys()), 10
            )
        finally:
            release.set()
            await holder

    before, count, keys = run(scenario())
    assert before is not None
    assert (count, keys) == (1, ["before"])


# -- cancellation -------------------------------------------------------------------------------


async def holding_writer(amem: AsyncMemory) -> tuple[asyncio.Future[None], threading.Event]:
    """Start a transaction that holds the writer until the returned event is set;
    writes submitted meanwhile queue behind it."""
    release, entered = threading.Event(), threading.Event()

    def hold(_tx: memkv.Transaction) -> None:
        entered.set()
        release.wait(30)

    holder = asyncio.ensure_future(amem.transact(hold))
    assert await asyncio.to_thread(entered.wait, 30)
    return holder, release


def test_a_write_cancelled_while_queued_never_runs(amemory: AsyncMemory) -> None:
    async def scenario() -> None:
        holder, release = await holding_writer(amemory)
        queued = asyncio.ensure_future(amemory.store("queued", 1))
        await asyncio.sleep(0)  # it is in the queue now
        queued.cancel()
        with pytest.raises(asyncio.CancelledError):
            await queued
        release.set()
        await holder
        await amemory.store("after", 2)  # the writer keeps working

    run(scenario())
    assert amemory.memory.get("queued") is None
    assert amemory.memory.keys() == ["after"]


def test_a_write_cancelled_while_committing_ends_committed(amemory: AsyncMemory) -> None:
    async def scenario() -> None:
        release, entered = threading.Event(), threading.Event()

        def slow(tx: memkv.Transaction) -> None:
            tx.store("slow", {"whole": True})
            entered.set()
            release.wait(30)

        task = asyncio.ensure_future(amemory.transact(slow))
        await asyncio.to_thread(entered.wait, 30)
        task.cancel()
        await asyncio.sleep(0.05)
        assert not task.done()  # the cancellation waits for the commit under way
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        entry = amemory.memory.get("slow")  # committed by the time the task ended
        assert entry is not None
        assert entry.content == {"whole": True}
        await amemory.store("after", 2)

    run(scenario())
    assert amemory.memory.count() == 2


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cancelled_writes_are_whole_or_absent(memory: memkv.Memory, seed: int) -> None:
    """Tasks cancelled at random moments: each write is there in full (entry, indexes
    and counts) or not at all; a write whose task finished is there; the writer
    keeps working."""
    rng = random.Random(seed)
    amem = AsyncMemory(memory)
    writes = 300

    def write(tx: memkv.Transaction, i: int) -> None:
        tx.store(f"c/{i:04d}", {"i": i, "pad": "x" * 50}, category=f"k{i % 3}", session_id="s")
        tx.store(f"c/{i:04d}/shadow", i, category="shadow")

    async def scenario() -> list[Any]:
        tasks = [
            asyncio.ensure_future(amem.transact(functools.partial(write, i=i)))
            for i in range(writes)
        ]
        for task in rng.sample(tasks, writes // 2):
            asyncio.get_running_loop().call_later(rng.uniform(0, 0.004), task.cancel)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        await amem.store("after", 1)
        return results

    results = run(scenario())
    finished = {i for i, result in enumerate(results) if result is None}
    cancelled = {
        i for i, result in enumerate(results) if isinstance(result, asyncio.CancelledError)
    }
    assert finished | cancelled == set(range(writes))
    present = set()
    for i in range(writes):
        entry, shadow = memory.get(f"c/{i:04d}"), memory.get(f"c/{i:04d}/shadow")
        assert (entry is None) == (shadow is None), f"write {i} is half there"
        if entry is not None:
            assert entry.content == {"i": i, "pad": "x" * 50}
            present.add(i)
    assert finished <= present
    assert memory.count("shadow") == len(present)
    assert memory.count(session_id="s") == len(present)
    assert memory.verify() == []
    assert memory.get("after") is not None


# -- event loops and closing ----------------------------------------------------------------------


def test_one_async_memory_serves_successive_event_loops(amemory: AsyncMemory) -> None:
    for round_number in range(3):
        run(amemory.store(f"round/{round_number}", round_number))
    assert amemory.memory.keys() == ["round/0", "round/1", "round/2"]


def test_close_waits_for_queued_writes(tmp_path: Path) -> None:
    async def scenario() -> list[Any]:
        amem = memkv.aio.open(tmp_path / "store")
        holder, release = await holding_writer(amem)
        tasks = [asyncio.ensure_future(amem.store(f"q/{i:02d}", i)) for i in range(30)]
        await asyncio.sleep(0)
        closing = asyncio.ensure_future(amem.close())
        await asyncio.sleep(0.02)
        assert not closing.done()
        release.set()
        await closing
        await holder
        return list(await asyncio.gather(*tasks))

    entries = run(scenario())
    assert [entry.content for entry in entries] == list(range(30))
    with memkv.open(tmp_path / "store") as mem:
        assert mem.count() == 30


def test_threads_and_tasks_share_the_writer(memory: memkv.Memory) -> None:
    amem = AsyncMemory(memory)

    def thread_writes(prefix: str) -> None:
        for i in range(40):
            memory.store(f"{prefix}/{i:02d}", i)

    async def scenario() -> None:
        threads = [threading.Thread(target=thread_writes, args=(f"t{n}",)) for n in range(3)]
        for thread in threads:
            thread.start()
        await asyncio.gather(*(amem.store(f"a/{i:03d}", i) for i in range(120)))
        for thread in threads:
            await asyncio.to_thread(thread.join, 30)

    run(scenario())
    assert memory.count() == 240
    assert memory.verify() == []
