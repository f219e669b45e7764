"""Purge (`memkv.Memory.purge`, `memkv.purge`, ``memkv purge``): exactly the matching
entries go, on every backend, in bounded transactions that other writers pass between,
that a SIGKILL cannot leave half-applied and that a re-run finishes; bad input is
refused with nothing changed."""

from __future__ import annotations

import asyncio
import functools
import io
import os
import random
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memkv
from memkv.aio import AsyncMemory
from memkv.cli import main
from memkv.keys import pack
from memkv.purge import BATCH, PurgeFilter, purge
from tests.conftest import BACKENDS, open_backend
from tests.memkv.helpers import child_env, put_raw, raises_naming, snapshot, start_worker
from tests.memkv.model import MemoryModel, Row

PURGE_WORKER: Final = Path(__file__).with_name("purge_worker.py")
WORDS: Final = ("apple", "pear", "fig")  # in contents only: no key holds them as a word

KEYS = st.sampled_from(
    [
        "a",
        "ab",
        "abc",
        "b",
        "é",
        "run_1",
        "run_10",
        "z" * 256,
        pack(("sop", "step", "r", 2)),
        pack(("sop", "step", "r", 10)),
        pack(("sop", "step", "r_", 1)),
        pack(("sop", "note")),
    ]
)
PREFIXES = st.sampled_from(
    ["a", "ab", "run_1", "z", "q", "é", pack(("sop",)), pack(("sop", "step", "r"))]
)
CATEGORIES = st.sampled_from(["core", "daily", "sop"])
SESSIONS = st.sampled_from(["s1", "s2"])
CONTENTS = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)
ENTRIES = st.lists(st.tuples(KEYS, CONTENTS, CATEGORIES, st.none() | SESSIONS), max_size=30)
FILTERS = st.tuples(
    st.none() | CATEGORIES, st.none() | st.sampled_from(["s1", "s2", "s3"]), st.none() | PREFIXES
).filter(lambda filters: filters != (None, None, None))
# a purge: its filters, the key space (internal?), and its batch size (None: Memory.purge's)
PURGES = st.lists(
    st.tuples(FILTERS, st.booleans(), st.none() | st.integers(1, 3)), min_size=1, max_size=4
)


def store_all(
    contents: dict[str, Any], category: str, session_id: str | None, tx: memkv.Transaction
) -> None:
    for key, content in contents.items():
        tx.store(key, content, category, session_id)


def rows(view: memkv.Memory) -> list[Row]:
    return [(e.key, e.content, e.category, e.session_id) for e in view.list()]


def agrees(view: memkv.Memory, model: MemoryModel) -> None:
    assert rows(view) == model.list()
    assert view.count() == model.count()
    assert view.categories() == model.categories()
    assert view.sessions() == model.sessions()
    for category in ("core", "daily", "sop"):
        for session_id in (None, "s1", "s2"):
            assert view.count(category, session_id) == model.count(category, session_id)


def recall_agrees(mem: memkv.Memory, model: MemoryModel) -> None:
    """Recall finds exactly the entries left that hold each word: none purged."""
    for word in WORDS:
        found = {entry.key for entry in mem.recall(word, None)}
        assert found == {key for key, content, *_ in model.list() if word in content.split()}


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=50)
@given(entries=ENTRIES, internal_entries=ENTRIES, purges=PURGES)
def test_purge_removes_exactly_what_matches(
    backend: str,
    entries: list[tuple[str, str, str, str | None]],
    internal_entries: list[tuple[str, str, str, str | None]],
    purges: list[tuple[tuple[str | None, str | None, str | None], bool, int | None]],
) -> None:
    """Random stores in both key spaces, random purges with random filters (and batch
    sizes, so that a purge takes several transactions): each removes exactly the
    entries of its space matching all its filters, and says how many; the rest, the
    counts, categories, sessions and recall agree with a dict; `verify` is clean."""
    with tempfile.TemporaryDirectory() as directory, open_backend(backend, Path(directory)) as mem:
        models = {False: MemoryModel(), True: MemoryModel()}
        for internal, written in ((False, entries), (True, internal_entries)):
            view = mem.internal if internal else mem
            for key, content, written_category, written_session in written:
                view.store(key, content, written_category, written_session)
                models[internal].store(key, content, written_category, written_session)
        for (category, session_id, prefix), internal, batch_size in purges:
            view, model = (mem.internal, models[True]) if internal else (mem, models[False])
            matching = [row[0] for row in model.list(category, session_id, prefix)]
            if batch_size is None:
                removed = view.purge(category=category, session_id=session_id, prefix=prefix)
            else:
                wanted = PurgeFilter.of(category, session_id, prefix)
                removed = purge(view.transact, wanted, batch_size=batch_size)
            for matched in matching:
                model.forget(matched)
            assert removed == len(matching)
            agrees(mem, models[False])
            agrees(mem.internal, models[True])
            recall_agrees(mem, models[False])
            assert mem.verify() == []


