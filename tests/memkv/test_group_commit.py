"""Group commit (`memkv.group_commit`), through `Memory`: writers that wait together
share one commit; a function that raises fails only its caller and leaves no trace;
each caller resumes only once its write is durable; a SIGKILL loses nothing that
was acknowledged."""

from __future__ import annotations

import functools
import random
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memkv
from memkv.backends.base import Outcome, WriteTxn
from tests.conftest import BACKENDS, open_backend
from tests.memkv.helpers import DelegatingBackend, run_then_kill

# -- committing a list of functions as one group ------------------------------------------


@contextmanager
def writer_held(memory: memkv.Memory) -> Iterator[None]:
    """Hold the store's writer inside a transaction function until the block ends,
    so that everything submitted meanwhile queues up and commits as one group."""
    entered, release = threading.Event(), threading.Event()

    def hold(_tx: memkv.Transaction) -> None:
        entered.set()
        release.wait(30)

    done = threading.Event()
    memory.submit(hold, lambda _outcome: done.set())
    assert entered.wait(30)
    try:
        yield
    finally:
        release.set()
        assert done.wait(30)


def commit_as_one_group(
    memory: memkv.Memory, fns: list[Callable[[memkv.Transaction], Any]]
) -> list[Outcome]:
    """Submit ``fns`` while the writer is held; return their outcomes, in order, and
    check that they took one commit."""
    outcomes: list[Outcome | None] = [None] * len(fns)
    told = threading.Semaphore(0)

    def tell(index: int) -> Callable[[Outcome], None]:
        def on_done(outcome: Outcome) -> None:
            outcomes[index] = outcome
            told.release()

        return on_done

    with writer_held(memory):
        before = memory.backend.commit_id()
        for index, fn in enumerate(fns):
            memory.submit(fn, tell(index))
    for _ in fns:
        assert told.acquire(timeout=30)
    commits = memory.backend.commit_id() - before
    assert commits <= 1, f"{len(fns)} functions took {commits} commits"
    return [outcome for outcome in outcomes if outcome is not None]


# -- isolation: property over random groups ------------------------------------------------


class Failed(Exception):
    pass


KEYS = st.sampled_from([f"k{i}" for i in range(8)])
STEP = st.one_of(
    st.tuples(st.just("store"), KEYS, st.integers(0, 99), st.sampled_from(["a", "b"])),
    st.tuples(st.just("insert"), KEYS, st.integers(0, 99), st.sampled_from(["a", "b"])),
    st.tuples(st.just("forget"), KEYS, st.just(0), st.just("a")),
)
FUNCTION = st.tuples(
    st.lists(STEP, max_size=5),
    st.sampled_from(["commits", "raises after writing", "raises at once"]),
)
GROUP = st.lists(FUNCTION, min_size=1, max_size=12)

Model = dict[str, tuple[int, str]]  # key -> (content, category)


def transaction_function(
    index: int, steps: list[tuple[str, str, int, str]], ending: str
) -> Callable[[memkv.Transaction], int]:
    def fn(tx: memkv.Transaction) -> int:
        if ending == "raises at once":
            raise Failed(index)
        for kind, key, content, category in steps:
            if kind == "store":
                tx.store(key, content, category)
            elif kind == "insert":
                tx.insert(key, content, category)  # may raise Conflict: a failure too
            else:
                tx.forget(key)
        if ending == "raises after writing":
            raise Failed(index)
        return index

    return fn


def expected(model: Model, steps: list[tuple[str, str, int, str]], ending: str) -> Model | None:
    """The model after a function, or ``None`` if the function fails."""
    if ending != "commits":
        return None
    after = dict(model)
    for kind, key, content, category in steps:
        if kind == "forget":
            after.pop(key, None)
        elif kind == "insert" and key in after:
            return None  # Conflict
        else:
            after[key] = (content, category)
    return after


