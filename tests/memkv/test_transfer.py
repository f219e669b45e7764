"""Export and import as JSON Lines (`memkv.transfer`), on every backend: entries come
back exactly, filters export what they match, an export is one snapshot while writers
run, bad files are refused whole, and the ``memkv export`` / ``memkv import`` commands."""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memkv
import memkv.aio
from memkv.backends.base import ReadTxn, T
from memkv.cli import main
from memkv.entry import encode_entry
from memkv.keys import encode_key, pack
from memkv.testing import strategies as mst
from memkv.transfer import IMPORT_BATCH, PROBLEMS_NAMED
from tests.conftest import BACKENDS, open_backend
from tests.memkv.helpers import DelegatingBackend, put_raw, raises_naming, snapshot

# -- helpers ---------------------------------------------------------------------------


class Note(msgspec.Struct, frozen=True, kw_only=True):
    title: str
    when: datetime


def seed(memory: memkv.Memory, entries: list[memkv.MemoryEntry[Any]]) -> None:
    """Store ``entries`` as they are: ids, timestamps and expiry included."""
    memory.transact(
        lambda tx: [
            tx._restore(entry, encode_key(entry.key), encode_entry(entry), "replace")
            for entry in entries
        ]
    )


def clear(memory: memkv.Memory) -> None:
    memory.transact(lambda tx: [tx.forget(key) for key in tx.keys(limit=None)])


def exact(entries: list[memkv.MemoryEntry[Any]]) -> list[bytes]:
    """Entries as msgpack: equal exactly when every field is (NaN, -0.0 and types too)."""
    return [msgspec.msgpack.encode(entry) for entry in entries]


def exported(memory: memkv.Memory, **filters: Any) -> list[dict[str, Any]]:
    buffer = io.BytesIO()
    count = memory.export_jsonl(buffer, **filters)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert count == len(lines)
    return lines


def entry(key: str, content: Any = "text", **fields: Any) -> memkv.MemoryEntry[Any]:
    values: dict[str, Any] = {
        "id": "0" * 31 + "1",
        "category": "core",
        "timestamp": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    }
    return memkv.MemoryEntry(key=key, content=content, **(values | fields))


def line_of(item: memkv.MemoryEntry[Any], **changes: Any) -> str:
    """The export line of ``item``, with fields changed (``...``: left out)."""
    record: dict[str, Any] = {
        "id": item.id,
        "key": item.key,
        "content": item.content,
        "category": item.category,
        "timestamp": item.timestamp.isoformat(),
        "session_id": item.session_id,
        "expires_at": None,
    }
    record |= changes
    return json.dumps({name: value for name, value in record.items() if value is not ...})


def write_lines(path: Path, lines: list[str], *, end: str = "\n") -> Path:
    path.write_text("\n".join(lines) + end)
    return path


# -- the round trip, every backend -------------------------------------------------------

# One pair of stores per backend for the module: hypothesis runs many examples.


@pytest.fixture(scope="module", params=BACKENDS)
def stores(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[memkv.Memory, memkv.Memory]]:
    with (
        open_backend(request.param, tmp_path_factory.mktemp("source")) as source,
        open_backend(request.param, tmp_path_factory.mktemp("target")) as target,
    ):
        yield source, target


def awkward_contents() -> st.SearchStrategy[Any]:
    """What msgpack holds and JSON cannot say exactly, at any depth: NaN, infinities,
    -0.0, bytes, datetimes, extensions, maps with int or bytes keys; and what reads
    back as another type (a Struct as a map, a tuple as a list)."""
    leaves = st.one_of(
        mst.scalars(),
        st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0]),
        st.builds(msgspec.msgpack.Ext, st.integers(0, 127), st.binary(max_size=4)),
        st.builds(Note, title=st.text(max_size=6), when=mst.utc_datetimes()),
        st.tuples(st.integers(mst.INT64_MIN, mst.UINT64_MAX), st.text(max_size=3)),
    )
    map_keys = st.one_of(st.text(max_size=4), st.integers(-3, 3), st.binary(max_size=3))
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(map_keys, inner, max_size=4),
        max_leaves=10,
    )