def test_purge_by_each_filter_and_their_combinations(memory: memkv.Memory) -> None:
    for i in range(12):
        memory.store(f"t/{i:02d}", i, "conversation" if i % 2 else "daily", f"s{i % 3}")
    memory.store(pack(("a", "b", 3, "x")), 1)
    memory.store(pack(("a", "b", 30)), 2)
    memory.store(pack(("a", "b", "3")), 3)
    assert memory.purge(prefix=pack(("a", "b", 3))) == 1  # the tuple's prefix, not 30's
    assert memory.get(pack(("a", "b", 30))) is not None
    assert memory.purge(category="conversation", session_id="s1") == 2  # t/01, t/07
    assert memory.purge(session_id="s2", prefix="t/0") == 3  # t/02, t/05, t/08, not t/11
    assert memory.keys(session_id="s2") == ["t/11"]
    assert memory.purge(category="daily") == 4  # t/00, t/04, t/06, t/10
    assert memory.purge(category="daily") == 0  # twice: nothing more
    assert memory.keys() == [pack(("a", "b", 30)), pack(("a", "b", "3")), "t/03", "t/09", "t/11"]
    assert memory.categories() == {"conversation": 3, "core": 2}
    assert memory.sessions() == {"s0": 2, "s2": 1}
    assert memory.verify() == []


def test_the_users_purge_leaves_the_internal_space_and_the_internal_one_the_users(
    memory: memkv.Memory,
) -> None:
    for i in range(5):
        memory.store(f"k/{i}", i, "jobs", "s")
        memory.internal.store(f"k/{i}", -i, "jobs", "s")
    assert memory.purge(category="jobs") == 5
    assert memory.count() == 0
    assert memory.internal.keys("jobs", "s") == [f"k/{i}" for i in range(5)]
    assert memory.internal.purge(session_id="s", prefix="k/") == 5
    assert memory.internal.count() == 0
    assert memory.internal.sessions() == {}
    assert memory.verify() == []


def test_a_large_purge_takes_bounded_transactions(memory: memkv.Memory) -> None:
    entries = 3 * BATCH + 5

    def fill(tx: memkv.Transaction) -> None:
        for i in range(entries):
            tx.store(f"turn/{i:05d}", f"turn {i}", memkv.CONVERSATION, "s-long")

    memory.transact(fill)
    memory.store("kept", "kept", memkv.CONVERSATION)
    before = memory.backend.commit_id()
    assert memory.purge(session_id="s-long") == entries
    assert memory.backend.commit_id() - before == 4  # ceil(entries / BATCH) commits
    assert memory.keys() == ["kept"]
    assert memory.recall("turn", None) == []
    assert memory.verify() == []


def test_purge_removes_a_corrupt_record_it_matches(tmp_path: Path) -> None:
    """A record that no longer decodes, still named by its index, goes as `forget`
    removes it."""
    with memkv.open(tmp_path / "store") as mem:
        mem.store("x/1", "one", "daily", "s")
        mem.store("x/2", "two", "daily", "s")
        put_raw(mem, b"x/1", b"\xc1")
        assert mem.verify() != []
        assert mem.purge(category="daily") == 2
        assert mem.count() == 0
        assert mem.verify() == []