def observed(memory: memkv.Memory) -> Model:
    return {entry.key: (entry.content, entry.category) for entry in memory.list()}


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=60)
@given(seed_group=GROUP, group=GROUP)
def test_a_function_that_raises_fails_alone_and_leaves_no_trace(
    backend: str, seed_group: list[Any], group: list[Any]
) -> None:
    with tempfile.TemporaryDirectory() as directory, open_backend(backend, Path(directory)) as mem:
        model: Model = {}
        for rounds in (seed_group, group):  # the second group starts from a varied store
            fns = [transaction_function(i, steps, end) for i, (steps, end) in enumerate(rounds)]
            outcomes = commit_as_one_group(mem, fns)
            for index, ((steps, ending), (ok, value)) in enumerate(
                zip(rounds, outcomes, strict=True)
            ):
                after = expected(model, steps, ending)
                if after is None:
                    assert not ok, f"function {index} should have failed"
                    assert isinstance(value, Failed | memkv.Conflict), value
                    if isinstance(value, Failed):
                        assert value.args == (index,)  # its own error, not another's
                else:
                    assert ok, (index, value)
                    assert value == index
                    model = after
            assert observed(mem) == model
            assert mem.verify() == []
            categories: dict[str, int] = {}
            for _, category in model.values():
                categories[category] = categories.get(category, 0) + 1
            assert mem.categories() == categories


# -- threads --------------------------------------------------------------------------------


def test_threads_waiting_together_share_one_commit(memory: memkv.Memory) -> None:
    results: dict[int, object] = {}
    started = threading.Barrier(17)

    def writer(i: int) -> None:
        started.wait()
        try:
            results[i] = memory.store(f"t/{i:02d}", i).content
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
    with writer_held(memory):
        before = memory.backend.commit_id()
        for thread in threads:
            thread.start()
        started.wait()
        wait_for_queue(memory, 16)
    for thread in threads:
        thread.join(30)
    assert results == {i: i for i in range(16)}
    assert memory.backend.commit_id() - before == 1
    assert memory.count() == 16


def wait_for_queue(memory: memkv.Memory, length: int) -> None:
    """Until ``length`` functions wait in the store's commit queue."""
    queue = memory._committer._queue
    for _ in range(3000):
        if len(queue) >= length:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"only {len(queue)} of {length} writers queued")


def test_a_failing_thread_fails_alone(memory: memkv.Memory) -> None:
    errors: dict[int, BaseException | None] = {}

    def writer(i: int) -> None:
        def fn(tx: memkv.Transaction) -> None:
            tx.store(f"f/{i}", i)
            if i % 3 == 0:
                raise Failed(i)

        try:
            memory.transact(fn)
            errors[i] = None
        except Failed as exc:
            errors[i] = exc

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(9)]
    with writer_held(memory):
        for thread in threads:
            thread.start()
        wait_for_queue(memory, 9)
    for thread in threads:
        thread.join(30)
    assert {i for i, error in errors.items() if error is not None} == {0, 3, 6}
    assert all(errors[i].args == (i,) for i in (0, 3, 6))  # type: ignore[union-attr]
    assert memory.keys() == [f"f/{i}" for i in (1, 2, 4, 5, 7, 8)]


def test_a_transaction_inside_a_transaction_function_is_refused(memory: memkv.Memory) -> None:
    with pytest.raises(memkv.NestedTransaction):
        memory.transact(lambda tx: memory.store("inner", 1))
    done = threading.Event()
    outcome: list[Outcome] = []

    def tell(told: Outcome) -> None:
        outcome.append(told)
        done.set()

    memory.submit(lambda tx: memory.store("inner", 1), tell)
    assert done.wait(30)
    assert isinstance(outcome[0][1], memkv.NestedTransaction)
    assert memory.get("inner") is None
    memory.store("after", 1)  # the writer keeps working
    assert memory.get("after") is not None


class Interrupt(BaseException):
    """Stands for a KeyboardInterrupt in the thread committing a group."""


def test_an_interrupt_in_the_leader_fails_its_group_and_not_the_next(
    memory: memkv.Memory,
) -> None:
    outcomes: dict[int, object] = {}
    ready = threading.Event()

    def leader() -> None:
        def fn(tx: memkv.Transaction) -> None:
            tx.store("leader", 1)
            ready.set()
            wait_for_queue(memory, 3)
            raise Interrupt

        try:
            memory.transact(fn)
        except Interrupt as exc:
            outcomes[-1] = exc

    def follower(i: int) -> None:
        try:
            outcomes[i] = memory.store(f"follower/{i}", i).content
        except memkv.BackendError as exc:
            outcomes[i] = exc

    lead = threading.Thread(target=leader)
    lead.start()
    assert ready.wait(30)
    followers = [threading.Thread(target=follower, args=(i,)) for i in range(3)]
    for thread in followers:
        thread.start()
    for thread in [lead, *followers]:
        thread.join(30)
    assert isinstance(outcomes[-1], Interrupt)  # the interrupt reaches its own thread
    assert all(isinstance(outcomes[i], int) for i in range(3)), outcomes  # a later group
    assert memory.get("leader") is None
    memory.store("after", 1)
    assert memory.count() == 4


