"""What only the LMDB backend has to show: several processes, fork, map growth,
reopening, file modes, the pinned format, stale readers, durability levels."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import lmdb
import msgspec
import pytest

import memkv
from tests.memkv.helpers import child_env, lock_file_unwritable, run_worker, start_worker
from tests.memkv.workers import store_megabyte

# -- several processes -----------------------------------------------------------------


def test_three_processes_write_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "store"
    memkv.open(path).close()
    per_process = 200
    children = [
        start_worker("writer", str(path), name, str(per_process), env=child_env())
        for name in ("alpha", "beta", "gamma")
    ]
    wins = 0
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        wins += int(out.split("\t")[1])
    with memkv.open(path) as mem:
        for name in ("alpha", "beta", "gamma"):
            assert mem.count(name) == per_process
            entries = mem.list(name)
            assert [e.content["i"] for e in entries] == list(range(per_process))
        assert mem.count("shared") == 50  # each shared key created exactly once
        assert wins == 50
        assert mem.count() == 3 * per_process + 50
        assert mem.verify() == []


def test_a_cached_read_sees_another_process_write(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with memkv.open(path) as mem:
        mem.store("k", "old")
        for _ in range(3):  # miss, admit, hit: now served from the cache
            entry = mem.get("k")
            assert entry is not None
            assert entry.content == "old"
        assert mem._cache is not None
        assert "k" in mem._cache
        result = run_worker("store", str(path), "k", "new", env=child_env())
        assert result.stdout == "stored\n", result.stderr
        entry = mem.get("k")
        assert entry is not None
        assert entry.content == "new"
        result = run_worker("store", str(path), "k", "newer", env=child_env())
        assert result.returncode == 0, result.stderr
        entry = mem.get("k", type=str)
        assert entry is not None
        assert entry.content == "newer"


def test_read_back_through_a_new_process(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with memkv.open(path) as mem:
        mem.store("text", "hello", session_id="s1")
        mem.store("blob", b"\x00\xff")
        mem.store("nested", {"a": [1, 2, {"b": None}]}, category="daily")
        mem.store(memkv.keys.pack(("sop", "run", 1)), 1.5)
        written = [msgspec.json.encode(e).decode() for e in mem.list()]
    result = run_worker("dump", str(path), env=child_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == written


# -- one process, several handles ------------------------------------------------------


def test_two_handles_in_one_process_share_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "store"
    first = memkv.open(path)
    second = memkv.open(path)
    first.store("k", 1)
    for _ in range(3):
        entry = second.get("k")
        assert entry is not None
        assert entry.content == 1
    first.store("k", 2)
    entry = second.get("k")  # second's cache must not serve its old copy
    assert entry is not None
    assert entry.content == 2
    first.close()
    second.store("k", 3)
    entry = second.get("k")
    assert entry is not None
    assert entry.content == 3
    second.close()
    with memkv.open(path) as third:
        assert third.count() == 1


def test_conflicting_options_in_one_process(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with memkv.open(path):
        with pytest.raises(memkv.InvalidArgument, match="durability='durable'"):
            memkv.open(path, durability="unsynced")
        with memkv.open(path, readonly=True) as reader, pytest.raises(memkv.ReadOnlyStore):
            reader.store("k", 1)


# -- fork ------------------------------------------------------------------------------


def wait_child(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_store_opened_before_fork_works_in_the_child(tmp_path: Path) -> None:
    path = tmp_path / "store"
    mem = memkv.open(path)
    mem.store("parent", 1)
    for _ in range(3):
        mem.get("parent")
    pid = os.fork()
    if pid == 0:  # the child: exit code says what failed
        code = 0
        try:
            for i in range(400):  # more reads than LMDB has reader slots
                entry = mem.get("parent") if i % 2 else mem.list()[0]
                assert entry is not None
            mem.store("child", 2)
            assert mem.count() == 2
            assert mem.verify() == []
        except BaseException:
            code = 1
        os._exit(code)
    assert wait_child(pid) == 0
    entry = mem.get("child")
    assert entry is not None
    assert entry.content == 2
    mem.store("parent-after", 3)
    assert mem.count() == 3
    assert mem.backend.stats()["readers_in_use"] == 0  # the child left no slot behind
    mem.close()


def test_fork_while_other_threads_read_and_write(tmp_path: Path) -> None:
    mem = memkv.open(tmp_path / "store")
    mem.store("k", 0)
    stop = threading.Event()
    errors: list[BaseException] = []

    def busy(write: bool) -> None:
        n = 0
        while not stop.is_set():
            try:
                if write:
                    mem.store("k", n)
                else:
                    mem.get("k")
                    mem.list(limit=5)
            except BaseException as exc:
                errors.append(exc)
                return
            n += 1

    threads = [threading.Thread(target=busy, args=(w,)) for w in (False, False, True)]
    for thread in threads:
        thread.start()
    try:
        for round_ in range(10):
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    mem.store(f"child-{round_}", round_)
                    assert mem.get(f"child-{round_}") is not None
                except BaseException:
                    code = 1
                os._exit(code)
            assert wait_child(pid) == 0
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []
    assert mem.count() == 11
    assert mem.verify() == []
    mem.close()


# -- the map ---------------------------------------------------------------------------


@pytest.mark.parametrize("megabytes", [210])
def test_tiny_map_takes_200mb_of_writes(tmp_path: Path, megabytes: int) -> None:
    path = tmp_path / "store"
    mem = memkv.open(path, map_size=1 << 20, durability="relaxed")
    assert mem.backend.stats()["map_size"] == 1 << 20
    errors: list[BaseException] = []
    stop = threading.Event()

    def read_while_it_grows() -> None:  # a remap invalidates readers: they must retry
        while not stop.is_set():
            try:
                mem.list(limit=3)
                mem.get("grow/0000/0")
            except BaseException as exc:
                errors.append(exc)
                return

    reader = threading.Thread(target=read_while_it_grows)
    reader.start()
    blob = os.urandom(100_000)
    try:
        for mb in range(megabytes):
            store_megabyte(mem, mb, blob)
    finally:
        stop.set()
        reader.join()
    assert errors == []
    stats = mem.backend.stats()
    assert stats["map_size"] >= megabytes * 1_000_000
    assert stats["data_file_size"] >= megabytes * 1_000_000
    assert mem.count() == megabytes * 10
    entry = mem.get(f"grow/{megabytes - 1:04d}/9")
    assert entry is not None
    assert entry.content == blob
    mem.close()


def test_map_grown_by_another_process_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with memkv.open(path, map_size=1 << 20) as mem:
        mem.store("before", 1)
        result = run_worker("grow", str(path), "40", env=child_env())
        assert result.returncode == 0, result.stderr
        assert mem.count() == 401
        entry = mem.get("grow/0039/9")
        assert entry is not None
        mem.store("after", 2)  # a write on the grown map
        assert mem.verify() == []


def test_max_map_size_is_a_clear_storage_full(tmp_path: Path) -> None:
    with memkv.open(tmp_path / "store", map_size=1 << 20, max_map_size=4 << 20) as mem:
        blob = b"x" * 200_000

        def fill() -> None:
            for i in range(100):
                mem.store(f"k{i}", blob)

        with pytest.raises(memkv.StorageFull, match="max_map_size"):
            fill()
        stored = mem.count()
        assert 0 < stored < 100
        assert mem.verify() == []
        assert mem.get(f"k{stored - 1}") is not None


# -- files -----------------------------------------------------------------------------


def test_files_are_private_to_their_owner(tmp_path: Path) -> None:
    path = tmp_path / "new" / "store"
    with memkv.open(path) as mem:
        mem.store("k", 1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    for name in ("data.mdb", "lock.mdb"):
        assert stat.S_IMODE((path / name).stat().st_mode) & 0o077 == 0


def test_a_store_read_without_its_lock_file(tmp_path: Path) -> None:
    """``readonly=True, lock=False`` reads a store through its data file alone (a
    copy without lock.mdb, say) and creates nothing."""
    path = tmp_path / "store"
    with memkv.open(path) as mem:
        mem.store("k", 1, session_id="s")
    (path / "lock.mdb").unlink()
    with memkv.open(path, readonly=True, lock=False) as mem:
        assert mem.get("k").content == 1  # type: ignore[union-attr]
        assert (mem.count(), mem.sessions()) == (1, {"s": 1})
        assert mem.snapshot(lambda view: view.keys()) == ["k"]
        assert mem.health_check()
        assert mem.verify() == []
        with pytest.raises(memkv.ReadOnlyStore):
            mem.store("x", 2)
        with pytest.raises(memkv.InvalidArgument, match="lock=False"):
            memkv.open(path, readonly=True)  # already open in this process, otherwise
    assert sorted(p.name for p in path.iterdir()) == ["data.mdb"]
    with pytest.raises(memkv.InvalidArgument, match="readonly=True"):
        memkv.open(path, lock=False)
    with memkv.open(path) as mem:  # a writer makes its lock file again
        mem.store("k", 2)
        with pytest.raises(memkv.InvalidArgument, match="lock=True"):
            memkv.open(path, readonly=True, lock=False)  # one environment per process
    with memkv.open(path, readonly=True, lock=False) as mem:
        assert mem.get("k").content == 2  # type: ignore[union-attr]


READ_ONLY_INSPECTION = """
import os, sys, memkv
if sys.argv[2] != "-":
    os.setgid(int(sys.argv[2]))
    os.setuid(int(sys.argv[3]))  # root writes anything: read as an ordinary user