def any_entries() -> st.SearchStrategy[memkv.MemoryEntry[Any]]:
    """Entries with every content the strategies make and then some, packed keys among
    the keys, and an expiry or none (in the future: an expired entry is invisible)."""
    expiries = st.none() | st.datetimes(
        datetime(2100, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC)
    )
    return st.builds(
        memkv.MemoryEntry,
        id=mst.entry_ids(),
        key=mst.keys() | mst.packed_keys(),
        content=mst.contents() | awkward_contents(),
        category=st.sampled_from(["core", "daily", "notes"]) | mst.categories(),
        timestamp=mst.utc_datetimes(),
        session_id=st.sampled_from([None, "s1", "s2"]) | mst.session_ids(),
        expires_at=expiries,
    )


ENTRY_LISTS = st.lists(any_entries(), max_size=12, unique_by=lambda item: item.key)


@given(entries=ENTRY_LISTS)
@settings(max_examples=40)
def test_export_then_import_gives_back_every_entry_exactly(
    stores: tuple[memkv.Memory, memkv.Memory], entries: list[memkv.MemoryEntry[Any]]
) -> None:
    source, target = stores
    clear(source)
    clear(target)
    seed(source, entries)
    buffer = io.BytesIO()
    assert source.export_jsonl(buffer) == len(entries)
    buffer.seek(0)
    report = target.import_jsonl(buffer)
    assert report == memkv.ImportReport(
        lines=len(entries), imported=len(entries), skipped=0, replaced=0
    )
    assert exact(target.list()) == exact(source.list())
    assert len(target.list()) == len(entries)
    for item in entries:  # id, timestamp and expiry as they were
        got = target.get(item.key)
        assert got is not None
        assert (got.id, got.timestamp, got.expires_at) == (item.id, item.timestamp, item.expires_at)
    assert (target.count(), target.categories(), target.sessions()) == (
        source.count(),
        source.categories(),
        source.sessions(),
    )
    assert target.verify() == []


def test_plain_content_is_plain_json_and_the_rest_is_tagged(memory: memkv.Memory) -> None:
    plain: dict[str, Any] = {
        "text": "Ada",
        "int": 2**64 - 1,
        "float": 1.5,
        "negative zero": -0.0,
        "list": [1, "two", None, True, {"k": [2.5]}],
        "map": {"a": {"b": []}},
    }
    tagged: dict[str, Any] = {
        "bytes": b"\x00\xff",
        "nan": float("nan"),
        "inf": float("-inf"),
        "datetime": datetime(2026, 1, 2, tzinfo=UTC),
        "int keys": {1: "one"},
        "nested bytes": {"a": [1, b"x"]},
        "ext": msgspec.msgpack.Ext(5, b"ab"),
    }
    for key, content in (plain | tagged).items():
        memory.store(key, content)
    lines = {line["key"]: line for line in exported(memory)}
    for key, content in plain.items():
        assert "content_msgpack" not in lines[key]
        assert lines[key]["content"] == content
    for key, content in tagged.items():
        assert "content" not in lines[key]
        raw = base64.b64decode(lines[key]["content_msgpack"])
        assert msgspec.msgpack.encode(msgspec.msgpack.decode(raw)) == msgspec.msgpack.encode(
            content
        )
    assert set(lines["text"]) == {
        "id",
        "key",
        "content",
        "category",
        "timestamp",
        "session_id",
        "expires_at",
    }


def test_the_file_is_printable_and_packed_keys_read_back(memory: memkv.Memory) -> None:
    key = pack(("sop", "step", "run\x00\x01-7", -5))
    memory.store(key, "a\x1b[2J\u202e\x7f\x85 end\n", session_id="s\u2028")
    buffer = io.BytesIO()
    memory.export_jsonl(buffer)
    text = buffer.getvalue().decode("utf-8")
    assert text.endswith("\n")
    assert text[:-1].isprintable()  # every control, bidi and separator escaped
    line = json.loads(text)
    assert (line["key"], line["content"], line["session_id"]) == (
        key,
        "a\x1b[2J\u202e\x7f\x85 end\n",
        "s\u2028",
    )


# -- filters -------------------------------------------------------------------------------


