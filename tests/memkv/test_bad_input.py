"""Bad input: each case raises a typed memkv error naming the key or path, and the
store is unchanged afterwards."""

from __future__ import annotations

import functools
import inspect
import operator
import os
import pwd
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import lmdb
import pytest

import memkv
from memkv.backends.base import Table
from tests.memkv.helpers import child_env, put_raw, raises_naming, snapshot

Case = tuple[type[Exception], str, Callable[[memkv.Memory], object]]


def holds_itself() -> list[object]:
    loop: list[object] = [1]
    loop.append(loop)
    return loop


# (error type, text the message must contain, the call)
CASES: dict[str, Case] = {
    "empty key": (memkv.InvalidKey, "empty", lambda m: m.store("", 1)),
    "512-byte key": (memkv.InvalidKey, "512 bytes", lambda m: m.store("k" * 512, 1)),
    "257-byte key": (memkv.InvalidKey, "257 bytes", lambda m: m.store("k" * 257, 1)),
    "lone surrogate": (memkv.InvalidKey, "'a\\ud800'", lambda m: m.store("a\ud800", 1)),
    "bytes key": (memkv.InvalidKey, "b'raw'", lambda m: m.store(b"raw", 1)),  # type: ignore[arg-type]
    "int key": (memkv.InvalidKey, "int", lambda m: m.get(42)),  # type: ignore[arg-type]
    "None key": (memkv.InvalidKey, "NoneType", lambda m: m.forget(None)),  # type: ignore[arg-type]
    "list key": (memkv.InvalidKey, "list", lambda m: m.get(["k"])),  # type: ignore[arg-type]
    "unencodable content": (memkv.InvalidContent, "'obj'", lambda m: m.store("obj", object())),
    "complex content": (memkv.InvalidContent, "'cx'", lambda m: m.insert("cx", 1j)),
    "content holding itself": (
        memkv.InvalidContent,
        "'loop'",
        lambda m: m.store("loop", holds_itself()),
    ),
    "content holding itself, in transact": (
        memkv.InvalidContent,
        "'loop'",
        lambda m: m.transact(lambda tx: tx.store("loop", {"me": holds_itself()})),
    ),
    "wrong type=": (memkv.TypeMismatch, "'text'", lambda m: m.get("text", type=int)),
    "type= not a type": (memkv.InvalidArgument, "type=42", lambda m: m.get("text", type=42)),
    "list type= not a type": (memkv.InvalidArgument, "type=", lambda m: m.list(type={"x": 1})),
    "type= an empty str": (memkv.InvalidArgument, "type=''", lambda m: m.get("text", type="")),
    "type= a str with NUL": (memkv.InvalidArgument, "type=", lambda m: m.get("text", type="a\0")),
    "negative limit": (memkv.InvalidArgument, "limit", lambda m: m.list("core", limit=-5)),
    "string limit": (memkv.InvalidArgument, "'10'", lambda m: m.list(limit="10")),  # type: ignore[arg-type]
    "bool limit": (memkv.InvalidArgument, "True", lambda m: m.list(limit=True)),
    "int cursor": (memkv.InvalidArgument, "after=", lambda m: m.list(after=123)),  # type: ignore[arg-type]
    "empty cursor": (memkv.InvalidArgument, "after=", lambda m: m.list(after="")),
    "non-str prefix": (memkv.InvalidArgument, "prefix", lambda m: m.list(prefix=b"x")),  # type: ignore[arg-type]
    "empty category": (memkv.InvalidArgument, "category", lambda m: m.store("k", 1, category="")),
    "NUL in category": (memkv.InvalidArgument, "'a\\x00b'", lambda m: m.count("a\x00b")),
    "long session id": (
        memkv.InvalidArgument,
        "session_id",
        lambda m: m.store("k", 1, session_id="s" * 65),
    ),
    "int session id": (memkv.InvalidArgument, "session_id", lambda m: m.list(session_id=7)),  # type: ignore[arg-type]
    "insert of a present key": (memkv.Conflict, "'text'", lambda m: m.insert("text", "again")),
    "nested transaction": (
        memkv.NestedTransaction,
        "already open",
        lambda m: m.transact(lambda tx: m.store("inner", 1)),
    ),
    "bad key inside transact": (
        memkv.InvalidKey,
        "empty",
        lambda m: m.transact(lambda tx: (tx.store("fine", 1), tx.store("", 2))),
    ),
}