try:
    memkv.open(sys.argv[1], readonly=True)
    print("opened")
except memkv.StoreUnavailable as exc:
    print("refused:", exc)
with memkv.open(sys.argv[1], readonly=True, lock=False) as mem:
    print("read:", mem.get("k").content, mem.count())
    try:
        mem.store("x", 1)
    except memkv.ReadOnlyStore:
        print("writes refused")
"""


@pytest.mark.parametrize("unwritable", ["lock file", "directory without lock file"])
def test_a_store_whose_lock_file_cannot_be_written_can_still_be_inspected(
    unwritable: str,
) -> None:
    """A backup, read-only media, another user's store: ``readonly=True`` alone is
    refused (LMDB writes its lock file even to read) with a message that says how to
    read it and at what risk; ``readonly=True, lock=False`` reads it."""
    with lock_file_unwritable(keep_lock_file=unwritable == "lock file") as (path, user):
        result = subprocess.run(
            [sys.executable, "-c", READ_ONLY_INSPECTION, str(path), *user],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        lines = result.stdout.splitlines()
        assert len(lines) == 3, result.stdout + result.stderr
        refused, read, writes = lines
        assert refused.startswith("refused:")
        assert str(path) in refused
        assert "readonly=True, lock=False" in refused
        assert "coordinates" in refused  # the risk is named
        assert (read, writes) == ("read: 42 1", "writes refused")
        if unwritable == "directory without lock file":
            assert sorted(p.name for p in path.iterdir()) == ["data.mdb"]


def test_format_is_pinned_to_lmdb_0_9(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with memkv.open(path) as mem:
        mem.store("k", 1)
        assert mem.backend.stats()["lmdb_version"].startswith("0.9")
    env = lmdb.open(str(path), lib_version=0, max_dbs=3, readonly=True)  # fails if not v1
    assert env.lib_version()[0] == 0
    env.close()


def test_stale_reader_of_a_killed_process_is_reaped(tmp_path: Path) -> None:
    path = tmp_path / "store"
    memkv.open(path).close()
    # A third process keeps the store open, else LMDB would simply reset its lock file.
    holder = start_worker("hold-open", str(path), stdin=subprocess.PIPE, env=child_env())
    reader = start_worker("hold-reader", str(path), stdin=subprocess.PIPE, env=child_env())
    try:
        assert holder.stdout is not None
        assert reader.stdout is not None
        assert holder.stdout.readline() == "open\n"
        assert reader.stdout.readline() == "reading\n"
        os.kill(reader.pid, signal.SIGKILL)
        reader.communicate(timeout=30)
        with memkv.open(path) as mem:  # opening reaps the dead reader's slot
            assert mem.backend.reaped_readers >= 1  # type: ignore[attr-defined]
            assert mem.backend.stats()["readers_in_use"] == 0
    finally:
        holder.communicate("\n", timeout=30)
    assert holder.returncode == 0


def test_health_check_reaps_stale_readers_of_a_long_open_store(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with memkv.open(path) as mem:
        reader = start_worker("hold-reader", str(path), stdin=subprocess.PIPE, env=child_env())
        assert reader.stdout is not None
        assert reader.stdout.readline() == "reading\n"
        assert mem.backend.stats()["readers_in_use"] == 1
        os.kill(reader.pid, signal.SIGKILL)
        reader.communicate(timeout=30)
        assert mem.health_check()
        assert mem.backend.reaped_readers >= 1  # type: ignore[attr-defined]
        assert mem.backend.stats()["readers_in_use"] == 0


# -- durability levels -----------------------------------------------------------------


STRACE = shutil.which("strace")


def _disk_events(trace: str, page_size: int) -> str:
    """The trace as one letter per disk call on the data file, in order: ``F`` a
    flush, ``M`` a write of a meta page (the first two pages), ``D`` a data write."""
    events = []
    for line in trace.splitlines():
        if re.search(r"\b(fdatasync|fsync|msync)\(", line):
            events.append("F")
        elif match := re.search(r"pwrite64\(\d+, .*, (\d+), (\d+)\) = ", line):
            size, offset = int(match.group(1)), int(match.group(2))
            events.append("M" if offset < 2 * page_size and size < page_size else "D")
        elif re.search(r"\b(writev|pwritev2?)\(", line):
            events.append("D")
    return "".join(events)


@pytest.mark.skipif(STRACE is None, reason="strace is not installed (the test command installs it)")
@pytest.mark.parametrize("durability", ["durable", "relaxed", "unsynced"])
def test_durability_levels_flush_as_promised(tmp_path: Path, durability: str) -> None:
    """What each level asks of the disk, per commit: durable flushes the data pages,
    writes the meta page and flushes again before the write returns; relaxed flushes
    the data pages but leaves the meta page to the next flush; unsynced flushes
    nothing."""
    path = tmp_path / "store"
    with memkv.open(path, durability=durability) as mem:
        page_size = mem.backend.stats()["page_size"]
    trace = tmp_path / "trace"
    stores = 20
    result = subprocess.run(
        [
            STRACE or "strace",
            "-f",
            "-qq",
            "-e",
            "trace=fsync,fdatasync,msync,pwrite64,pwritev,pwritev2,writev",
            "-o",
            str(trace),
            sys.executable,
            str(Path(__file__).with_name("workers.py")),
            "stores",
            str(path),
            durability,
            str(stores),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=child_env(),
    )
    assert result.stdout == "begin\nend\n", result.stderr
    events = _disk_events(trace.read_text(), page_size)
    assert events.count("M") >= stores, events
    if durability == "durable":
        assert "M" not in events.replace("MF", ""), f"a meta write not flushed at once: {events}"
    elif durability == "relaxed":
        assert events.count("F") >= stores, events
        assert "MF" not in events, f"relaxed waited for a meta page: {events}"
    else:
        assert "F" not in events, events
    with memkv.open(path) as mem:
        assert mem.count() == stores


def test_lmdb_flags_follow_durability(tmp_path: Path) -> None:
    for level in memkv.Durability:
        with memkv.open(tmp_path / level.value, durability=level) as mem:
            env = mem.backend._environment._env  # type: ignore[attr-defined]
            flags = env.flags()
            assert flags["sync"] == (level is not memkv.Durability.UNSYNCED)
            assert not flags["metasync"]  # durable flushes after the commit instead
            assert mem.backend.stats()["durability"] == level.value


def test_health_check(tmp_path: Path) -> None:
    mem = memkv.open(tmp_path / "store")
    assert mem.health_check()
    mem.close()
    assert not mem.health_check()


def test_transaction_that_outgrows_the_map_is_run_again(tmp_path: Path) -> None:
    """Growing the map means aborting and calling the transaction function again:
    why transaction functions must have no effects outside tx."""
    calls = 0
    blob = b"y" * 100_000

    def big(tx: memkv.Transaction) -> int:
        nonlocal calls
        calls += 1
        for i in range(30):  # 3 MB into a 1 MB map
            tx.store(f"big/{i}", blob)
        return tx.count()

    with memkv.open(tmp_path / "store", map_size=1 << 20) as mem:
        assert mem.transact(big) == 30
        assert calls >= 2
        assert mem.count() == 30
        assert mem.verify() == []


def test_a_function_that_swallows_exceptions_cannot_hide_a_full_map(tmp_path: Path) -> None:
    blob = b"z" * 100_000

    def careless(tx: memkv.Transaction) -> None:
        for i in range(30):
            with contextlib.suppress(Exception):
                tx.store(f"k/{i}", blob)

    with memkv.open(tmp_path / "store", map_size=1 << 20) as mem:
        mem.transact(careless)
        assert mem.count() == 30
