"""Backups and compaction (`memkv.Memory.backup`, `memkv.compact`, ``memkv backup``,
``memkv compact``), on real LMDB stores: a backup taken while 16 writers run opens,
verifies, keeps the writers' invariant and is no larger than the store; a backup or a
compaction SIGKILLed at random moments leaves the store (and the destination) whole;
a process that opens the store during a compaction reads and extends the compacted
store; bad input is refused with a typed error, and changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

import memkv
import memkv.aio
from memkv.backends.lmdb.copying import COMPACTING, DATA_FILE, LOCK_FILE
from memkv.cli import main
from tests import postgres
from tests.conftest import open_backend
from tests.memkv.helpers import child_env, raises_naming, snapshot, start_worker

BACKUP_WORKERS: Final = Path(__file__).with_name("backup_workers.py")
MEMKV: Final = str(Path(sys.executable).with_name("memkv"))
ACCOUNTS: Final = 16
OPENING_BALANCE: Final = 100
KEPT_PAIRS: Final = 20  # each writer's newest pairs; older ones are forgotten
HOLD_LOCK: Final = """
import fcntl, sys
lock_file = open(sys.argv[1], "r+b")
fcntl.lockf(lock_file, fcntl.LOCK_SH, 1, 0)  # as a process with the store open holds it
print("held", flush=True)
sys.stdin.readline()
"""


# -- stores ---------------------------------------------------------------------------


def everything(path: Path) -> tuple[Any, ...]:
    """All a user (or a package, in the internal space) can observe of the store at
    ``path``, read-only, after checking that it verifies clean."""
    with memkv.open(path, readonly=True) as mem:
        assert mem.verify() == []
        return snapshot(mem), snapshot(mem.internal)


def data_size(directory: Path) -> int:
    return (directory / DATA_FILE).stat().st_size


def fill(mem: memkv.Memory, entries: int, *, forget_every: int = 2) -> None:
    """``entries`` entries (texts for recall, maps, sessions), one in ``forget_every``
    forgotten again: pages for a compaction to leave out."""

    def write(tx: memkv.Transaction, start: int) -> None:
        for i in range(start, min(start + 2_000, entries)):
            text = f"entry {i} of the filler, about apples and {i % 97} pears " * 3
            tx.store(f"k{i:06d}", {"text": text, "i": i} if i % 3 else text, "filler", f"s{i % 7}")

    for start in range(0, entries, 2_000):
        mem.transact(functools.partial(write, start=start))

    def forget(tx: memkv.Transaction) -> None:
        for i in range(0, entries, forget_every):
            tx.forget(f"k{i:06d}")

    mem.transact(forget)
    mem.internal.store("package/record", {"kept": True}, category="package")


# -- the writers' invariant -------------------------------------------------------------


def account(number: int) -> str:
    return f"account/{number:02d}"


def open_accounts(tx: memkv.Transaction) -> None:
    for number in range(ACCOUNTS):
        tx.store(account(number), OPENING_BALANCE, "accounts")


def transfer(tx: memkv.Transaction, *, source: int, target: int, writer: int, n: int) -> None:
    """Move one unit between two accounts (their total stays the same) and write a
    pair of keys together (each always has its twin); forget an old pair."""
    for number, change in ((source, -1), (target, +1)):
        found = tx.get(account(number))
        assert found is not None
        tx.store(account(number), found.content + change, "accounts")
    for half in "ab":
        tx.store(f"pair/{writer:02d}/{n:06d}/{half}", n, "pairs", f"w{writer:02d}")
        if n >= KEPT_PAIRS:
            tx.forget(f"pair/{writer:02d}/{n - KEPT_PAIRS:06d}/{half}")


def assert_invariant(mem: memkv.Memory) -> int:
    """The writers' invariant holds in one snapshot of ``mem``; the number of pairs."""

    def read(view: memkv.Reader) -> tuple[list[int], dict[str, int]]:
        balances = [entry.content for entry in view.list("accounts")]
        return balances, {entry.key: entry.content for entry in view.list("pairs")}

    balances, pairs = mem.snapshot(read)
    assert len(balances) == ACCOUNTS
    assert sum(balances) == ACCOUNTS * OPENING_BALANCE
    for key, content in pairs.items():
        twin = key[:-1] + ("b" if key.endswith("a") else "a")
        assert pairs.get(twin) == content, f"{key} without its twin {twin}"
    return len(pairs) // 2


