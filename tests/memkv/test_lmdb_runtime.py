"""LMDB at run time, with other processes about: a map grown by another process
while this one opens, reader slots left by killed processes, and a full disk."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import memkv
from tests.memkv.helpers import child_env, run_worker, start_worker


@contextlib.contextmanager
def _worker(*args: str, first_line: str) -> Iterator[subprocess.Popen[str]]:
    """A worker started, and SIGKILLed when the block ends; its first line is
    ``first_line`` (a prefix)."""
    child = start_worker(*args, stdin=subprocess.PIPE, env=child_env())
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith(first_line), child.stderr.read() if child.stderr else line
        yield child
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=30)


# -- a map grown by another process ------------------------------------------------


def test_opening_adopts_the_map_another_process_grows_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "store"
    memkv.open(path, map_size=1 << 20).close()
    map_sizes: list[int] = []
    with _worker("grow-forever", str(path), first_line="ready"):
        for _ in range(30):  # most of these opens met MDB_MAP_RESIZED before
            with memkv.open(path, map_size=1 << 20) as mem:
                found = mem.get("grown/0000")
                assert found is not None
                assert found.content == "x" * 50_000
                map_sizes.append(mem.backend.stats()["map_size"])
    assert max(map_sizes) > 1 << 20  # the map did grow while they opened
    with memkv.open(path) as mem:
        assert mem.verify() == []


# -- reader slots of killed processes ------------------------------------------------


def _kill_a_reader_holding_every_slot(path: Path) -> None:
    with _worker("hold-reader-slots", str(path), first_line="holding") as holder:
        os.kill(holder.pid, signal.SIGKILL)


def test_a_writer_reaps_stale_readers_so_its_file_stays_small(tmp_path: Path) -> None:
    path = tmp_path / "store"
    blob = "z" * 200_000
    # A map that need not grow (growing it reaps too), as with the default 1 GiB.
    with memkv.open(path, map_size=256 << 20, durability="unsynced") as mem:
        # Opened before the reader died: only reaping while writing clears its slot.
        with _worker("hold-reader", str(path), first_line="reading") as reader:
            os.kill(reader.pid, signal.SIGKILL)
        for _cycle in range(40):  # 2 MB written and deleted each cycle
            for i in range(10):
                mem.store(f"cycle/{i}", blob)
            for i in range(10):
                assert mem.forget(f"cycle/{i}")
        # Pinned by the dead reader, the 80 MB written would all have stayed in the file.
        assert (path / "data.mdb").stat().st_size < 16 << 20
        assert mem.backend.reaped_readers >= 1  # type: ignore[attr-defined]


def test_a_writer_reaps_stale_readers_after_a_quiet_spell(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with memkv.open(path) as mem:
        mem.store("first", 1)
        with _worker("hold-reader", str(path), first_line="reading") as reader:
            os.kill(reader.pid, signal.SIGKILL)
        assert mem.backend.stats()["readers_in_use"] == 1
        mem.backend._environment._next_reap = 0.0  # type: ignore[attr-defined]  # a second on
        mem.store("second", 2)
        assert mem.backend.stats()["readers_in_use"] == 0


def test_dead_readers_on_every_slot_do_not_lock_out_a_writing_holder(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with memkv.open(path) as mem:
        _kill_a_reader_holding_every_slot(path)
        for n in range(3):  # each read would meet MDB_READERS_FULL
            mem.store(f"k{n}", n)
            found = mem.get(f"k{n}")
            assert found is not None
            assert found.content == n
        opened = run_worker("dump", str(path), env=child_env())
        assert opened.returncode == 0, opened.stderr
        assert '"k2"' in opened.stdout


# -- a full disk ---------------------------------------------------------------------


def test_a_file_size_limit_is_storage_full_and_writes_resume_once_lifted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store"
    done = run_worker("fill-to-file-size-limit", str(path), env=child_env())
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("refused StorageFull "), lines
    assert "the disk is full" in lines[0]
    assert lines[1].startswith("read kept ")
    assert lines[2] == "stored stored"
    with memkv.open(path) as mem:
        assert mem.verify() == []
        assert mem.count() == int(lines[1].split()[-1]) + 1


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs mounted at a fresh directory (skipped where mounting is not
    allowed: then the file size limit test stands for it)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_a_full_filesystem_is_storage_full_and_writes_resume_once_freed(
    small_filesystem: Path,
) -> None:
    filler = small_filesystem / "filler"
    filler.write_bytes(b"f" * (1 << 20))  # the space freed afterwards
    with memkv.open(small_filesystem / "store", map_size=1 << 20) as mem:
        mem.store("before", "kept")
        stored, refused = 0, None
        for n in range(100):  # 20 MB into 4 MB
            try:
                mem.store(f"big/{n}", "y" * 200_000)
            except memkv.StorageFull as exc:
                refused = exc
                break
            stored += 1
        assert "the disk is full" in str(refused)
        assert stored > 0
        found = mem.get("before")
        assert found is not None
        assert found.content == "kept"
        assert mem.count() == stored + 1
        filler.unlink()
        mem.store("after", "stored")
        assert mem.count() == stored + 2
        assert mem.verify() == []


def test_dead_readers_on_every_slot_do_not_lock_new_processes_out(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with memkv.open(path) as mem:  # a live holder, idle: LMDB keeps its lock file as is
        mem.store("k", "before")
        _kill_a_reader_holding_every_slot(path)
        stored = run_worker("store", str(path), "k2", '"stored"', env=child_env())
        assert stored.returncode == 0, stored.stderr  # MDB_READERS_FULL before
        dumped = run_worker("dump", str(path), env=child_env())
        assert dumped.returncode == 0, dumped.stderr
        assert '"k2"' in dumped.stdout


def test_the_slots_of_a_live_reader_are_never_cleared(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with memkv.open(path) as mem:
        mem.store("k", "before")
        with _worker("hold-reader-slots", str(path), first_line="holding 256"):
            refused = run_worker("dump", str(path), env=child_env())
            assert refused.returncode != 0
            assert "MDB_READERS_FULL" in refused.stderr
            assert "memkv.errors.BackendError" in refused.stderr
        dumped = run_worker("dump", str(path), env=child_env())  # the reader is gone now
        assert dumped.returncode == 0, dumped.stderr
        assert '"before"' in dumped.stdout