@pytest.fixture
def seeded(memory: memkv.Memory) -> memkv.Memory:
    memory.store("text", "hello", session_id="s1")
    memory.store("other", {"n": 1}, category="misc")
    return memory


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_raises_typed_error_and_changes_nothing(seeded: memkv.Memory, case: str) -> None:
    error, needle, call = CASES[case]
    before = snapshot(seeded)
    exc = raises_naming(error, needle, lambda: call(seeded))
    assert isinstance(exc, memkv.MemkvError)
    assert snapshot(seeded) == before
    assert seeded.verify() == []


def test_use_after_close_names_the_store(memory: memkv.Memory) -> None:
    memory.store("k", 1)
    location = memory.backend.location
    memory.close()
    raises_naming(memkv.StoreClosed, location, lambda: memory.get("k"))
    raises_naming(memkv.StoreClosed, location, lambda: memory.store("k", 2))
    # a closed store says so before it judges the arguments
    raises_naming(memkv.StoreClosed, location, lambda: memory.get(""))
    raises_naming(memkv.StoreClosed, location, lambda: memory.list(limit=0))
    raises_naming(memkv.StoreClosed, location, lambda: memory.keys(after=""))
    raises_naming(memkv.StoreClosed, location, lambda: memory.count(category=""))


@pytest.mark.parametrize(
    "garbage",
    [b"\xc1", b"not msgpack at all", b"\x81\xa3key\xa1k", b"\x80"],
    ids=["reserved byte", "text", "fields missing", "empty map"],
)
def test_corrupt_record_is_reported_never_taken_for_absent(
    memory: memkv.Memory, garbage: bytes
) -> None:
    memory.store("good", 1)
    put_raw(memory, b"bad", garbage)
    exc = raises_naming(memkv.CorruptRecord, "'bad'", lambda: memory.get("bad"))
    assert isinstance(exc, memkv.CorruptRecord)
    assert exc.key == "bad"
    assert exc.__cause__ is not None
    raises_naming(memkv.CorruptRecord, "'bad'", memory.list)
    raises_naming(memkv.Conflict, "'bad'", lambda: memory.insert("bad", "new"))
    assert any("'bad'" in problem for problem in memory.verify())
    entry = memory.get("good")
    assert entry is not None
    assert entry.content == 1


def _damage(memory: memkv.Memory, key: str) -> None:
    """Overwrite the stored record of ``key`` (its indexes untouched) with garbage."""
    put_raw(memory, key.encode(), b"\xc1 damaged")


def _indexed_store(memory: memkv.Memory) -> None:
    memory.store("keep", 1, "notes", "s-1")
    memory.store("bad", 2, "notes", "s-1")
    memory.store("other", 3, "facts")


def _consistent_without_bad(memory: memkv.Memory) -> None:
    assert memory.get("bad") is None
    assert memory.verify() == []
    assert memory.keys() == ["keep", "other"]
    assert memory.count() == 2
    assert memory.categories() == {"facts": 1, "notes": 1}
    assert memory.sessions() == {"s-1": 1}
    assert memory.keys("notes", "s-1") == ["keep"]


def test_forget_removes_a_corrupt_record_and_its_index_entries(memory: memkv.Memory) -> None:
    _indexed_store(memory)
    _damage(memory, "bad")
    raises_naming(memkv.CorruptRecord, "'bad'", memory.list)
    assert memory.forget("bad") is True
    _consistent_without_bad(memory)
    assert memory.forget("bad") is False


def test_store_over_a_corrupt_record_replaces_it(memory: memkv.Memory) -> None:
    _indexed_store(memory)
    _damage(memory, "bad")
    entry = memory.store("bad", "again", "facts")
    assert memory.get("bad") == entry
    assert memory.verify() == []
    assert memory.categories() == {"facts": 2, "notes": 1}
    assert memory.sessions() == {"s-1": 1}


