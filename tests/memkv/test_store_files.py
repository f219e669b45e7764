"""What `memkv.open` accepts on LMDB (memkv.backends.lmdb.store_files): a short,
empty or missing data file, symlinks, files and directories of another user, and
the modes of the directories it creates. The cases that crashed the interpreter
(SIGBUS) run in a child process, so that a crash fails the test instead of pytest."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import memkv
from tests.memkv.helpers import child_env

PAGE = 4096
ENTRIES = 3000

OPEN_AND_COUNT = """
import sys, memkv
with memkv.open(sys.argv[1], readonly=sys.argv[2] == "readonly") as mem:
    print(mem.count(), mem.get("k1"))
"""


@pytest.fixture(scope="module")
def full_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of 3,000 entries, not to be changed: tests work on copies."""
    path = tmp_path_factory.mktemp("full") / "store"
    with memkv.open(path) as mem:
        mem.transact(lambda tx: [tx.store(f"k{i}", "x" * 200) for i in range(ENTRIES)])
    return path


def copy_of(store: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    return copy


def run_child(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# -- a short data file -------------------------------------------------------------------


CUTS: dict[str, Callable[[int], int]] = {
    "8192 bytes": lambda size: 8192,
    "5000 bytes": lambda size: 5000,
    "10 %": lambda size: size // 10,
    "half": lambda size: size // 2,
    "one page short": lambda size: size - PAGE,
}


@pytest.mark.parametrize("cut", list(CUTS))
@pytest.mark.parametrize("mode", ["readwrite", "readonly"])
def test_a_truncated_data_file_is_refused_not_mapped(
    full_store: Path, tmp_path: Path, cut: str, mode: str
) -> None:
    """Before, LMDB mapped past the end of the file and the process died of SIGBUS
    (exit -7) at open or at the first read; now the open is refused with a typed
    error naming the file and its sizes, and the file is left as it was."""
    path = copy_of(full_store, tmp_path)
    data = path / "data.mdb"
    size = CUTS[cut](data.stat().st_size)
    os.truncate(data, size)
    result = run_child("-c", OPEN_AND_COUNT, str(path), mode)
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("memkv.errors.StoreUnavailable:"), result.stderr
    assert f"{data} is damaged: it is {size} bytes long" in last
    assert "pages of 4096 bytes" in last or "meta page" in last
    assert data.stat().st_size == size


@pytest.mark.parametrize("command", ["verify", "stats"])
def test_the_command_reports_a_truncated_data_file(
    full_store: Path, tmp_path: Path, command: str
) -> None:
    """``memkv verify`` and ``memkv stats``, the diagnosis tools, tell what is wrong and
    exit with the store error status, instead of dying of SIGBUS themselves."""
    path = copy_of(full_store, tmp_path)
    data = path / "data.mdb"
    size = data.stat().st_size // 2
    os.truncate(data, size)
    result = run_child("-m", "memkv", command, str(path))
    assert result.returncode == 3, (result.returncode, result.stderr)
    assert f"memkv: error: {data} is damaged: it is {size} bytes long" in result.stderr
    assert result.stdout == ""


def test_a_data_file_that_is_not_lmdb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store"
    path.mkdir()
    (path / "data.mdb").write_bytes(b"\x01" * 3 * PAGE)
    with pytest.raises(memkv.StoreUnavailable, match="not an LMDB data file"):
        memkv.open(path)
    assert (path / "data.mdb").read_bytes() == b"\x01" * 3 * PAGE


def test_a_store_whose_file_has_every_page_opens(full_store: Path, tmp_path: Path) -> None:
    """The check refuses only what is short: a copy of the store, whole, opens."""
    path = copy_of(full_store, tmp_path)
    with memkv.open(path) as mem:
        assert mem.count() == ENTRIES
        assert mem.verify() == []


# -- an empty or missing data file ---------------------------------------------------------


@pytest.mark.parametrize("damage", ["empty", "missing"])
@pytest.mark.parametrize("readonly", [False, True])
def test_a_store_that_existed_is_never_started_afresh(
    full_store: Path, tmp_path: Path, damage: str, readonly: bool
) -> None:
    """An empty data file, or none beside a lock file, used to become an empty store
    on a read-write open (count 0, verify clean): now refused, nothing created."""
    path = copy_of(full_store, tmp_path)
    data = path / "data.mdb"
    if damage == "empty":
        os.truncate(data, 0)
    else:
        data.unlink()
    with pytest.raises(memkv.StoreUnavailable) as refused:
        memkv.open(path, readonly=readonly)
    message = str(refused.value)
    assert str(data) in message
    assert "refusing to start the store" in message
    if damage == "missing":
        assert "lock.mdb shows that a store existed" in message
        assert not data.exists()
    else:
        assert data.stat().st_size == 0


def test_a_new_store_still_opens_in_an_empty_directory(tmp_path: Path) -> None:
    path = tmp_path / "store"
    path.mkdir(mode=0o700)
    with memkv.open(path) as mem:
        mem.store("k", 1)
    with memkv.open(path, readonly=True) as mem:
        assert mem.get("k").content == 1  # type: ignore[union-attr]


# -- symlinks and other users ----------------------------------------------------------------


@pytest.fixture
def other_user() -> int:
    """The uid of an ordinary user other than this process's (root only can chown)."""
    if os.geteuid() != 0:
        pytest.skip("giving files to another user needs root")
    return pwd.getpwnam("nobody").pw_uid


def test_a_planted_directory_of_symlinks_is_refused(tmp_path: Path, other_user: int) -> None:
    """The attack of issue 19: a world-writable directory of another user, whose
    lock.mdb and data.mdb are symlinks to a victim's files. Before, the open
    overwrote the victim file behind lock.mdb; now it is refused and nothing is
    written."""
    victims = tmp_path / "victims"
    victims.mkdir()
    (victims / "precious").write_bytes(b"precious" * 100)
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "lock.mdb").symlink_to(victims / "precious")
    (planted / "data.mdb").symlink_to(victims / "elsewhere")
    os.chown(planted, other_user, other_user)
    planted.chmod(0o777)
    with pytest.raises(memkv.StoreUnavailable, match="is a symlink") as refused:
        memkv.open(planted)
    assert str(planted / "data.mdb") in str(refused.value)
    assert (victims / "precious").read_bytes() == b"precious" * 100
    assert sorted(p.name for p in victims.iterdir()) == ["precious"]


@pytest.mark.parametrize("name", ["data.mdb", "lock.mdb"])
def test_a_store_file_that_is_a_symlink_is_refused_even_at_home(
    full_store: Path, tmp_path: Path, name: str
) -> None:
    path = copy_of(full_store, tmp_path)
    moved = tmp_path / name
    (path / name).rename(moved)
    (path / name).symlink_to(moved)
    for readonly, lock in ((False, True), (True, True), (True, False)):
        with pytest.raises(memkv.StoreUnavailable, match=f"{path / name} is a symlink"):
            memkv.open(path, readonly=readonly, lock=lock)


@pytest.mark.parametrize("name", ["data.mdb", "lock.mdb"])
def test_a_store_file_of_another_user_is_written_by_no_one_else(
    full_store: Path, tmp_path: Path, other_user: int, name: str
) -> None:
    """A read-write open refuses files that another user owns; reading them stays
    possible."""
    path = copy_of(full_store, tmp_path)
    os.chown(path / name, other_user, other_user)
    with pytest.raises(memkv.StoreUnavailable, match=f"owned by user {other_user}") as refused:
        memkv.open(path)
    assert str(path / name) in str(refused.value)
    with memkv.open(path, readonly=True) as mem:
        assert mem.count() == ENTRIES


def test_a_shared_directory_of_another_user_is_refused(tmp_path: Path, other_user: int) -> None:
    """A store directory writable by group or others is refused unless it is the
    opener's own; with lock=False (which writes nothing) a backup there is read."""
    shared = tmp_path / "shared"
    with memkv.open(shared) as mem:
        mem.store("k", 1)
    os.chown(shared, other_user, other_user)
    for mode in (0o777, 0o1777, 0o770):
        shared.chmod(mode)
        with pytest.raises(memkv.StoreUnavailable, match="writable by others"):
            memkv.open(shared)
        with pytest.raises(memkv.StoreUnavailable, match=f"mode {mode:o}"):
            memkv.open(shared, readonly=True)
        with memkv.open(shared, readonly=True, lock=False) as mem:
            assert mem.get("k").content == 1  # type: ignore[union-attr]
    shared.chmod(0o755)  # another user's, not writable by others: read as before
    with memkv.open(shared, readonly=True) as mem:
        assert mem.count() == 1


@pytest.mark.parametrize("mode", [0o1777, 0o777, 0o700])
def test_a_directory_of_ones_own_opens_whatever_its_mode(tmp_path: Path, mode: int) -> None:
    """A /tmp-style sticky directory (or any) that the opener owns is accepted."""
    path = tmp_path / "mine"
    path.mkdir()
    path.chmod(mode)
    with memkv.open(path) as mem:
        mem.store("k", 1)
    with memkv.open(path) as mem:
        assert mem.get("k").content == 1  # type: ignore[union-attr]


# -- modes of created directories --------------------------------------------------------------


def test_missing_parent_directories_are_created_private_under_umask_000(tmp_path: Path) -> None:
    """Before, under umask 000 the parents were made 0777 (the store itself 0700)."""
    path = tmp_path / "a" / "b" / "store"
    previous = os.umask(0)
    try:
        memkv.open(path).close()
    finally:
        os.umask(previous)
    for directory in (tmp_path / "a", tmp_path / "a" / "b", path):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory


# -- a full disk at open -------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, mounted for the test (root only), unmounted after it."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr!r}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def fill(disk: Path) -> Path:
    """Take every free block of ``disk``; the file that holds them."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while os.write(fd, b"\0" * PAGE):
                pass
    finally:
        os.close(fd)
    assert shutil.disk_usage(disk).free == 0
    return filler


def test_a_new_store_on_a_full_disk_is_storage_full(small_disk: Path) -> None:
    """Before, LMDB's sparse lock file was written through its map and the open died
    of SIGBUS (exit -7); now it is `StorageFull`, nothing is left behind, and the
    store is created once there is room."""
    filler = fill(small_disk)
    path = small_disk / "store"
    result = run_child("-c", OPEN_AND_COUNT, str(path), "readwrite")
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "memkv.errors.StorageFull: cannot open the store at" in result.stderr
    assert list(path.iterdir()) == []
    filler.unlink()
    result = run_child("-c", OPEN_AND_COUNT, str(path), "readwrite")
    assert (result.returncode, result.stdout) == (0, "0 None\n"), result.stderr


MANY_READERS = """
import sys, threading, memkv
with memkv.open(sys.argv[1], readonly=sys.argv[2] == "readonly") as mem:
    together = threading.Barrier(100)
    found = []
    def read(view):
        together.wait(timeout=30)  # 100 read transactions at once: 100 reader slots
        return view.get("k1").content
    threads = [
        threading.Thread(target=lambda: found.append(mem.snapshot(read))) for _ in range(100)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(mem.count(), found.count("v"))
"""


def test_a_sparse_lock_file_on_a_full_disk_is_storage_full(small_disk: Path) -> None:
    """A lock file with holes (as LMDB makes it, or as a copy leaves it) on a full
    disk: readers taking a slot in a hole died of SIGBUS; now the open says the disk
    is full, and reads again once there is room."""
    path = small_disk / "store"
    with memkv.open(path) as mem:
        mem.store("k1", "v")
    lock_file = path / "lock.mdb"
    sparse = small_disk / "sparse"
    subprocess.run(["cp", "--sparse=always", str(lock_file), str(sparse)], check=True)
    sparse.replace(lock_file)
    assert lock_file.stat().st_blocks * 512 < lock_file.stat().st_size
    filler = fill(small_disk)
    for mode in ("readonly", "readwrite"):
        result = run_child("-c", MANY_READERS, str(path), mode)
        assert result.returncode == 1, (mode, result.returncode, result.stderr)
        assert f"the disk is full (no room for {lock_file})" in result.stderr
    filler.unlink()
    result = run_child("-c", MANY_READERS, str(path), "readonly")
    assert (result.returncode, result.stdout) == (0, "1 100\n"), result.stderr
    assert lock_file.stat().st_blocks * 512 >= lock_file.stat().st_size
