"""`MemkvExampleDatabase`: hypothesis's contract (a stateful agreement with its own
`InMemoryExampleDatabase`), a real hypothesis run that replays its failure from the
store, four processes at once, change listening, and ``memkv hypothesis``."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.database import InMemoryExampleDatabase
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import memkv
from memkv.cli import main
from memkv.testing.hypothesis_db import (
    MAX_PLAIN_KEY,
    MemkvExampleDatabase,
    describe_key,
    examples_by_key,
)
from tests.memkv.helpers import child_env

WORKERS = Path(__file__).with_name("workers.py")

KEYS = st.sampled_from([b"", b"a", b"b", b"\x00\xff", b"k" * (MAX_PLAIN_KEY + 20)])
VALUES = st.binary(max_size=6)


class AgreesWithHypothesisOwnDatabase(RuleBasedStateMachine):
    """Every rule applied to both; after each, every key fetches the same values."""

    @initialize()
    def open(self) -> None:
        import tempfile

        self.directory = tempfile.mkdtemp(prefix="memkv-exampledb-")
        self.db = MemkvExampleDatabase(self.directory, flush_interval=0.002)
        self.model = InMemoryExampleDatabase()

    @rule(key=KEYS, value=VALUES)
    def save(self, key: bytes, value: bytes) -> None:
        self.db.save(key, value)
        self.model.save(key, value)

    @rule(key=KEYS, value=VALUES)
    def delete(self, key: bytes, value: bytes) -> None:
        self.db.delete(key, value)
        self.model.delete(key, value)

    @rule(src=KEYS, dest=KEYS, value=VALUES)
    def move(self, src: bytes, dest: bytes, value: bytes) -> None:
        self.db.move(src, dest, value)
        self.model.move(src, dest, value)

    @rule()
    def flush(self) -> None:
        self.db.flush()

    @rule()
    def reopen(self) -> None:
        """A new database object on the same store, as the next test run has."""
        self.db.close()
        self.db = MemkvExampleDatabase(self.directory, flush_interval=0.002)

    @rule(key=KEYS)
    def fetch_from_another_process_view(self, key: bytes) -> None:
        """After a flush, a second database object (another process's view) agrees."""
        self.db.flush()
        with MemkvExampleDatabase(self.directory) as other:
            assert sorted(other.fetch(key)) == sorted(self.model.fetch(key))

    @invariant()
    def fetches_agree(self) -> None:
        for key in [b"", b"a", b"b", b"\x00\xff", b"k" * (MAX_PLAIN_KEY + 20)]:
            found = list(self.db.fetch(key))
            assert len(found) == len(set(found)), f"{key!r} holds a value twice"
            assert sorted(found) == sorted(self.model.fetch(key)), key

    def teardown(self) -> None:
        import shutil

        if hasattr(self, "db"):
            self.db.close()
            shutil.rmtree(self.directory, ignore_errors=True)


AgreesWithHypothesisOwnDatabase.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None
)
test_agrees_with_hypothesis_own_database = AgreesWithHypothesisOwnDatabase.TestCase