def backups_under_writers(
    directory: Path, *, writers: int, backups: int, compact: bool, entries: int
) -> None:
    """Take ``backups`` backups of a store while ``writers`` threads write it (more, up
    to 10, until one of them overlapped a commit); check each copy."""
    path = directory / "store"
    copies: list[tuple[Path, int]] = []
    errors: list[BaseException] = []
    written = [0] * writers
    stop = threading.Event()

    def write(writer: int) -> None:
        rng = random.Random(writer)
        try:
            while not stop.is_set():
                source = rng.randrange(ACCOUNTS)
                target = (source + rng.randrange(1, ACCOUNTS)) % ACCOUNTS
                n = written[writer]
                mem.transact(
                    functools.partial(transfer, source=source, target=target, writer=writer, n=n)
                )
                written[writer] = n + 1
        except BaseException as exc:
            errors.append(exc)

    with memkv.open(path) as mem:
        fill(mem, entries)
        mem.transact(open_accounts)
        threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
        for thread in threads:
            thread.start()
        overlapped = 0
        try:
            while sum(written) < 10 * writers and not errors:
                time.sleep(0.01)
            while len(copies) < backups or (not overlapped and len(copies) < 10):
                before = sum(written)
                target = mem.backup(directory / f"backup-{len(copies)}", compact=compact)
                copies.append((target, data_size(path)))  # the live store's, once done
                overlapped += sum(written) > before
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        assert errors == []
        assert overlapped, "no write committed while a backup was taken"
        assert_invariant(mem)
        assert mem.verify() == []
    for target, live_size in copies:
        assert sorted(os.listdir(target)) == [DATA_FILE, LOCK_FILE]
        assert target.stat().st_mode & 0o777 == 0o700
        assert (target / DATA_FILE).stat().st_mode & 0o777 == 0o600
        assert data_size(target) <= live_size
        with memkv.open(target) as copy:
            assert copy.verify() == []
            assert assert_invariant(copy) >= 1
            assert copy.count("filler") == entries // 2
            assert copy.internal.get("package/record") is not None


@pytest.mark.parametrize("compact", [True, False], ids=["compacted", "no-compact"])
def test_a_backup_taken_while_16_writers_run_is_a_consistent_snapshot(
    tmp_path: Path, compact: bool
) -> None:
    backups_under_writers(tmp_path, writers=16, backups=3, compact=compact, entries=6_000)


@pytest.mark.slow
def test_many_backups_while_16_writers_run(tmp_path: Path) -> None:
    backups_under_writers(tmp_path, writers=16, backups=10, compact=True, entries=30_000)


def test_a_compacted_backup_leaves_free_pages_out(tmp_path: Path) -> None:
    with memkv.open(tmp_path / "store") as mem:
        fill(mem, 8_000)
        whole = mem.backup(tmp_path / "whole", compact=False)
        compacted = mem.backup(tmp_path / "compacted")
    assert data_size(compacted) < data_size(whole) <= data_size(tmp_path / "store")
    assert everything(compacted) == everything(whole) == everything(tmp_path / "store")


def test_async_backup(tmp_path: Path) -> None:
    async def run() -> Path:
        async with memkv.aio.open(tmp_path / "store") as amem:
            await amem.store("user/name", "Ada")
            return await amem.backup(tmp_path / "copy", compact=False)

    assert asyncio.run(run()) == tmp_path / "copy"
    with memkv.open(tmp_path / "copy") as copy:
        assert copy.get("user/name").content == "Ada"  # type: ignore[union-attr]


# -- compaction ----------------------------------------------------------------------------