def test_repair_removes_corrupt_records_and_rebuilds_the_index(memory: memkv.Memory) -> None:
    _indexed_store(memory)
    _damage(memory, "bad")
    put_raw(memory, b"\x03stray\x00", b"", Table.INDEX)  # an index key of no entry
    assert len(memory.verify()) >= 2
    done = memory.repair()
    assert any("removed the record" in line and "'bad'" in line for line in done)
    assert any("belonged to no entry" in line for line in done)
    assert any("restored" in line for line in done)  # the counts that still held 'bad'
    _consistent_without_bad(memory)
    assert memory.repair() == []


def test_repair_of_a_readonly_store_is_refused(tmp_path: Path) -> None:
    with memkv.open(tmp_path / "s") as memory:
        _indexed_store(memory)
    with memkv.open(tmp_path / "s", readonly=True) as memory:
        raises_naming(memkv.ReadOnlyStore, "", memory.repair)


def test_record_stored_under_another_key_is_corrupt(memory: memkv.Memory) -> None:
    memory.store("a", 1)
    record = memory.backend.read(lambda txn: txn.get(Table.ENTRIES, b"a"))
    assert record is not None
    put_raw(memory, b"b", record)
    raises_naming(memkv.CorruptRecord, "names key 'a'", lambda: memory.get("b"))


def test_corrupt_content_can_be_replaced(memory: memkv.Memory) -> None:
    """Only the content is damaged: the entry can still be stored over and forgotten."""
    memory.store("k", "fine")
    record = memory.backend.read(lambda txn: txn.get(Table.ENTRIES, b"k"))
    assert record is not None
    damaged = record.replace(b"\xa4fine", b"\xa4\xff\xfe\xfd\xfc")  # invalid UTF-8 in the str
    assert damaged != record
    put_raw(memory, b"k", damaged)
    raises_naming(memkv.CorruptRecord, "'k'", lambda: memory.get("k"))
    memory.store("k", "repaired")
    entry = memory.get("k")
    assert entry is not None
    assert entry.content == "repaired"


# -- options -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"mapsize": 1 << 20}, "did you mean 'map_size'"),
        ({"durability": "sometimes"}, "durability 'sometimes'"),
        ({"map_size": 0}, "map_size"),
        ({"cache_size": -1}, "cache_size"),
        ({"readonly": "yes"}, "readonly"),
        ({"map_size": 1 << 30, "max_map_size": 1 << 20}, "max_map_size"),
        ({"map_size": 1 << 70, "max_map_size": 1 << 71}, "map_size"),  # was an OverflowError
    ],
)
def test_bad_options(tmp_path: Path, options: dict[str, Any], needle: str) -> None:
    raises_naming(memkv.InvalidArgument, needle, lambda: memkv.open(tmp_path / "s", **options))
    assert not (tmp_path / "s").exists()


# -- paths (LMDB) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\t\n", "empty"),
        (None, "NoneType"),
        (42, "int"),
        (b"/tmp/store", "os.fsdecode"),
        (["store"], "list"),
        ("a\0b", "NUL"),
    ],
    ids=repr,
)
@pytest.mark.parametrize("opener", ["memkv.open", "memkv.aio.open", "LmdbBackend"])
def test_a_location_that_is_no_path_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: object, needle: str, opener: str
) -> None:
    """An unset environment variable (``""``) never makes the current directory a
    store; a non-path is a memkv error, not a TypeError."""
    import memkv.aio

    monkeypatch.chdir(tmp_path)
    open_it: Callable[[], object] = {
        "memkv.open": lambda: memkv.open(path),  # type: ignore[arg-type]
        "memkv.aio.open": lambda: memkv.aio.open(path),  # type: ignore[arg-type]
        "LmdbBackend": lambda: memkv.LmdbBackend(
            path,  # type: ignore[arg-type]
            map_size=1 << 20,
            max_map_size=1 << 30,
            durability=memkv.Durability.DURABLE,
            readonly=False,
        ),
    }[opener]
    raises_naming(memkv.InvalidArgument, needle, open_it)
    assert list(tmp_path.iterdir()) == []