def test_async_purge(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with memkv.aio.open(tmp_path / "store") as amem:
            for i in range(2 * BATCH + 1):
                await amem.store(f"a/{i:04d}", i, "daily", "s")
            await amem.store("b", 1, "daily")
            assert await amem.purge(prefix="a/", category="daily") == 2 * BATCH + 1
            assert await amem.keys() == ["b"]
            assert await amem.internal.purge(category="daily") == 0
            with pytest.raises(memkv.InvalidArgument):
                await amem.purge()
            assert await amem.verify() == []

    asyncio.run(scenario())


# -- beside other writers ---------------------------------------------------------------


def purge_beside_writers(mem: memkv.Memory, doomed: int, writers: int = 8) -> None:
    """Purge a session of ``doomed`` entries while ``writers`` threads store entries
    elsewhere: it removes exactly the session, and every acknowledged write is there."""
    kept = 500

    for start in range(0, doomed, 1_000):
        turns = {f"turn/{i:06d}": f"turn {i}" for i in range(start, min(doomed, start + 1_000))}
        mem.transact(functools.partial(store_all, turns, memkv.CONVERSATION, "doomed"))
    for i in range(5):
        notes = {f"note/{n:04d}": n for n in range(i, kept, 5)}
        mem.transact(functools.partial(store_all, notes, memkv.DAILY, f"s{i}"))
    stop = threading.Event()
    written: list[list[str]] = [[] for _ in range(writers)]
    started = threading.Barrier(writers + 1)

    def write(n: int) -> None:
        i = 0
        started.wait()
        while not stop.is_set() or i == 0:
            key = f"live/{n}/{i:06d}"
            mem.store(key, {"writer": n, "i": i}, memkv.CONVERSATION, f"live-{n}")
            written[n].append(key)
            i += 1

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    started.wait()
    try:
        removed = mem.purge(session_id="doomed")
        during = sum(map(len, written))
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert during > 0  # the writers wrote while the purge ran
    assert removed == doomed
    assert mem.count(session_id="doomed") == 0
    assert mem.count(memkv.DAILY) == kept
    acknowledged = {key: (n, i) for n, keys in enumerate(written) for i, key in enumerate(keys)}
    found = mem.snapshot(lambda view: {key: view.get(key) for key in acknowledged})
    for key, (n, i) in acknowledged.items():
        entry = found[key]
        assert entry is not None, f"acknowledged write {key} lost"
        assert entry.content == {"writer": n, "i": i}
    assert mem.count() == kept + len(acknowledged)
    assert mem.sessions() == {f"live-{n}": len(written[n]) for n in range(writers)} | {
        f"s{i}": kept // 5 for i in range(5)
    }
    assert mem.verify() == []


def test_purge_of_a_session_while_eight_threads_write_elsewhere(memory: memkv.Memory) -> None:
    purge_beside_writers(memory, 5_000)


@pytest.mark.slow
def test_purge_of_a_100k_session_while_eight_threads_write_elsewhere(tmp_path: Path) -> None:
    with memkv.open(tmp_path / "store") as mem:
        purge_beside_writers(mem, 100_000)


# -- SIGKILL ---------------------------------------------------------------------------


def purge_then_kill(path: Path, session_id: str, batch: int, after: int, delay: float) -> int:
    """Run `purge_worker` on ``session_id``; SIGKILL it ``delay`` seconds after it has
    acknowledged ``after`` removals (or finished); return how many it acknowledged."""
    child = start_worker(str(path), session_id, str(batch), script=PURGE_WORKER, env=child_env())
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    acknowledged = 0
    while acknowledged < after:
        line = child.stdout.readline()
        if line == "done\n":
            break
        acknowledged = int(line.split("\t")[1])
    time.sleep(delay)
    os.kill(child.pid, signal.SIGKILL)
    rest, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    removed = [int(line.split("\t")[1]) for line in rest.splitlines() if line.startswith("removed")]
    return max([acknowledged, *removed])


def test_sigkill_during_a_purge_leaves_a_consistent_store_that_a_rerun_finishes(
    tmp_path: Path,
) -> None:
    """A purge (transactions of 32 entries) is SIGKILLed at a random moment, 10 times:
    every batch it acknowledged is gone, at most one more, the store is consistent,
    nothing else is lost, and the purge run again removes the rest."""
    path, doomed, batch = tmp_path / "store", 2_000, 32
    rng = random.Random(16)
    kept = {f"note/{i:04d}": f"kept note {i}" for i in range(300)}
    with memkv.open(path) as mem:
        mem.transact(functools.partial(store_all, kept, memkv.DAILY, "other"))
        for i in range(20):  # the internal space's session of the same name stays
            mem.internal.store(f"job/{i}", i, "jobs", "doomed")
    midway = 0
    for cycle in range(10):
        with memkv.open(path) as mem:
            turns = {f"turn/{cycle}/{i:05d}": f"doomed turn {i}" for i in range(doomed)}
            mem.transact(functools.partial(store_all, turns, "chat", "doomed"))
        acknowledged = purge_then_kill(
            path, "doomed", batch, after=rng.randrange(doomed), delay=rng.uniform(0, 0.005)
        )
        with memkv.open(path) as mem:
            assert mem.verify() == []
            left = mem.count(session_id="doomed")
            assert doomed - acknowledged - batch <= left <= doomed - acknowledged
            midway += 0 < left < doomed
            assert {e.key: e.content for e in mem.list(memkv.DAILY)} == kept
            assert mem.internal.count(session_id="doomed") == 20
            assert mem.purge(session_id="doomed") == left
            assert mem.count(session_id="doomed") == 0
            assert mem.recall("doomed", None) == []
            assert mem.count() == len(kept)
            assert mem.verify() == []
    assert midway >= 8  # the kills came in the middle of a purge


# -- bad input ---------------------------------------------------------------------------

BAD_FILTERS: Final[dict[str, tuple[str, dict[str, Any]]]] = {
    "no filter": ("at least one filter", {}),
    "all None": ("at least one filter", {"category": None, "session_id": None, "prefix": None}),
    "empty prefix": ("must not be empty", {"prefix": ""}),
    "empty prefix with a category": ("must not be empty", {"category": "core", "prefix": ""}),
    "bytes prefix": ("prefix must be a str", {"prefix": b"a"}),
    "int prefix": ("prefix must be a str", {"prefix": 1}),
    "prefix longer than a key": ("longer than a key", {"prefix": "p" * 257}),
    "unencodable prefix": ("not encodable", {"prefix": "a\ud800"}),
    "empty category": ("category must not be empty", {"category": ""}),
    "int category": ("category must be a str", {"category": 3}),
    "NUL in session id": ("'s\\x00'", {"session_id": "s\x00"}),
    "long session id": ("session_id", {"session_id": "s" * 65}),
    "bytes session id": ("session_id must be a str", {"session_id": b"s"}),
}


@pytest.mark.parametrize("case", BAD_FILTERS, ids=list(BAD_FILTERS))
def test_bad_filters_are_refused_and_nothing_changes(memory: memkv.Memory, case: str) -> None:
    needle, filters = BAD_FILTERS[case]
    memory.store("a", 1, "core", "s1")
    memory.internal.store("a", 1, "core", "s1")
    before = snapshot(memory), snapshot(memory.internal)
    raises_naming(memkv.InvalidArgument, needle, lambda: memory.purge(**filters))
    raises_naming(memkv.InvalidArgument, needle, lambda: memory.internal.purge(**filters))
    assert (snapshot(memory), snapshot(memory.internal)) == before


def test_a_batch_size_below_one_is_refused(memory: memkv.Memory) -> None:
    memory.store("a", 1)
    wanted = PurgeFilter.of("core")
    for size in (0, -1, True):
        call = functools.partial(purge, memory.transact, wanted, batch_size=size)
        raises_naming(memkv.InvalidArgument, "batch_size", call)
    assert memory.count() == 1


def test_filters_are_keywords_only(memory: memkv.Memory) -> None:
    memory.store("a", 1)
    with pytest.raises(TypeError):
        memory.purge("core")  # type: ignore[call-arg]
    assert memory.count() == 1


def test_purge_of_a_readonly_or_closed_store_is_refused(tmp_path: Path) -> None:
    with memkv.open(tmp_path / "store") as mem:
        mem.store("a", 1, "core", "s")
    with memkv.open(tmp_path / "store", readonly=True) as mem:
        before = snapshot(mem)
        with pytest.raises(memkv.ReadOnlyStore):
            mem.purge(category="core")
        with pytest.raises(memkv.ReadOnlyStore):
            mem.internal.purge(category="core")
        with pytest.raises(memkv.ReadOnlyStore):
            asyncio.run(AsyncMemory(mem).purge(session_id="s"))
        assert snapshot(mem) == before
    with pytest.raises(memkv.StoreClosed):
        mem.purge(category="core")
    with memkv.open(tmp_path / "store", readonly=True) as mem:
        assert mem.keys() == ["a"]


# -- the command -------------------------------------------------------------------------


class Terminal(io.StringIO):
    """Stdin that is a terminal, holding the answers typed."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    with memkv.open(path) as mem:
        for i in range(6):
            mem.store(f"turn/{i}", i, memkv.CONVERSATION, "s-1" if i < 4 else "s-2")
        mem.store(pack(("a", "b", 3, "x")), 1)
        mem.store(pack(("a", "b", 3, 4)), 2)
        mem.store(pack(("a", "b", 30)), 3)
        mem.store(pack(("a", "b", "3")), 4)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def keys_of(path: Path) -> list[str]:
    with memkv.open(path, readonly=True) as mem:
        return mem.keys()


def test_command_asks_first_and_a_no_removes_nothing(
    store: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = keys_of(store)
    for answer in ("n\n", "\n", "", "yes please\n"):  # anything but y / yes: no (EOF too)
        monkeypatch.setattr("sys.stdin", Terminal(answer))
        code, out, _ = run(capsys, "purge", str(store), "--session", "s-1")
        assert code == 0
        assert out.startswith("4 entries match (session 's-1')\n")
        assert "[y/N]" in out
        assert out.endswith("nothing removed\n")
        assert keys_of(store) == before
    monkeypatch.setattr("sys.stdin", Terminal("Y\n"))
    code, out, _ = run(capsys, "purge", str(store), "--session", "s-1", "--prefix", "turn/")
    assert code == 0
    assert out.endswith("removed 4 entries (session 's-1', prefix turn/)\n")
    assert [key for key in keys_of(store) if key.startswith("turn/")] == ["turn/4", "turn/5"]


def test_command_with_no_match_does_not_ask(
    store: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    code, out, _ = run(capsys, "purge", str(store), "--category", "nothing-here")
    assert code == 0
    assert out == "0 entries match (category 'nothing-here')\n"


def test_command_parts_give_a_packed_prefix(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--parts a b 3``: the keys packed from tuples that start with ('a', 'b', 3),
    not ('a', 'b', 30) nor ('a', 'b', '3')."""
    code, out, _ = run(capsys, "purge", str(store), "--parts", "a", "b", "3", "--yes")
    assert code == 0
    assert out == "removed 2 entries (prefix ('a', 'b', 3))\n"
    assert keys_of(store) == [pack(("a", "b", 30)), pack(("a", "b", "3"))] + [
        f"turn/{i}" for i in range(6)
    ]
    code, out, _ = run(capsys, "purge", str(store), "--prefix", "('a', 'b')", "--yes")
    assert out == "removed 2 entries (prefix ('a', 'b'))\n"
    with memkv.open(store, readonly=True) as mem:
        assert mem.verify() == []
        assert mem.count() == 6


def test_command_refuses_bad_usage_before_opening_the_store(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = keys_of(store)
    cases = [
        (2, "needs a filter", ["purge", str(store), "--yes"]),
        (2, "must not be empty", ["purge", str(store), "--prefix", "", "--yes"]),
        (2, "not allowed with", ["purge", str(store), "--prefix", "a", "--parts", "a", "--yes"]),
        (2, "--yes", ["purge", str(store), "--category", "core"]),  # stdin: no terminal
        (2, "category", ["purge", str(store), "--category", "", "--yes"]),
        (1, "no store", ["purge", str(tmp_path / "none"), "--category", "core", "--yes"]),
    ]
    for status, needle, argv in cases:
        code, out, err = run(capsys, *argv)
        assert (code, out) == (status, ""), argv
        assert needle in err
        assert err.count("\n") == 1  # one line, never a traceback
    assert keys_of(store) == before
    assert not (tmp_path / "none").exists()


def test_command_on_a_store_it_cannot_write_is_a_store_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "not-a-store"
    path.mkdir()
    (path / "data.mdb").write_bytes(b"not lmdb" * 512)
    code, _, err = run(capsys, "purge", str(path), "--category", "core", "--yes")
    assert code == 3
    assert str(path) in err