@pytest.mark.parametrize(
    "raised", [SystemExit(3), KeyboardInterrupt(), Interrupt()], ids=["SystemExit", "Ctrl-C", "own"]
)
def test_a_base_exception_fails_its_own_thread_alone_and_the_group_commits(
    backend_name: str, tmp_path: Path, raised: BaseException
) -> None:
    """It used to fail every write of the group with BackendError."""
    memory = open_backend(backend_name, tmp_path)
    outcomes: dict[int, object] = {}

    def writer(i: int) -> None:
        def fn(tx: memkv.Transaction) -> int:
            tx.store(f"b/{i}", i)
            if i == 2:
                raise raised
            return i

        try:
            outcomes[i] = memory.transact(fn)
        except BaseException as exc:  # what the thread got, whatever it is
            outcomes[i] = exc

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(5)]
    with writer_held(memory):
        before = memory.backend.commit_id()
        for thread in threads:
            thread.start()
        wait_for_queue(memory, 5)
    for thread in threads:
        thread.join(30)
    assert outcomes[2] is raised
    assert {i: outcomes[i] for i in (0, 1, 3, 4)} == {0: 0, 1: 1, 3: 3, 4: 4}
    assert memory.backend.commit_id() - before == 1  # one group
    memory.close()
    with open_backend(backend_name, tmp_path) as again:  # durable (in memory: a new store)
        if backend_name != "in-memory":
            assert again.keys() == ["b/0", "b/1", "b/3", "b/4"]
            assert again.verify() == []


def test_ctrl_c_in_the_main_thread_running_another_function_is_the_main_threads(
    memory: memkv.Memory,
) -> None:
    """A KeyboardInterrupt raised in the main thread, while it leads a group, is a
    Ctrl-C wherever it lands: the main thread gets it (after its own write
    committed), the function it was running fails with a BackendError."""
    assert threading.current_thread() is threading.main_thread()
    told: list[Outcome] = []
    done = threading.Event()

    def interrupted(tx: memkv.Transaction) -> None:
        tx.store("theirs", 1)
        raise KeyboardInterrupt

    def tell(outcome: Outcome) -> None:
        told.append(outcome)
        done.set()

    entered, release = threading.Event(), threading.Event()

    def hold(_tx: memkv.Transaction) -> None:
        entered.set()
        release.wait(30)

    def queue_theirs_behind_mine_then_release() -> None:
        wait_for_queue(memory, 1)  # the main thread's function
        memory.submit(interrupted, tell)
        wait_for_queue(memory, 2)
        release.set()  # the main thread, oldest waiter, leads the group [mine, theirs]

    memory.submit(hold, lambda _outcome: None)
    assert entered.wait(30)
    helper = threading.Thread(target=queue_theirs_behind_mine_then_release)
    helper.start()
    with pytest.raises(KeyboardInterrupt):
        memory.transact(lambda tx: tx.store("mine", 1))
    helper.join(30)
    assert done.wait(30)
    [(ok, error)] = told
    assert not ok
    assert isinstance(error, memkv.BackendError)
    assert isinstance(error.__cause__, KeyboardInterrupt)
    assert memory.keys() == ["mine"]


class FailingBackend(DelegatingBackend):
    """Another backend, whose next group commit, or next flush, fails."""

    fail_commit = False
    fail_flush = False

    def write_group(self, fns: list[Callable[[WriteTxn], Any]]) -> tuple[list[Outcome], int]:
        if self.fail_commit:
            self.fail_commit = False
            raise memkv.StorageFull("the disk is full (for the test)")
        return self.inner.write_group(fns)

    def flush(self, txn_id: int) -> None:
        if self.fail_flush:
            self.fail_flush = False
            raise memkv.BackendError("the flush failed (for the test)")
        self.inner.flush(txn_id)


@pytest.mark.parametrize("failure", ["commit", "flush"])
def test_an_engine_failure_reaches_every_caller_of_the_group(
    memory: memkv.Memory, failure: str
) -> None:
    failing = FailingBackend(memory.backend)
    mem = memkv.Memory(failing)
    outcomes: dict[int, object] = {}

    def writer(i: int) -> None:
        try:
            outcomes[i] = mem.store(f"g/{i}", i).content
        except memkv.MemkvError as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(5)]
    with writer_held(mem):
        setattr(failing, f"fail_{failure}", True)
        for thread in threads:
            thread.start()
        wait_for_queue(mem, 5)
    for thread in threads:
        thread.join(30)
    expected_error = memkv.StorageFull if failure == "commit" else memkv.BackendError
    assert all(isinstance(outcome, expected_error) for outcome in outcomes.values()), outcomes
    mem.store("after", 1)  # the next group commits
    assert mem.get("after") is not None