def test_fetch_during_a_flush_sees_every_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The background flush commits a batch between `fetch`'s read of the store and
    its read of the pending changes: the flushed values are in neither read unless
    the pending changes are read first (the stateful test above met this by timing)."""
    key = b"k" * (MAX_PLAIN_KEY + 20)
    db = MemkvExampleDatabase(tmp_path / "examples", flush_interval=3600)
    db.save(key, b"v1")
    db.save(key, b"gone")
    db.flush()
    db.save(key, b"v2")
    db.save(key, b"v3")
    db.delete(key, b"gone")
    memory = db.memory
    read_store = memory.list

    def read_then_flush(*args: Any, **kwargs: Any) -> Any:
        entries = read_store(*args, **kwargs)
        db.flush()  # as the flusher thread would, at this very moment
        return entries

    monkeypatch.setattr(memory, "list", read_then_flush)
    assert sorted(db.fetch(key)) == [b"v1", b"v2", b"v3"]
    monkeypatch.undo()
    assert sorted(db.fetch(key)) == [b"v1", b"v2", b"v3"]
    db.close()


def test_a_real_run_replays_its_failure_first_from_the_store(tmp_path: Path) -> None:
    seen: list[int] = []

    def check(n: int) -> None:
        seen.append(n)
        assert n < 1000

    def run_with(database: MemkvExampleDatabase) -> None:
        test = settings(database=database, derandomize=False, max_examples=500)(
            given(st.integers())(check)
        )
        with pytest.raises(AssertionError):
            test()

    first = MemkvExampleDatabase(tmp_path / "examples")
    run_with(first)
    assert seen[-1] == 1000  # shrunk to the smallest failure, replayed last
    first.close()
    with memkv.open(tmp_path / "examples") as mem:
        assert sum(len(sizes) for sizes in examples_by_key(mem).values()) >= 1
    seen.clear()
    run_with(MemkvExampleDatabase(tmp_path / "examples"))
    assert seen[0] == 1000  # the stored failure comes first, before any new example


def test_four_processes_save_and_delete_at_once(tmp_path: Path) -> None:
    path = tmp_path / "examples"
    rounds = 150
    endings = ["close", "close", "exit", "exit"]
    children = [
        subprocess.Popen(
            [sys.executable, str(WORKERS), "saver", str(path), str(w), str(rounds), ending],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for w, ending in enumerate(endings)
    ]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert out == "done\n"
        assert err == ""
    db = MemkvExampleDatabase(path)
    shared, moved = set(db.fetch(b"shared")), set(db.fetch(b"moved"))
    for w in range(4):
        values = [f"{w}-{n}".encode() for n in range(rounds)]
        own = {v for n, v in enumerate(values) if n % 3 != 0}
        assert set(db.fetch(f"own-{w}".encode())) == own
        assert {v for v in values if v in moved} == {v for n, v in enumerate(values) if n % 5 == 0}
        assert {v for v in values if v in shared} == {v for n, v in enumerate(values) if n % 5 != 0}
    assert len(shared) == 4 * rounds * 4 // 5
    db.close()


def test_listeners_hear_this_process_and_others(tmp_path: Path) -> None:
    path = tmp_path / "examples"
    listening = MemkvExampleDatabase(path)
    heard: list[Any] = []
    arrived = threading.Event()

    def listener(event: Any) -> None:
        heard.append(event)
        if len(heard) >= 4:
            arrived.set()

    listening.add_listener(listener)
    listening.save(b"k", b"mine")  # heard at once
    listening.save(b"k", b"mine")  # a repeat changes nothing: not heard
    assert heard == [("save", (b"k", b"mine"))]
    other = MemkvExampleDatabase(path)  # another process's view of the store
    other.save(b"k", b"theirs")
    other.move(b"k", b"j", b"mine")
    other.flush()
    assert arrived.wait(10)
    assert heard[1:] == [
        ("save", (b"k", b"theirs")),
        ("delete", (b"k", b"mine")),
        ("save", (b"j", b"mine")),
    ]
    listening.remove_listener(listener)
    other.save(b"k", b"unheard")
    other.flush()
    time.sleep(0.3)
    assert len(heard) == 4
    other.close()
    listening.close()


def test_memkv_hypothesis_lists_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "examples"
    with MemkvExampleDatabase(path) as db:
        db.save(bytes(range(16)) + b".secondary", b"abc")
        db.save(b"plain", b"12345")
        db.save(b"plain", b"1")
    assert main(["hypothesis", str(path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {"key": bytes(range(16)).hex() + ".secondary", "examples": 1, "bytes": 3},
        {"key": "plain", "examples": 2, "bytes": 6},
    ]
    assert main(["hypothesis", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "plain" in out
    assert "2 key(s), 3 example(s)" in err
    assert describe_key(b"\x00\x01") == "0001"


def test_bad_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(memkv.InvalidArgument, match="flush_interval"):
        MemkvExampleDatabase(tmp_path, flush_interval=-1)
    with pytest.raises(memkv.InvalidArgument, match="name"):
        MemkvExampleDatabase(tmp_path, name="")
    assert MemkvExampleDatabase(tmp_path) == MemkvExampleDatabase(tmp_path)
    assert MemkvExampleDatabase(tmp_path, name="a") != MemkvExampleDatabase(tmp_path, name="b")


def test_an_empty_path_is_refused_not_taken_for_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(memkv.InvalidArgument, match="empty"):
        MemkvExampleDatabase("")
    assert list(tmp_path.iterdir()) == []