def test_a_home_relative_path_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    with memkv.open("~/agent/store") as memory:
        memory.store("k", 1)
        assert memory.backend.location == str(tmp_path / "home" / "agent" / "store")
    assert (tmp_path / "home" / "agent" / "store" / "data.mdb").exists()
    assert not (tmp_path / "~").exists()


def test_a_file_where_the_directory_should_be(tmp_path: Path) -> None:
    path = tmp_path / "store"
    path.write_text("not a store")
    raises_naming(memkv.StoreUnavailable, str(path), lambda: memkv.open(path))
    assert path.read_text() == "not a store"


def test_a_store_another_process_creates_meanwhile_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes opening a new store at once: the one whose mkdir comes second
    opens the directory the first made."""
    path = tmp_path / "store"
    mkdir = Path.mkdir

    def first_made_by_another_process(self: Path, *args: Any, **kwargs: Any) -> None:
        if self == path:
            mkdir(self, mode=0o700)  # the other process wins the race
        mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", first_made_by_another_process)
    with memkv.open(path) as memory:
        memory.store("k", 1)
        assert memory.count() == 1


def test_readonly_open_of_a_missing_store(tmp_path: Path) -> None:
    path = tmp_path / "missing"
    raises_naming(memkv.StoreUnavailable, str(path), lambda: memkv.open(path, readonly=True))
    assert not path.exists()


def test_a_directory_that_is_not_a_memkv_store(tmp_path: Path) -> None:
    env = lmdb.open(str(tmp_path / "foreign"), max_dbs=2, lib_version=0)
    with env.begin(write=True) as txn:
        txn.put(b"someone", b"else's data")
    env.close()
    raises_naming(memkv.StoreUnavailable, "foreign", lambda: memkv.open(tmp_path / "foreign"))


def test_a_store_in_the_other_lmdb_format_is_refused(tmp_path: Path) -> None:
    env = lmdb.open(str(tmp_path / "v1"), lib_version=1)
    env.close()
    exc = raises_naming(memkv.StoreUnavailable, "v1", lambda: memkv.open(tmp_path / "v1"))
    assert "format" in str(exc)


UNREADABLE_SCRIPT = """
import os, sys, memkv
os.setgid(int(sys.argv[2]))
os.setuid(int(sys.argv[3]))  # root reads any directory: open it as an ordinary user
try:
    memkv.open(sys.argv[1])
except memkv.StoreUnavailable as exc:
    print("StoreUnavailable:", exc)