@given(entries=ENTRY_LISTS, data=st.data())
@settings(max_examples=40)
def test_filters_export_exactly_the_matching_entries(
    stores: tuple[memkv.Memory, memkv.Memory],
    entries: list[memkv.MemoryEntry[Any]],
    data: st.DataObject,
) -> None:
    source, _ = stores
    clear(source)
    seed(source, entries)
    categories = sorted({item.category for item in entries}) or ["core"]
    sessions = sorted({item.session_id for item in entries if item.session_id}) or ["s1"]
    moments = sorted({item.timestamp for item in entries}) or [datetime(2000, 1, 1, tzinfo=UTC)]
    prefixes = [item.key[:n] for item in entries for n in (1, 3)] or ["k"]
    category = data.draw(st.none() | st.sampled_from(categories), "category")
    session_id = data.draw(st.none() | st.sampled_from(sessions), "session_id")
    prefix = data.draw(st.none() | st.sampled_from(prefixes), "prefix")
    since = data.draw(st.none() | st.sampled_from(moments), "since")
    until = data.draw(st.none() | st.sampled_from(moments), "until")

    def matches(item: memkv.MemoryEntry[Any]) -> bool:
        return (
            category in (None, item.category)
            and session_id in (None, item.session_id)
            and (prefix is None or item.key.encode().startswith(prefix.encode()))
            and (since is None or item.timestamp >= since)
            and (until is None or item.timestamp < until)
        )

    expected = sorted((item.key for item in entries if matches(item)), key=str.encode)
    lines = exported(
        source,
        category=category,
        session_id=session_id,
        prefix=prefix,
        since=since,
        until=until,
    )
    assert [line["key"] for line in lines] == expected


def test_an_export_spanning_many_pages_writes_each_entry_once(
    memory: memkv.Memory, tmp_path: Path
) -> None:
    count = 2 * 1000 + 17  # more than two of the export's pages
    memory.transact(
        lambda tx: [
            tx.store(f"k/{i:05d}", {"i": i}, "even" if i % 2 else "odd", f"s{i % 3}")
            for i in range(count)
        ]
    )
    path = tmp_path / "all.jsonl"
    assert memory.export_jsonl(path) == count
    keys = [json.loads(line)["key"] for line in path.read_text().splitlines()]
    assert keys == [f"k/{i:05d}" for i in range(count)]
    by_session = exported(memory, session_id="s1")  # through the session index
    assert [line["key"] for line in by_session] == [f"k/{i:05d}" for i in range(1, count, 3)]
    assert os.stat(path).st_mode & 0o777 == 0o600


# -- one snapshot while writers run ----------------------------------------------------------

COUNTERS = 32
START = 100


def counter_key(i: int) -> str:
    return f"acct/{i:02d}"


def check_snapshot(lines: list[dict[str, Any]]) -> None:
    """The invariants the writers keep, in every transaction: the counters sum to
    their start, and each pair has both halves."""
    counters = [line["content"] for line in lines if line["category"] == "counter"]
    assert len(counters) == COUNTERS
    assert sum(counters) == COUNTERS * START
    halves = {line["key"] for line in lines if line["category"] == "pair"}
    assert {key[:-1] + "b" for key in halves if key.endswith("a")} <= halves
    assert {key[:-1] + "a" for key in halves if key.endswith("b")} <= halves


def move(one: str, other: str, pair: str, number: int, tx: memkv.Transaction) -> None:
    """One unit from counter ``one`` to ``other``, and both halves of ``pair``."""
    taken, given = tx.get(one), tx.get(other)
    assert taken is not None
    assert given is not None
    tx.store(one, taken.content - 1, "counter")
    tx.store(pair + "a", number, "pair")
    tx.store(other, given.content + 1, "counter")
    tx.store(pair + "b", number, "pair")


def run_writers_during_exports(memory: memkv.Memory, writers: int, exports: int) -> None:
    """Counters among filler (so that the export reads them in several pages), then
    ``writers`` threads each moving one unit between two counters and writing a pair of
    keys per transaction, while ``exports`` exports are taken and checked."""
    memory.transact(
        lambda tx: [
            (
                tx.store(counter_key(i), START, "counter"),
                [tx.store(f"{counter_key(i)}/fill/{j:03d}", "x" * 40, "fill") for j in range(80)],
            )
            for i in range(COUNTERS)
        ]
    )
    stop = threading.Event()
    committed = [0] * writers
    failures: list[BaseException] = []

    def write(number: int) -> None:
        rng = random.Random(number)
        try:
            while not stop.is_set():
                one, other = (counter_key(i) for i in rng.sample(range(COUNTERS), 2))
                pair = f"pair/{number:02d}/{committed[number]:06d}/"
                memory.transact(functools.partial(move, one, other, pair, number))
                committed[number] += 1
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    # In memory, a snapshot holds the writers back; elsewhere, exports go on (up to a
    # bound) until writes have committed while one ran, so that the test shows that.
    overlap = memory.backend.name != "in-memory"
    during = taken = 0
    try:
        while min(committed) < 1 and not failures:  # every writer is under way
            stop.wait(0.01)
        while taken < exports or (overlap and not during and taken < 20 * exports):
            before = sum(committed)
            lines = exported(memory)
            during += sum(committed) - before
            taken += 1
            check_snapshot(lines)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures, failures
    assert sum(committed) > writers
    assert during > 0 or not overlap, f"no write committed during {taken} exports"
    check_snapshot(exported(memory))
    assert memory.verify() == []