def test_reads_do_not_wait_for_the_writer(memory: memkv.Memory) -> None:
    memory.store("before", 1)
    seen: list[object] = []
    with writer_held(memory):  # a write transaction is open meanwhile
        reader = threading.Thread(
            target=lambda: seen.extend([memory.get("before"), memory.count(), memory.keys()])
        )
        reader.start()
        reader.join(10)
        assert not reader.is_alive(), "a read waited for the writer"
    assert seen[1:] == [1, ["before"]]


def store_numbered(tx: memkv.Transaction, i: int) -> None:
    tx.store(f"q/{i:02d}", i)


def test_close_lets_queued_writes_commit_then_refuses(tmp_path: Path) -> None:
    mem = memkv.open(tmp_path / "store")
    told: list[Outcome] = []
    with writer_held(mem):
        for i in range(20):
            mem.submit(functools.partial(store_numbered, i=i), told.append)
        closer = threading.Thread(target=mem.close)
        closer.start()
    closer.join(30)
    assert len(told) == 20
    assert all(ok for ok, _ in told)
    with pytest.raises(memkv.StoreClosed):
        mem.submit(lambda tx: None, told.append)
    with pytest.raises(memkv.StoreClosed):
        mem.store("late", 1)
    with memkv.open(tmp_path / "store") as reopened:
        assert reopened.count() == 20


def test_a_withdrawn_function_never_runs(memory: memkv.Memory) -> None:
    told: list[Outcome] = []
    with writer_held(memory):
        kept = memory.submit(lambda tx: tx.store("kept", 1), told.append)
        dropped = memory.submit(lambda tx: tx.store("dropped", 1), told.append)
        assert memory.withdraw(dropped)
    for _ in range(3000):
        if told:
            break
        threading.Event().wait(0.01)
    assert not memory.withdraw(kept)  # already committed
    assert memory.keys() == ["kept"]
    assert len(told) == 1


# -- SIGKILL during group commits ------------------------------------------------------------


def kill_cycles(path: Path, mode: str, cycles: int, seed: int) -> tuple[int, int]:
    """Kill a process of 64 concurrent writers at random moments, ``cycles`` times;
    after each, every write it acknowledged is there, and nothing of a transaction
    that failed (and at the end, every write of every cycle). Returns how many
    acknowledged and refused writes were checked."""
    rng = random.Random(seed)
    acknowledged: list[str] = []
    refused: list[str] = []
    for cycle in range(cycles):
        lines = run_then_kill(
            "group-writers", str(path), mode, f"c{cycle:03d}", "64", seconds=rng.uniform(0.05, 0.4)
        )
        acked = [key for outcome, key in (line.split("\t") for line in lines) if outcome == "ok"]
        failed = [key for outcome, key in (line.split("\t") for line in lines) if outcome != "ok"]
        check_writes(path, acked, failed, f"cycle {cycle}")
        acknowledged += acked
        refused += failed
    check_writes(path, acknowledged, refused, "at the end")
    return len(acknowledged), len(refused)


def check_writes(path: Path, acknowledged: list[str], refused: list[str], when: str) -> None:
    with memkv.open(path) as mem:
        assert mem.verify() == []
        for key in acknowledged:
            entry = mem.get(key)
            assert entry is not None, f"acknowledged key {key!r} lost ({when})"
            assert entry.content == key
            if int(key.rsplit("-", 1)[1]) % 3 == 2:
                assert mem.get(key + "-b") is not None
        for key in refused:
            assert mem.get(key) is None, f"{key!r} of a failed transaction is stored ({when})"
            assert mem.get(key + "-b") is None


@pytest.mark.parametrize("mode", ["async", "threads"])
def test_sigkill_during_group_commits_loses_no_acknowledged_write(
    tmp_path: Path, mode: str
) -> None:
    acknowledged, refused = kill_cycles(tmp_path / "store", mode, cycles=20, seed=5)
    assert acknowledged > 20 * 64 // 4  # the writers got going
    assert refused > 0


@pytest.mark.slow
def test_sigkill_during_group_commits_many_cycles(tmp_path: Path) -> None:
    kill_cycles(tmp_path / "store", "async", cycles=60, seed=6)