def test_compact_keeps_every_entry_and_shrinks_the_data_file(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with memkv.open(path) as mem:
        fill(mem, 8_000, forget_every=1)  # all forgotten but the internal record
        fill(mem, 2_000)
    before = everything(path)
    done = memkv.compact(path)
    assert done == memkv.Compaction(
        path=str(path), size_before=done.size_before, size_after=data_size(path)
    )
    assert done.size_after < done.size_before / 2
    assert everything(path) == before
    assert sorted(os.listdir(path)) == [DATA_FILE, LOCK_FILE]
    assert (path / DATA_FILE).stat().st_mode & 0o777 == 0o600
    with memkv.open(path) as mem:  # and it is written and recalled as before
        mem.store("after", "apples after compaction")
        assert mem.recall("apples after compaction")[0].key == "after"
        assert mem.verify() == []


def compact_in_a_child(path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [MEMKV, "compact", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def until_the_copy_begins(path: Path, child: subprocess.Popen[bytes]) -> None:
    while child.poll() is None and not (path / COMPACTING).exists():
        time.sleep(0.0005)


def timed_compaction(path: Path) -> tuple[float, float]:
    """Run ``memkv compact`` to the end: seconds in all, and from the moment the
    compacted copy appears."""
    started = time.monotonic()
    child = compact_in_a_child(path)
    until_the_copy_begins(path, child)
    copy_began = time.monotonic()
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    ended = time.monotonic()
    return ended - started, ended - copy_began


def compaction_kills(path: Path, cycles: int, seed: int) -> int:
    """Run ``memkv compact`` on the store at ``path`` ``cycles`` times, each SIGKILLed
    at a random moment: before the compacted copy is begun, or (every other cycle)
    after; after each, the store opens with the same entries and verifies clean.
    Returns how many runs the kill cut short."""
    rng = random.Random(seed)
    with memkv.open(path, recall=False) as mem:  # checked twice a cycle: quicker to verify
        fill(mem, 10_000)
    timed_compaction(path)
    whole_run, from_copy = timed_compaction(path)
    killed = 0
    for cycle in range(cycles):
        with memkv.open(path) as mem:  # free pages to leave out; the last commit id's parity
            for n in range(rng.randint(1, 3)):
                mem.store(f"cycle/{cycle}/{n}", "x" * rng.randint(1, 3_000), "churn")
            mem.forget(f"k{rng.randrange(1, 10_000, 2):06d}")
        expected = everything(path)
        child = compact_in_a_child(path)
        if cycle % 2:
            until_the_copy_begins(path, child)
            time.sleep(rng.uniform(0, from_copy))
        else:  # starting, opening the store, locking it
            time.sleep(rng.uniform(0, whole_run - from_copy))
        child.send_signal(signal.SIGKILL)
        _, err = child.communicate(timeout=30)
        assert child.returncode in (0, -signal.SIGKILL), err
        killed += child.returncode == -signal.SIGKILL
        assert everything(path) == expected, f"cycle {cycle}"
    memkv.compact(path)
    assert not (path / COMPACTING).exists()  # a leftover is removed by the next run
    return killed


def test_sigkill_during_compact_leaves_a_whole_store(tmp_path: Path) -> None:
    assert compaction_kills(tmp_path / "store", cycles=10, seed=1) >= 5


@pytest.mark.slow
def test_sigkill_during_compact_many_cycles(tmp_path: Path) -> None:
    assert compaction_kills(tmp_path / "store", cycles=100, seed=2) >= 50


@pytest.mark.parametrize("parity", [0, 1])
def test_a_process_joining_on_the_lock_file_of_before_reads_and_extends_the_compacted_store(
    tmp_path: Path, parity: int
) -> None:
    """A process that opened the store while a compaction held it, waiting in LMDB's
    open, joins the lock file as it was (it is not the first opener, so does not set
    it up anew): with the old last commit id, of either parity."""
    path = tmp_path / "store"
    with memkv.open(path) as mem:
        fill(mem, 3_000)
        while mem.backend.commit_id() % 2 != parity:
            mem.store("tick", mem.backend.commit_id())
    expected = everything(path)
    before = (path / LOCK_FILE).read_bytes()
    memkv.compact(path)
    holder = subprocess.Popen(  # another process with the store open, as far as LMDB knows
        [sys.executable, "-c", HOLD_LOCK, str(path / LOCK_FILE)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline() == "held\n"
        with open(path / LOCK_FILE, "r+b") as lock_file:
            lock_file.write(before)
        with memkv.open(path) as mem:
            assert (snapshot(mem), snapshot(mem.internal)) == expected
            mem.store("after", "written after the compaction")
            assert mem.verify() == []
    finally:
        holder.communicate(timeout=30)
    with memkv.open(path) as mem:  # the first opener again: the lock file set up anew
        assert mem.get("after") is not None
        assert mem.count() == len(expected[0][0]) + 1
        assert mem.verify() == []


def test_compaction_beside_a_process_that_opens_and_writes_the_store(tmp_path: Path) -> None:
    """Compactions refused while the process has the store open, done in between; the
    process, which may wait in its open during one, always reads every entry."""
    path = tmp_path / "store"
    with memkv.open(path) as mem:
        fill(mem, 2_000)
    child = start_worker("reopen", str(path), "1000", "2", script=BACKUP_WORKERS, env=child_env())
    done = refused = 0
    while child.poll() is None:
        try:
            memkv.compact(path)
            done += 1
        except memkv.StoreInUse:
            refused += 1
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, out + err
    assert out.startswith("ok ")
    assert done >= 1, refused
    assert refused >= 1, done
    with memkv.open(path) as mem:
        assert mem.count("filler") == 1_000
        assert mem.verify() == []


# -- bad input ---------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    with memkv.open(path) as mem:
        fill(mem, 200)
    return path


@contextlib.contextmanager
def held_open(store: Path) -> Iterator[None]:
    """The store open in another process (`tests.memkv.workers.hold_open`) while the
    block runs."""
    holder = start_worker("hold-open", str(store), env=child_env(), stdin=subprocess.PIPE)
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline() == "open\n"
        yield
    finally:
        holder.communicate(timeout=30)


def files_under(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` but the lock file, with its content."""
    return {
        str(file.relative_to(directory)): file.read_bytes() if file.is_file() else b"<dir>"
        for file in sorted(directory.rglob("*"))
        if file.name != LOCK_FILE
    }


@pytest.mark.parametrize("kind", ["directory", "file", "dangling link", "the store"])
def test_a_backup_destination_that_exists_is_refused(
    store: Path, tmp_path: Path, kind: str
) -> None:
    dest = store if kind == "the store" else tmp_path / "dest"
    if kind == "directory":
        dest.mkdir()
    elif kind == "file":
        dest.write_text("kept")
    elif kind == "dangling link":
        dest.symlink_to(tmp_path / "nowhere")
    before = files_under(tmp_path)
    with memkv.open(store) as mem:
        raises_naming(memkv.InvalidArgument, f"{dest} exists", lambda: mem.backup(dest))
    assert files_under(tmp_path) == before


def test_a_backup_destination_inside_the_store_is_refused(store: Path, tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(store)
    before = files_under(tmp_path)
    with memkv.open(store) as mem:
        for dest in (store / "backup", tmp_path / "link" / "backup"):
            raises_naming(memkv.InvalidArgument, "inside", functools.partial(mem.backup, dest))
    assert files_under(tmp_path) == before


def test_a_backup_destination_without_its_directory_is_refused(store: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("kept")
    before = files_under(tmp_path)
    with memkv.open(store) as mem:
        raises_naming(
            memkv.NotFound,
            f"no directory {tmp_path / 'none'}",
            lambda: mem.backup(tmp_path / "none" / "backup"),
        )
        raises_naming(
            memkv.InvalidArgument,
            "is not a directory",
            lambda: mem.backup(tmp_path / "file" / "backup"),
        )
        for dest in (None, b"bytes", "", 7):
            with pytest.raises(memkv.InvalidArgument):
                mem.backup(dest)  # type: ignore[arg-type]
    assert files_under(tmp_path) == before


@pytest.mark.parametrize("backend", ["in-memory", "postgres"])
def test_a_store_without_files_has_no_backup(backend: str, tmp_path: Path) -> None:
    with open_backend(backend, tmp_path) as mem:
        mem.store("user/name", "Ada")
        before = snapshot(mem)
        raises_naming(memkv.Unsupported, "export_jsonl", lambda: mem.backup(tmp_path / "copy"))
        assert snapshot(mem) == before
    assert not (tmp_path / "copy").exists()
    location = memkv.IN_MEMORY if backend == "in-memory" else postgres.dsn()
    raises_naming(memkv.Unsupported, "export_jsonl", lambda: memkv.compact(location))


def test_compact_refuses_a_store_open_in_another_process(store: Path) -> None:
    before = everything(store)
    data = store / DATA_FILE
    identity = (data.stat().st_ino, hashlib.sha256(data.read_bytes()).digest())
    with held_open(store):
        raises_naming(memkv.StoreInUse, "open in another process", lambda: memkv.compact(store))
        assert (data.stat().st_ino, hashlib.sha256(data.read_bytes()).digest()) == identity
    assert not (store / COMPACTING).exists()
    assert everything(store) == before


def test_compact_refuses_a_store_open_in_this_process(store: Path) -> None:
    with memkv.open(store, readonly=True):
        raises_naming(memkv.StoreInUse, "open in this process", lambda: memkv.compact(store))
    memkv.compact(store)  # once closed


def test_compact_needs_a_store(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("kept")
    raises_naming(memkv.NotFound, "no store at", lambda: memkv.compact(tmp_path / "none"))
    with pytest.raises(memkv.StoreUnavailable):
        memkv.compact(tmp_path / "empty")
    with pytest.raises(memkv.StoreUnavailable):
        memkv.compact(tmp_path / "file")
    with pytest.raises(memkv.InvalidArgument):
        memkv.compact("")
    assert list((tmp_path / "empty").iterdir()) == []
    assert not (tmp_path / "none").exists()
    raises_naming(memkv.Unsupported, "in-memory", lambda: memkv.compact(memkv.IN_MEMORY))


# -- an interrupted backup ----------------------------------------------------------------


def backup_kills(directory: Path, cycles: int, seed: int) -> None:
    """``memkv backup`` SIGKILLed at random moments: the destination is absent or a
    whole store; only the temporary directory of a cut-short run is left beside it."""
    rng = random.Random(seed)
    path = directory / "store"
    with memkv.open(path, recall=False) as mem:
        fill(mem, 10_000)
    expected = everything(path)
    started = time.monotonic()
    subprocess.run(
        [MEMKV, "backup", str(path), str(directory / "first")], check=True, capture_output=True
    )
    whole_run = time.monotonic() - started
    for cycle in range(cycles):
        dest = directory / f"backup-{cycle}"
        child = subprocess.Popen(
            [MEMKV, "backup", str(path), str(dest)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        time.sleep(rng.uniform(0, whole_run))
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
        if dest.exists():
            assert everything(dest) == expected
    left = {name for name in os.listdir(directory) if not name.startswith("backup-")}
    assert {name for name in left if not name.endswith(".partial")} == {"store", "first"}
    assert everything(path) == expected


def test_sigkill_during_backup_leaves_no_half_store(tmp_path: Path) -> None:
    backup_kills(tmp_path, cycles=6, seed=1)


# -- the commands ---------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_backup_and_compact_commands(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = everything(store)
    for dest, options in (("copy", []), ("whole", ["--no-compact"])):
        code, out, err = run(capsys, "backup", str(store), str(tmp_path / dest), *options)
        assert (code, err) == (0, "")
        assert out.startswith(f"{store} -> {tmp_path / dest}: data file ")
        assert everything(tmp_path / dest) == expected
    code, out, _ = run(capsys, "compact", str(tmp_path / "whole"))
    assert code == 0
    assert out.startswith(f"compacted {tmp_path / 'whole'}: data file ")
    assert everything(tmp_path / "whole") == expected


@pytest.mark.parametrize(
    ("argv", "status"),
    [
        (["backup", "{store}", "{copy}"], 2),  # exists
        (["backup", "{store}", "{store}/inner"], 2),
        (["backup", "{store}", "{none}/copy"], 1),
        (["backup", "{none}", "{new}"], 1),
        (["backup", ":memory:", "{new}"], 3),
        (["compact", "{none}"], 1),
        (["compact", ":memory:"], 3),
    ],
)
def test_backup_and_compact_failures_are_one_line(
    argv: list[str],
    status: int,
    store: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "copy").mkdir()
    places = {"store": store, "copy": tmp_path / "copy", "none": tmp_path / "none"}
    places["new"] = tmp_path / "new"
    before = files_under(tmp_path)
    code, out, err = run(capsys, *[arg.format(**places) for arg in argv])
    assert (code, out) == (status, "")
    assert err.count("\n") == 1, err
    assert err.startswith("memkv: error: ")
    assert files_under(tmp_path) == before


def test_compact_command_refuses_a_store_in_use(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with held_open(store):
        code, _, err = run(capsys, "compact", str(store))
    assert code == 3
    assert "open in another process" in err