def test_an_export_while_16_writers_run_is_one_snapshot(memory: memkv.Memory) -> None:
    run_writers_during_exports(memory, writers=16, exports=4)


@pytest.mark.slow
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_an_export_while_16_writers_run_is_one_snapshot_long(
    backend_name: str, tmp_path: Path
) -> None:
    with open_backend(backend_name, tmp_path) as memory:
        run_writers_during_exports(memory, writers=16, exports=60)


class RereadingBackend(DelegatingBackend):
    """Runs every snapshot function twice, as a backend does when a read has to
    start over (LMDB after its map was resized): the first result is dropped."""

    def read(self, fn: Callable[[ReadTxn], T], *, several_reads: bool = False) -> T:
        self.inner.read(fn, several_reads=several_reads)
        return self.inner.read(fn, several_reads=several_reads)


class Stream:
    """A binary stream that cannot seek, as a pipe or a socket."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)


def test_a_snapshot_read_again_rewinds_the_output_or_refuses(
    memory: memkv.Memory, tmp_path: Path
) -> None:
    memory.store("a", 1)
    memory.store("b", 2)
    rereading = memkv.Memory(RereadingBackend(memory.backend))
    path = tmp_path / "out.jsonl"
    assert rereading.export_jsonl(path) == 2
    assert [json.loads(line)["key"] for line in path.read_text().splitlines()] == ["a", "b"]
    seekable = io.BytesIO(b"kept\n")
    seekable.seek(0, io.SEEK_END)
    assert rereading.export_jsonl(seekable) == 2
    assert seekable.getvalue().count(b'"key"') == 2
    assert seekable.getvalue().startswith(b"kept\n")
    stream = Stream()
    raises_naming(memkv.BackendError, "cannot be rewound", lambda: rereading.export_jsonl(stream))  # type: ignore[arg-type]
    assert stream.data.count(b'"key"') == 2  # the first reading's, nothing more


# -- import --------------------------------------------------------------------------------


def test_import_keeps_ids_timestamps_and_indexes(memory: memkv.Memory, tmp_path: Path) -> None:
    items = [
        entry("note/1", "the analytical engine", id="a" * 32, session_id="s1"),
        entry("note/2", {"k": [1]}, id="b" * 32, category="daily"),
    ]
    path = write_lines(tmp_path / "in.jsonl", [line_of(item) for item in items])
    report = memory.import_jsonl(path)
    assert report == memkv.ImportReport(lines=2, imported=2, skipped=0, replaced=0)
    assert exact(memory.list()) == exact(items)
    assert memory.count() == 2
    assert memory.categories() == {"core": 1, "daily": 1}
    assert memory.keys(session_id="s1") == ["note/1"]
    assert [found.key for found in memory.recall("analytical")] == ["note/1"]
    assert memory.verify() == []


def test_import_in_several_batches(memory: memkv.Memory, tmp_path: Path) -> None:
    count = 2 * IMPORT_BATCH + 3
    lines = [line_of(entry(f"k{i:05d}", i, id=f"{i:032x}")) for i in range(count)]
    path = write_lines(tmp_path / "in.jsonl", lines, end="")  # no final newline: fine
    assert memory.import_jsonl(path).imported == count
    assert memory.count() == count
    assert memory.keys()[-1] == f"k{count - 1:05d}"
    assert memory.verify() == []


def test_on_conflict_skip_and_replace(memory: memkv.Memory, tmp_path: Path) -> None:
    memory.store("k", "stored")
    stored = memory.get("k")
    path = write_lines(
        tmp_path / "in.jsonl",
        [line_of(entry("a", 1)), line_of(entry("k", "file's", id="c" * 32)), line_of(entry("z"))],
    )
    report = memory.import_jsonl(path, on_conflict="skip")
    assert report == memkv.ImportReport(lines=3, imported=2, skipped=1, replaced=0)
    assert memory.get("k") == stored
    report = memory.import_jsonl(path, on_conflict="replace")
    assert report == memkv.ImportReport(lines=3, imported=0, skipped=0, replaced=3)
    replaced = memory.get("k")
    assert replaced is not None
    assert (replaced.id, replaced.content, replaced.timestamp) == (
        "c" * 32,
        "file's",
        entry("k").timestamp,
    )
    assert memory.count() == 3
    assert memory.verify() == []


@pytest.mark.parametrize("keys", [["a", "b", "b", "c"], ["b", "a", "c", "b"]], ids=str)
def test_a_key_given_twice(memory: memkv.Memory, tmp_path: Path, keys: list[str]) -> None:
    """In key order (as exports are) or not: under "error" a conflict naming both
    lines, nothing written; under "skip" the first stays; under "replace" the last."""
    lines = [line_of(entry(key, n, id=f"{n:032x}")) for n, key in enumerate(keys)]
    path = write_lines(tmp_path / "in.jsonl", lines)
    first, second = (n for n, key in enumerate(keys) if key == "b")
    exc = raises_naming(
        memkv.ImportConflict,
        f"line {second + 1} gives key 'b' again (first on line {first + 1})",
        lambda: memory.import_jsonl(path),
    )
    assert exc.key == "b"
    assert exc.count == 1
    assert memory.count() == 0
    report = memory.import_jsonl(path, on_conflict="skip")
    assert report == memkv.ImportReport(lines=4, imported=3, skipped=1, replaced=0)
    kept = memory.get("b")
    assert kept is not None
    assert kept.content == first
    clear(memory)
    report = memory.import_jsonl(path, on_conflict="replace")
    assert report == memkv.ImportReport(lines=4, imported=3, skipped=0, replaced=1)
    kept = memory.get("b")
    assert kept is not None
    assert kept.content == second
    assert memory.verify() == []


def test_import_from_file_objects(memory: memkv.Memory) -> None:
    memory.store("a", b"bytes")
    memory.store("b", "text")
    text = io.StringIO()
    assert memory.export_jsonl(text) == 2
    target = memkv.open(memkv.IN_MEMORY)
    text.seek(0)
    assert target.import_jsonl(text).imported == 2
    assert exact(target.list()) == exact(memory.list())
    reading, writing = os.pipe()  # a stream that cannot seek: copied first
    os.write(writing, text.getvalue().encode())
    os.close(writing)
    with open(reading, "rb") as pipe:
        assert target.import_jsonl(pipe, on_conflict="replace").replaced == 2
    assert target.import_jsonl(io.BytesIO()) == memkv.ImportReport(
        lines=0, imported=0, skipped=0, replaced=0
    )
    target.close()


@pytest.mark.anyio
async def test_async_export_and_import(memkv_async_memory: memkv.aio.AsyncMemory) -> None:
    await memkv_async_memory.store("a", 1, session_id="s")
    await memkv_async_memory.store("b", 2)
    buffer = io.BytesIO()
    assert await memkv_async_memory.export_jsonl(buffer, session_id="s") == 1
    buffer.seek(0)
    report = await memkv_async_memory.import_jsonl(buffer, on_conflict="replace")
    assert report == memkv.ImportReport(lines=1, imported=0, skipped=0, replaced=1)


# -- bad input ---------------------------------------------------------------------------------

GOOD = entry("good", "fine")

# (a bad line, what the error says of it)
BAD_LINES: list[tuple[str, str]] = [
    ("{not json", "is not JSON"),
    ("[1, 2]", "is not an entry: Expected `object`, got `array`"),
    (line_of(GOOD, category=...), "missing required field `category`"),
    (line_of(GOOD, expires_at=...), "missing required field `expires_at`"),
    (line_of(GOOD, timestamp=5), "Expected `datetime`, got `int` - at `$.timestamp`"),
    (line_of(GOOD, timestamp="2026-01-02T03:04:05"), "at `$.timestamp`"),  # no offset
    (line_of(GOOD, id="not-an-id"), "at `$.id`"),
    (line_of(GOOD, score=1.0), "unknown field `score`"),
    (line_of(GOOD, content_msgpack="kQE="), "has both content and content_msgpack"),
    (line_of(GOOD, content=...), "has neither content nor content_msgpack"),
    (line_of(GOOD, content=..., content_msgpack="wQ=="), "not one msgpack value"),
    (line_of(GOOD, content=..., content_msgpack="%%%"), "base64"),
    (line_of(GOOD, key=""), "key must not be empty"),
    (line_of(GOOD, key="k" * 257), "257 bytes"),
    (line_of(GOOD, category="a\x00b"), "category 'a\\x00b'"),
    (line_of(GOOD, session_id="s" * 65), "session_id"),
    (line_of(GOOD, content=2**70), "cannot be encoded"),
    ("", "is empty"),
]


def test_bad_lines_are_named_by_number_and_nothing_is_imported(
    memory: memkv.Memory, tmp_path: Path
) -> None:
    memory.store("present", "before")
    before = snapshot(memory)
    lines = [line_of(entry("first"))]
    for bad, _ in BAD_LINES:
        lines += [bad, line_of(entry(f"between/{len(lines)}"))]
    path = write_lines(tmp_path / "bad.jsonl", [*lines, '{"id": "0123'], end="")
    exc = raises_naming(
        memkv.BadImportFile,
        f"has {len(BAD_LINES) + 1} line(s) that cannot be imported",
        lambda: memory.import_jsonl(path),
    )
    assert isinstance(exc, memkv.InvalidArgument)
    assert exc.count == len(BAD_LINES) + 1
    assert [number for number, _ in exc.problems] == [
        2 * n + 2 for n in range(PROBLEMS_NAMED)
    ]  # the first ones, in line order
    for (number, problem), (_, needle) in zip(exc.problems, BAD_LINES, strict=False):
        assert needle in problem, (number, problem, needle)
        assert f"line {number} {problem}" in str(exc)
    assert f"and {len(BAD_LINES) + 1 - PROBLEMS_NAMED} more" in str(exc)
    assert snapshot(memory) == before
    for n, (bad, needle) in enumerate(BAD_LINES):  # each alone, named, nothing imported
        one = write_lines(tmp_path / f"one-{n}.jsonl", [line_of(entry("ok")), bad])
        exc = raises_naming(
            memkv.BadImportFile, "line 2 ", functools.partial(memory.import_jsonl, one)
        )
        assert exc.problems == [(2, exc.problems[0][1])]
        assert needle in exc.problems[0][1]
    assert snapshot(memory) == before
    assert memory.verify() == []


def test_a_torn_last_line_is_reported_as_such(memory: memkv.Memory, tmp_path: Path) -> None:
    whole = line_of(entry("a"))
    path = write_lines(tmp_path / "torn.jsonl", [whole, whole.replace('"a"', '"b"')[:40]], end="")
    exc = raises_naming(
        memkv.BadImportFile,
        "line 2 is torn: the file ends mid-line",
        lambda: memory.import_jsonl(path),
    )
    assert exc.problems == [(2, "is torn: the file ends mid-line")]
    assert memory.count() == 0


def test_keys_already_stored_conflict_under_error(memory: memkv.Memory, tmp_path: Path) -> None:
    memory.store("k", "stored")
    memory.store(pack(("p", 1)), "stored")
    before = snapshot(memory)
    path = write_lines(
        tmp_path / "in.jsonl",
        [line_of(entry(key)) for key in ["a", "k", pack(("p", 1)), "z"]],
    )
    exc = raises_naming(
        memkv.ImportConflict,
        "line 2 gives key 'k', which is already stored; line 3 gives key ('p', 1)",
        lambda: memory.import_jsonl(path),
    )
    assert isinstance(exc, memkv.Conflict)
    assert (exc.key, exc.count) == ("k", 2)
    assert snapshot(memory) == before


def test_a_corrupt_record_is_a_key_present(memory: memkv.Memory, tmp_path: Path) -> None:
    memory.store("k", "stored")
    put_raw(memory, b"k", b"\xc1")
    path = write_lines(tmp_path / "in.jsonl", [line_of(entry("k", "new"))])
    raises_naming(memkv.ImportConflict, "'k'", lambda: memory.import_jsonl(path))
    assert memory.import_jsonl(path, on_conflict="skip").skipped == 1
    assert memory.import_jsonl(path, on_conflict="replace").replaced == 0  # removed, then new
    got = memory.get("k")
    assert got is not None
    assert got.content == "new"
    assert memory.verify() == []


BAD_CALLS: dict[str, tuple[type[Exception], str, Callable[[memkv.Memory, Path], object]]] = {
    "import of a missing file": (
        memkv.NotFound,
        "missing.jsonl: No such file",
        lambda m, d: m.import_jsonl(d / "missing.jsonl"),
    ),
    "import of a directory": (
        memkv.InvalidArgument,
        "Is a directory",
        lambda m, d: m.import_jsonl(d),
    ),
    "import of no path": (
        memkv.InvalidArgument,
        "a path",
        lambda m, d: m.import_jsonl(42),  # type: ignore[arg-type]
    ),
    "import of an empty path": (memkv.InvalidArgument, "a path", lambda m, d: m.import_jsonl("")),
    "unknown on_conflict": (
        memkv.InvalidArgument,
        "'overwrite'",
        lambda m, d: m.import_jsonl(d / "x", on_conflict="overwrite"),  # type: ignore[arg-type]
    ),
    "import into the internal space": (
        memkv.InvalidArgument,
        "user's key space",
        lambda m, d: m.internal.import_jsonl(d / "x"),
    ),
    "export to a directory": (
        memkv.InvalidArgument,
        "is a directory",
        lambda m, d: m.export_jsonl(d),
    ),
    "export into a missing directory": (
        memkv.NotFound,
        "no/such/out.jsonl",
        lambda m, d: m.export_jsonl(d / "no" / "such" / "out.jsonl"),
    ),
    "export with a naive since": (
        memkv.InvalidArgument,
        "since",
        lambda m, d: m.export_jsonl(d / "out.jsonl", since=datetime(2026, 1, 1)),
    ),
    "export with a bad category": (
        memkv.InvalidArgument,
        "category",
        lambda m, d: m.export_jsonl(d / "out.jsonl", category=""),
    ),
    "export with a bad prefix": (
        memkv.InvalidArgument,
        "prefix",
        lambda m, d: m.export_jsonl(d / "out.jsonl", prefix=b"k"),  # type: ignore[arg-type]
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bad_calls_raise_typed_errors_and_change_nothing(
    memory: memkv.Memory, tmp_path: Path, case: str
) -> None:
    error, needle, call = BAD_CALLS[case]
    memory.store("k", 1)
    (tmp_path / "x").write_text(line_of(entry("new")) + "\n")
    before = snapshot(memory)
    files = sorted(tmp_path.iterdir())
    exc = raises_naming(error, needle, lambda: call(memory, tmp_path))
    assert isinstance(exc, memkv.MemkvError)
    assert snapshot(memory) == before
    assert sorted(tmp_path.iterdir()) == files  # no export, no temporary file left


def test_a_failed_export_leaves_the_old_file_whole(memory: memkv.Memory, tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text("the previous export\n")
    memory.store("a", 1)
    put_raw(memory, b"b", b"\xc1")  # a corrupt record: the export stops there
    raises_naming(memkv.CorruptRecord, "'b'", lambda: memory.export_jsonl(path))
    assert path.read_text() == "the previous export\n"
    assert [file for file in tmp_path.iterdir() if file.name != "store"] == [path]
    memory.forget("b")
    assert memory.export_jsonl(path) == 1
    assert json.loads(path.read_text())["key"] == "a"


def test_import_into_a_read_only_store(tmp_path: Path) -> None:
    with memkv.open(tmp_path / "store") as mem:
        mem.store("k", 1)
    path = write_lines(tmp_path / "in.jsonl", [line_of(entry("new"))])
    with memkv.open(tmp_path / "store", readonly=True) as mem:
        raises_naming(memkv.ReadOnlyStore, "read-only", lambda: mem.import_jsonl(path))
        assert mem.keys() == ["k"]


# -- the command -----------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    with memkv.open(path) as mem:
        mem.store("user/name", "Ada", session_id="s1")
        mem.store("user/photo", b"\x89PNG")
        mem.store(pack(("sop", "step", "run-7", 2)), {"ok": True}, category="sop")
        mem.store(pack(("sop", "step", "run-70", 1)), {"ok": False}, category="sop")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_export_to_stdout_and_to_a_file(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "export", str(store))
    assert code == 0
    assert err == "memkv: exported 4 entries\n"
    assert len(out.splitlines()) == 4
    assert out.isascii()  # a packed key's controls are escaped
    code, out, err = run(capsys, "export", str(store), "--parts", "sop", "step", "run-7")
    assert [json.loads(line)["key"] for line in out.splitlines()] == [
        pack(("sop", "step", "run-7", 2))
    ]
    code, out, _ = run(capsys, "export", str(store), "--session", "s1", "--category", "core")
    assert [json.loads(line)["content"] for line in out.splitlines()] == ["Ada"]
    code, out, _ = run(capsys, "export", str(store), "--since", "2000-01-01", "--until", "2001")
    assert (code, out) == (2, "")  # '2001' is no ISO 8601 time
    code, out, err = run(capsys, "export", str(store), "--since", "2000-01-01T00:00:00+02:00")
    assert len(out.splitlines()) == 4
    code, out, err = run(capsys, "export", str(store), "--until", "2000-01-01")
    assert (out, err) == ("", "memkv: exported 0 entries\n")
    target = tmp_path / "out.jsonl"
    code, out, _ = run(capsys, "export", str(store), "-o", str(target), "--prefix", "user/")
    assert (code, out) == (0, f"exported 2 entries to {target}\n")
    assert [json.loads(line)["key"] for line in target.read_text().splitlines()] == [
        "user/name",
        "user/photo",
    ]
    code, _, err = run(capsys, "export", str(tmp_path / "none"))
    assert code == 1
    assert "no store" in err


def test_cli_import_with_each_policy(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported_file = tmp_path / "all.jsonl"
    assert run(capsys, "export", str(store), "-o", str(exported_file))[0] == 0
    copy = tmp_path / "copy"
    memkv.open(copy).close()
    code, out, _ = run(capsys, "import", str(copy), str(exported_file))
    assert (code, out) == (
        0,
        f"imported 4, replaced 0, skipped 0 of 4 lines from {exported_file}\n",
    )
    with memkv.open(store, readonly=True) as original, memkv.open(copy, readonly=True) as mem:
        assert exact(mem.list()) == exact(original.list())
    code, _, err = run(capsys, "import", str(copy), str(exported_file))
    assert code == 2
    assert "4 line(s) whose key is already present" in err
    code, out, _ = run(capsys, "import", str(copy), str(exported_file), "--on-conflict", "skip")
    assert out.startswith("imported 0, replaced 0, skipped 4 of 4 lines")
    code, out, _ = run(capsys, "import", str(copy), str(exported_file), "--on-conflict=replace")
    assert out.startswith("imported 0, replaced 4, skipped 0 of 4 lines")
    code, _, err = run(capsys, "import", str(copy), str(exported_file), "--on-conflict", "merge")
    assert code == 2
    assert "invalid choice" in err


def test_cli_import_of_a_bad_file(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_lines(tmp_path / "bad.jsonl", [line_of(entry("new")), "{oops"])
    with memkv.open(store, readonly=True) as mem:
        before = snapshot(mem)
    code, out, err = run(capsys, "import", str(store), str(bad))
    assert (code, out) == (2, "")
    assert "line 2 is not JSON" in err
    assert len(err.splitlines()) == 1
    code, _, err = run(capsys, "import", str(store), str(tmp_path / "missing.jsonl"))
    assert code == 1
    assert "missing.jsonl" in err
    code, _, err = run(capsys, "import", str(store), str(tmp_path))
    assert code == 2
    code, _, err = run(capsys, "import", str(tmp_path / "none"), str(bad))
    assert code == 1
    assert not (tmp_path / "none").exists()
    with memkv.open(store, readonly=True) as mem:
        assert snapshot(mem) == before


def test_cli_timestamps_bound_the_export(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with memkv.open(store) as mem:
        last = mem.store("late", "x")
    since = last.timestamp.isoformat()
    code, out, _ = run(capsys, "export", str(store), "--since", since)
    assert code == 0
    assert [json.loads(line)["key"] for line in out.splitlines()] == ["late"]
    _, out, _ = run(capsys, "export", str(store), "--until", since)
    assert "late" not in [json.loads(line)["key"] for line in out.splitlines()]
    assert len(out.splitlines()) == 4