"""


def test_unreadable_directory(tmp_path: Path) -> None:
    path = tmp_path / "locked"
    with memkv.open(path) as mem:
        mem.store("k", 1)
    path.chmod(0o000)
    try:
        if os.geteuid() != 0:
            raises_naming(memkv.StoreUnavailable, str(path), lambda: memkv.open(path))
        else:  # root reads anything: try as an unprivileged user
            nobody = pwd.getpwnam("nobody")
            tmp_path.chmod(0o755)
            result = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    UNREADABLE_SCRIPT,
                    str(path),
                    str(nobody.pw_gid),
                    str(nobody.pw_uid),
                ],
                env=child_env(),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert result.stdout.startswith("StoreUnavailable:"), result.stderr
            assert str(path) in result.stdout
    finally:
        path.chmod(0o700)
    with memkv.open(path) as mem:
        entry = mem.get("k")
        assert entry is not None
        assert entry.content == 1


# -- functions that would not run: async def ---------------------------------------------


async def async_store(tx: memkv.Transaction) -> None:
    tx.store("async", 1)


class AsyncCallable:
    async def __call__(self, tx: memkv.Transaction) -> None:
        tx.store("async", 1)

    async def method(self, tx: memkv.Transaction) -> None:
        tx.store("async", 1)


async def async_generator(tx: memkv.Transaction) -> AsyncIterator[None]:
    tx.store("async", 1)
    yield


def generator(tx: memkv.Transaction) -> Iterator[None]:
    tx.store("generator", 1)
    yield


NOT_RUN_WHEN_CALLED: dict[str, Callable[[Any], Any]] = {
    "async def": async_store,
    "async lambda in a partial": functools.partial(async_store),
    "partial of a partial": functools.partial(functools.partial(async_store)),
    "object with an async __call__": AsyncCallable(),
    "bound async method": AsyncCallable().method,
    "async generator function": async_generator,
    "generator function": generator,
}


@pytest.mark.parametrize("case", sorted(NOT_RUN_WHEN_CALLED))
def test_a_function_whose_body_would_not_run_is_refused_before_anything_runs(
    seeded: memkv.Memory, case: str
) -> None:
    """An ``async def`` given to ``transact`` used to return a coroutine, write
    nothing and raise nothing."""
    fn = NOT_RUN_WHEN_CALLED[case]
    before = snapshot(seeded)
    raises_naming(memkv.InvalidArgument, "async def", lambda: seeded.transact(fn))
    raises_naming(memkv.InvalidArgument, "async def", lambda: seeded.snapshot(fn))
    raises_naming(
        memkv.InvalidArgument, "async def", lambda: seeded.submit(fn, lambda _outcome: None)
    )
    assert snapshot(seeded) == before


def test_a_function_returning_a_coroutine_rolls_back_and_closes_it(
    seeded: memkv.Memory,
) -> None:
    """The backstop: a plain def that returns a coroutine fails its transaction, and
    the coroutine is closed (no "never awaited" warning)."""
    made: list[Coroutine[Any, Any, None]] = []

    def writes_then_returns_a_coroutine(tx: memkv.Transaction) -> object:
        tx.store("half", 1)
        made.append(async_store(tx))
        return made[-1]

    before = snapshot(seeded)
    raises_naming(
        memkv.InvalidArgument,
        "awaitable",
        lambda: seeded.transact(writes_then_returns_a_coroutine),
    )
    assert snapshot(seeded) == before
    assert made
    assert all(inspect.getcoroutinestate(coroutine) == "CORO_CLOSED" for coroutine in made)
    raises_naming(
        memkv.InvalidArgument,
        "awaitable",
        lambda: seeded.snapshot(reads_later),
    )
    seeded.store("after", 1)  # the writer keeps working
    assert seeded.get("after") is not None


async def async_count(view: memkv.Reader) -> int:
    return view.count()


def reads_later(view: memkv.Reader) -> Coroutine[Any, Any, int]:
    return async_count(view)


def test_plain_callables_of_every_shape_still_run(memory: memkv.Memory) -> None:
    class Store:
        def __call__(self, tx: memkv.Transaction) -> str:
            return tx.store("object", 1).key

        def method(self, tx: memkv.Transaction) -> str:
            return tx.store("method", 1).key

    def store(key: str, tx: memkv.Transaction) -> str:
        return tx.store(key, 1).key

    assert memory.transact(Store()) == "object"
    assert memory.transact(Store().method) == "method"
    assert memory.transact(functools.partial(store, "partial")) == "partial"
    assert memory.transact(lambda tx: (x for x in [1, 2])) is not None  # a generator result
    assert memory.snapshot(operator.methodcaller("count")) == 3
    raises_naming(memkv.InvalidArgument, "callable", lambda: memory.transact(42))  # type: ignore[arg-type]


# -- views used after their function ---------------------------------------------------------


def test_a_snapshot_view_used_after_its_function_returned(seeded: memkv.Memory) -> None:
    view = seeded.snapshot(lambda view: view)
    reads: list[Callable[[], object]] = [
        lambda: view.get("text"),
        view.list,
        view.keys,
        view.count,
        view.categories,
        view.sessions,
    ]
    for read in reads:
        raises_naming(memkv.TransactionClosed, "snapshot has ended", read)
    tx = seeded.transact(lambda tx: tx)
    raises_naming(memkv.TransactionClosed, "ended", lambda: tx.get("text"))
    raises_naming(memkv.TransactionClosed, "ended", lambda: tx.store("k", 1))
    assert seeded.snapshot(lambda view: view.count()) == 2  # the store is fine
