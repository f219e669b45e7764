"""The memkv command, run in-process and as a console script."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import memkv
from memkv.cli import main
from memkv.keys import pack, render_key
from tests.memkv.helpers import child_env, lock_file_unwritable, put_raw


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store"
    with memkv.open(path) as mem:
        mem.store("user/name", "Ada", session_id="s1")
        mem.store("user/age", 36)
        mem.store(pack(("sop", "step", "run-7", 2)), {"ok": True}, category="sop")
        mem.store(pack(("sop", "step", "run-7", 10)), {"ok": False}, category="sop")
        mem.store(pack(("sop", "step", "run-70", 1)), {"ok": True}, category="sop")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_stats(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "stats", str(store))
    assert code == 0
    assert "entries      5" in out
    assert "sop" in out
    assert "s1" in out
    code, out, _ = run(capsys, "stats", str(store), "--json")
    report = json.loads(out)
    assert report["entries"] == 5
    assert report["categories"] == {"core": 2, "sop": 3}
    assert report["sessions"] == {"s1": 1}
    assert report["size_on_disk"] > 0


def test_get(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "get", str(store), "user/name")
    assert code == 0
    assert "Ada" in out
    assert "s1" in out
    code, out, _ = run(capsys, "get", str(store), "user/age", "--json")
    assert json.loads(out)["content"] == 36
    code, _, err = run(capsys, "get", str(store), "nobody")
    assert code == 1
    assert err == "memkv: error: no entry at key nobody\n"


def test_list_with_filters(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", str(store), "--category", "sop")
    assert code == 0
    assert "('sop', 'step', 'run-7', 2)" in out
    assert "(3 entries)" in out
    code, out, _ = run(capsys, "list", str(store), "--parts", "sop", "step", "run-7", "--json")
    keys = [tuple(memkv.keys.unpack(json.loads(line)["key"])) for line in out.splitlines()]
    assert keys == [("sop", "step", "run-7", 2), ("sop", "step", "run-7", 10)]
    code, out, _ = run(capsys, "list", str(store), "--prefix", "user/", "--limit", "1", "--reverse")
    assert "user/name" in out
    assert "(1 entries)" in out
    code, out, _ = run(capsys, "list", str(store), "--limit", "0")  # Memory.list: nothing
    assert code == 0
    assert "(0 entries)" in out
    code, _, err = run(capsys, "list", str(store), "--limit", "-1")
    assert code == 2
    assert "limit" in err


def test_verify(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", str(store))
    assert code == 0
    assert "consistent (5 entries)" in out
    with memkv.open(store) as mem:
        put_raw(mem, b"user/age", b"\xc1")
    code, out, _ = run(capsys, "verify", str(store))
    assert code == 4
    assert "user/age" in out


def test_verify_repair_removes_a_corrupt_record_and_says_so(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with memkv.open(store) as mem:
        put_raw(mem, b"user/name", b"\xc1")  # its session index entries stay behind
    code, out, _ = run(capsys, "verify", str(store), "--repair")
    assert code == 0
    assert "removed the record that cannot be read" in out
    assert "user/name" in out
    assert out.endswith(": repaired\n")
    code, out, _ = run(capsys, "verify", str(store))
    assert code == 0
    assert "consistent (4 entries)" in out
    with memkv.open(store, readonly=True) as mem:
        assert mem.sessions() == {}
    code, out, _ = run(capsys, "verify", str(store), "--repair")
    assert code == 0
    assert "nothing to repair" in out


def test_forget_removes_a_corrupt_record(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with memkv.open(store) as mem:
        put_raw(mem, b"user/name", b"\xc1")
    code, out, _ = run(capsys, "forget", str(store), "user/name")
    assert code == 0
    assert "forgot user/name" in out
    code, out, _ = run(capsys, "verify", str(store))
    assert code == 0


def test_stats_shows_internal_records_under_their_own_heading(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with memkv.open(store) as mem:
        memkv.SequenceLog[str](mem, "jobs", str).append("started")
    code, out, _ = run(capsys, "stats", str(store))
    assert code == 0
    assert "entries      5" in out
    assert "internal     1 records of packages built on memkv" in out
    assert out.index("seqlog.jobs") > out.index("internal")
    report = json.loads(run(capsys, "stats", str(store), "--json")[1])
    assert report["categories"] == {"core": 2, "sop": 3}
    assert report["internal"] == {"entries": 1, "categories": {"seqlog.jobs": 1}}


def test_missing_store_is_an_error_not_a_new_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "stats", str(tmp_path / "none"))
    assert code == 1
    assert str(tmp_path / "none") in err
    assert not (tmp_path / "none").exists()


def test_demo_runs_end_to_end_and_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo", "--path", str(tmp_path / "demo"))
    assert code == 0
    assert "insert refused" in out
    assert "indexes agree with entries" in out
    path = tmp_path / "demo" / "store-1"
    assert f"memkv stats {path}" in out
    with memkv.open(path, readonly=True) as mem:
        assert mem.count("core") == 3
        assert mem.count("conversation") == 3 + 64
        assert mem.get("fact/ship-date") is not None
        assert mem.verify() == []
    shared = re.search(r"64 durable stores, each awaited until on disk, took (\d+) commit", out)
    assert shared is not None
    assert 1 <= int(shared.group(1)) < 64
    assert "enhance_log" in out  # each domain package shows itself
    code, out, _ = run(capsys, "demo", "--path", str(tmp_path / "demo"))
    assert code == 0  # on a new store beside the first
    assert f"memkv stats {tmp_path / 'demo' / 'store-2'}" in out
    assert "indexes agree with entries" in out


def test_console_script_and_module(store: Path) -> None:
    for command in (
        [str(Path(sys.executable).with_name("memkv"))],
        [sys.executable, "-m", "memkv"],
    ):
        result = subprocess.run(
            [*command, "stats", str(store), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["entries"] == 5


def test_bench_measures_every_system(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "bench",
        "--durability",
        "unsynced",
        "--concurrency",
        "1,4",
        "--transactions",
        "40",
        "--store-size",
        "300",
        "--batch",
        "3",
        "--dir",
        str(tmp_path),
        "--json",
    )
    assert code == 0
    results = json.loads(out)
    systems = {"memkv async", "memkv threads", "raw LMDB", "raw LMDB group commit"}
    assert {(r["system"], r["concurrency"]) for r in results} == {
        (system, c) for system in systems for c in (1, 4)
    }
    for result in results:
        assert result["transactions"] == 40  # 40 shared by 1 or by 4 writers
        assert result["records"] == 120
        assert result["seconds"] > 0
        assert 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]
    assert list(tmp_path.iterdir()) == []  # the stores are removed


def test_bench_table_and_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys,
        "bench",
        "--concurrency",
        "2",
        "--transactions",
        "10",
        "--store-size",
        "0",
        "--systems",
        "async,raw",
        "--dir",
        str(tmp_path),
    )
    assert code == 0
    assert "durable writes" in err
    rows = out.splitlines()
    assert rows[0].split()[:2] == ["system", "writers"]
    assert [row.split()[0:2] for row in rows[1:]] == [["memkv", "async"], ["raw", "LMDB"]]
    assert rows[2].endswith("1.00x")  # raw LMDB is the anchor of its own row
    code, _, err = run(capsys, "bench", "--systems", "async,postgres", "--dir", str(tmp_path))
    assert code == 2
    assert "postgres" in err
    code, _, err = run(capsys, "bench", "--batch", "0", "--dir", str(tmp_path))
    assert code == 2
    assert "--batch: must be at least 1, not 0" in err
    code, _, err = run(capsys, "bench", "--concurrency", "0")
    assert code == 2


def command(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The installed ``memkv`` command, run with ``argv``."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("memkv")), *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def printable(text: str) -> bool:
    """Whether ``text`` is lines of printable characters (nothing a terminal obeys)."""
    return all(line.isprintable() for line in text.split("\n"))


# -- the key notation (issue 14, item 4) ---------------------------------------------------


def test_a_key_shown_by_list_is_taken_by_get_and_after(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "list", str(store), "--category", "sop")
    shown = "('sop', 'step', 'run-7', 2)"
    assert shown in out
    code, out, _ = run(capsys, "get", str(store), shown)
    assert code == 0
    assert f"key        {shown}\n" in out
    assert '{"ok":true}' in out
    code, out, _ = run(capsys, "list", str(store), "--category", "sop", "--after", shown)
    assert code == 0
    assert shown not in out
    assert "('sop', 'step', 'run-7', 10)" in out
    assert "(2 entries)" in out
    code, out, _ = run(capsys, "list", str(store), "--prefix", "('sop', 'step', 'run-7')")
    assert "(2 entries)" in out  # a tuple prefix: run-7's keys, not run-70's
    code, out, _ = run(capsys, "list", str(store), "--prefix", "user/")
    assert "(2 entries)" in out  # plain text is a plain prefix


def test_json_gives_the_exact_key_its_notation_and_its_parts(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "list", str(store), "--parts", "sop", "step", "run-7", "--json")
    records = [json.loads(line) for line in out.splitlines()]
    assert [record["key"] for record in records] == [
        pack(("sop", "step", "run-7", 2)),
        pack(("sop", "step", "run-7", 10)),
    ]
    assert [record["key_text"] for record in records] == [
        "('sop', 'step', 'run-7', 2)",
        "('sop', 'step', 'run-7', 10)",
    ]
    assert [record["parts"] for record in records] == [
        ["sop", "step", "run-7", 2],
        ["sop", "step", "run-7", 10],
    ]
    assert all("\\u0003" not in record["key_text"] for record in records)
    code, out, _ = run(capsys, "get", str(store), "user/name", "--json")
    assert code == 0
    record = json.loads(out)
    assert (record["key"], record["key_text"], record["parts"]) == ("user/name", "user/name", None)
    assert record["content"] == "Ada"
    assert record["session_id"] == "s1"
    code, out, _ = run(capsys, "get", str(store), "user/age", "--json")
    assert json.loads(out)["session_id"] is None  # there, if null: a steady schema


def test_a_plain_key_that_looks_like_a_tuple_stays_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "store"
    with memkv.open(path) as mem:
        mem.store("('sop', 1)", "plain")
        mem.store(pack(("sop", 1)), "packed")
    code, out, _ = run(capsys, "list", str(path))
    assert "\"('sop', 1)\"  " in out
    assert "\n('sop', 1)  " in out
    code, out, _ = run(capsys, "get", str(path), "\"('sop', 1)\"")
    assert "content    plain\n" in out
    code, out, _ = run(capsys, "get", str(path), "('sop', 1)")
    assert "content    packed\n" in out
    code, out, _ = run(capsys, "list", str(path), "--json")
    for line in out.splitlines():
        record = json.loads(line)
        code, shown, _ = run(capsys, "get", str(path), record["key_text"], "--json")
        assert (code, json.loads(shown)) == (0, record)


def test_a_malformed_key_is_a_usage_error(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("('sop'", "()", "(1.5,)", "", "x" * 300):
        code, _, err = run(capsys, "get", str(store), bad)
        assert code == 2, bad
        assert err.count("\n") == 1
        assert "key" in err


# -- whole content (item 5) ----------------------------------------------------------------


def test_get_shows_the_whole_content_and_list_does_with_full(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "store"
    long = "word " * 30 + "END"
    with memkv.open(path) as mem:
        mem.store("note", long)
        mem.store("lines", "first line\nsecond line")
        mem.store("data", {"words": long})
    code, out, _ = run(capsys, "get", str(path), "note")
    assert f"content    {long}\n" in out
    code, out, _ = run(capsys, "get", str(path), "data")
    assert "END" in out
    code, out, _ = run(capsys, "get", str(path), "lines")
    assert "content    first line\n           second line\n" in out
    code, out, _ = run(capsys, "list", str(path))
    assert "END" not in out
    assert "…" in out
    assert "first line\\nsecond line" in out  # one line per entry
    code, out, _ = run(capsys, "list", str(path), "--full")
    assert code == 0
    assert out.count("END") == 2
    assert "…" not in out


# -- control characters (item 6) -----------------------------------------------------------

HOSTILE = "\x1b[2J\x1b]0;owned\x07\x9b31m\u202eevil\x7f\r\u2028\U000e0041"


def test_control_characters_never_reach_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "store"
    key = "k" + HOSTILE
    with memkv.open(path) as mem:
        mem.store(key, HOSTILE, category="c\x1b[31m", session_id="s\x9b0m")
        mem.store(pack((HOSTILE, 1)), {"text": HOSTILE})
    shown = run(capsys, "list", str(path), "--json")[1].splitlines()
    assert len(shown) == 2
    for argv in (
        ["stats", str(path)],
        ["stats", str(path), "--json"],
        ["list", str(path), "--category", "c\x1b[31m"],
        ["list", str(path), "--category", "c\x1b[31m", "--full"],
        ["list", str(path), "--category", "c\x1b[31m", "--json"],
        ["list", str(path), "--category", "c\x1b[31m", "--json-array"],
        ["get", str(path), json.loads(shown[0])["key_text"]],
        ["get", str(path), json.loads(shown[0])["key_text"], "--json"],
        ["get", str(path), json.loads(shown[1])["key_text"]],
        ["get", str(path), json.loads(shown[1])["key_text"], "--json"],
        ["get", str(path), "absent" + HOSTILE],
        ["get", str(path), "('" + HOSTILE],
        ["list", str(path), "--session", "s\x9b0m"],
        ["forget", str(path), "absent" + HOSTILE],
    ):
        code, out, err = run(capsys, *argv)
        assert printable(out), (argv, out)
        assert printable(err), (argv, err)
        assert "\\x1b[2J" in out + err or "\\u001b[2J" in out + err or argv[0] == "stats"
    code, out, _ = run(capsys, "get", str(path), json.loads(shown[0])["key_text"], "--json")
    assert json.loads(out)["content"] == {"text": HOSTILE}  # escaped, not altered
    with memkv.open(path) as mem:
        put_raw(mem, key.encode(), b"\xc1")  # a corrupt record, for verify to report
    for argv in (["verify", str(path)], ["get", str(path), render_key(key)]):
        code, out, err = run(capsys, *argv)
        assert code in (3, 4)
        assert printable(out), (argv, out)
        assert printable(err), (argv, err)


# -- forget (item 7) -----------------------------------------------------------------------


def test_forget_removes_the_key_it_is_given(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = "('sop', 'step', 'run-7', 2)"
    code, out, _ = run(capsys, "forget", str(store), shown)
    assert code == 0
    assert out == f"forgot {shown}\n"
    with memkv.open(store, readonly=True) as mem:
        assert mem.get(pack(("sop", "step", "run-7", 2))) is None
        assert mem.count() == 4
        assert mem.verify() == []
    code, out, err = run(capsys, "forget", str(store), shown)
    assert code == 1
    assert out == ""
    assert err == f"memkv: error: no entry at key {shown}\n"
    code, _, _ = run(capsys, "forget", str(store), "user/name")
    assert code == 0


def test_forget_creates_no_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "forget", str(tmp_path / "none"), "k")
    assert code == 1
    assert not (tmp_path / "none").exists()
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "forget", str(tmp_path / "empty"), "k")
    assert code == 3
    assert str(tmp_path / "empty") in err
    assert list((tmp_path / "empty").iterdir()) == []


# -- failures and exit codes (item 10) -----------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "status"),
    [
        (["get", "STORE", "nobody"], 1),
        (["get", "NONE", "k"], 1),
        (["stats", "NONE"], 1),
        (["list", "NONE"], 1),
        (["verify", "NONE"], 1),
        (["hypothesis", "NONE"], 1),
        (["forget", "NONE", "k"], 1),
        (["bench", "--dir", "NONE"], 1),
        (["nosuchcommand"], 2),
        (["get", "STORE"], 2),
        (["stats", ""], 2),  # not the current directory
        (["demo", "--path", ""], 2),
        (["bench", "--dir", ""], 2),
        (["list", "STORE", "--limit", "-3"], 2),
        (["list", "STORE", "--limit", "many"], 2),
        (["list", "STORE", "--category", ""], 2),
        (["list", "STORE", "--session", "x" * 65], 2),
        (["list", "STORE", "--prefix", "a", "--parts", "b"], 2),
        (["list", "STORE", "--after", "('a'"], 2),
        (["list", "STORE", "--json", "--json-array"], 2),
        (["hypothesis", "STORE", "--name", ""], 2),
        (["demo", "--path", "FILE"], 2),
        (["bench", "--dir", "FILE"], 2),
        (["bench", "--rounds", "0"], 2),
        (["bench", "--transactions", "-1"], 2),
        (["bench", "--value-size", "0"], 2),
        (["bench", "--batch", "0"], 2),
        (["bench", "--store-size", "-1"], 2),
        (["bench", "--concurrency", "0"], 2),
        (["bench", "--concurrency", "1,,2"], 2),
        (["bench", "--concurrency", "4,4"], 2),
        (["bench", "--systems", "async,postgres"], 2),
        (["bench", "--systems", "async,async"], 2),
        (["bench", "--durability", "fast"], 2),
        (["stats", "FILE"], 3),
        (["stats", "EMPTY"], 3),
        (["get", "STORE", "user/age"], 3),  # a corrupt record
    ],
)
def test_each_failure_is_one_line_with_its_exit_status(
    argv: list[str], status: int, store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with memkv.open(store) as mem:
        put_raw(mem, b"user/age", b"\xc1")
    (tmp_path / "file").write_text("not a store")
    (tmp_path / "empty").mkdir()
    places = {
        "STORE": str(store),
        "NONE": str(tmp_path / "none"),
        "FILE": str(tmp_path / "file"),
        "EMPTY": str(tmp_path / "empty"),
    }
    code, out, err = run(capsys, *[places.get(arg, arg) for arg in argv])
    assert code == status
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("memkv")
    assert not (tmp_path / "none").exists()
    assert list((tmp_path / "empty").iterdir()) == []


def test_the_reported_tracebacks_are_one_line_errors(tmp_path: Path) -> None:
    result = command("stats", ":memory:")
    assert result.returncode == 0, result.stderr
    assert "entries      0" in result.stdout
    result = command("bench", "--dir", str(tmp_path / "none"))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"memkv: error: no directory {tmp_path / 'none'}\n"
    result = command("bench", "--rounds", "0")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.count("\n") == 1
    assert "--rounds" in result.stderr


def test_help_gives_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for status in ("0  ", "1  not found", "2  usage", "3  store error", "4  "):
        assert f"\n  {status}" in out


# -- stats (item 12) -----------------------------------------------------------------------


def test_stats_reports_what_is_known_of_the_store_not_of_its_own_opening(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "store"
    with memkv.open(path, durability="unsynced") as mem:
        mem.store("k", 1)
    code, out, _ = run(capsys, "stats", str(path))
    assert code == 0
    assert "durable" not in out
    assert "unsynced" not in out
    assert "durability   chosen by each process that opens the store" in out
    assert "map size" not in out
    code, out, _ = run(capsys, "stats", str(path), "--json")
    report = json.loads(out)
    assert report["entries"] == 1
    assert not {"durability", "map_size", "max_map_size"} & {*report, *report["backend"]}


def test_stats_of_an_in_memory_store(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "stats", ":memory:")
    assert code == 0
    assert "entries      0" in out
    assert "size on disk none (in memory)" in out
    code, out, _ = run(capsys, "stats", ":memory:", "--json")
    assert json.loads(out)["size_on_disk"] is None


# -- version, JSON forms, demo (item 13) ---------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out == f"memkv {importlib.metadata.version('memkv')}\n"


def test_list_json_is_json_lines_and_json_array_one_array(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "list", "--help")
    assert "JSON Lines" in " ".join(out.split())
    code, lines, _ = run(capsys, "list", str(store), "--json")
    code, array, _ = run(capsys, "list", str(store), "--json-array")
    assert code == 0
    assert json.loads(array) == [json.loads(line) for line in lines.splitlines()]
    assert len(json.loads(array)) == 5
    code, array, _ = run(capsys, "list", str(store), "--prefix", "nothing", "--json-array")
    assert json.loads(array) == []


def test_get_json_of_a_missing_key_prints_null(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "get", str(store), "nobody", "--json")
    assert code == 1
    assert out == "null\n"
    assert err == "memkv: error: no entry at key nobody\n"


CLI_AS_USER = """
import os, sys
from memkv.cli import main  # imported first: the user below may not read the interpreter's files
if sys.argv[1] != "-":
    os.setgid(int(sys.argv[1]))
    os.setuid(int(sys.argv[2]))  # root writes anything: read as an ordinary user
sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.parametrize("keep_lock_file", [True, False], ids=["lock file", "no lock file"])
def test_a_store_whose_lock_file_cannot_be_written_is_inspected_with_a_note(
    keep_lock_file: bool,
) -> None:
    with lock_file_unwritable(keep_lock_file=keep_lock_file) as (path, user):
        result = subprocess.run(
            [sys.executable, "-c", CLI_AS_USER, *user, "get", str(path), "k", "--json"],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["content"] == 42
        assert "lock file cannot be written" in result.stderr
        assert "torn" in result.stderr  # the risk is named


def test_recall_ranks_by_score_and_takes_filters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "recall"
    with memkv.open(path) as mem:
        mem.store("fact/engine", "The analytical engine, by Babbage", "facts", "s-1")
        mem.store("fact/ada", "Ada wrote a program for the engine", "facts", "s-2")
        mem.store("note", "buy milk")
    code, out, _ = run(capsys, "recall", str(path), "analytical engine")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["SCORE", "KEY"]
    assert [line.split()[1] for line in lines[1:3]] == ["fact/engine", "fact/ada"]
    assert "(2 entries)" in out
    code, out, _ = run(capsys, "recall", str(path), "engine", "--session", "s-2", "--json")
    [record] = [json.loads(line) for line in out.splitlines()]
    assert record["key"] == "fact/ada"
    assert record["score"] > 0
    code, out, _ = run(capsys, "recall", str(path), "", "--limit", "1", "--json-array")
    assert [record["key"] for record in json.loads(out)] == ["note"]  # the newest
    code, out, _ = run(capsys, "recall", str(path), '"engine" OR -milk*')  # no syntax
    assert "(3 entries)" in out
    code, _, err = run(capsys, "recall", str(path), "x", "--limit", "-1")
    assert code == 2
    assert "limit" in err


def test_recall_on_a_store_without_its_index_is_a_store_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plain"
    with memkv.open(path, recall=False) as mem:
        mem.store("note", "hello")
    code, _, err = run(capsys, "recall", str(path), "hello")
    assert code == 3
    assert "recall=False" in err
    assert err.count("\n") == 1
