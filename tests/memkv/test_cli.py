"""The memkv command, run in-process and as a console script."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import memkv
from memkv.cli import main
from memkv.keys import pack
from tests.memkv.helpers import put_raw


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
    assert "map size" in out
    code, out, _ = run(capsys, "stats", str(store), "--json")
    report = json.loads(out)
    assert report["entries"] == 5
    assert report["categories"] == {"core": 2, "sop": 3}
    assert report["sessions"] == {"s1": 1}
    assert report["size_on_disk"] > 0
    assert report["map_size"] >= 1 << 20


def test_get(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "get", str(store), "user/name")
    assert code == 0
    assert "Ada" in out
    assert "s1" in out
    code, out, _ = run(capsys, "get", str(store), "user/age", "--json")
    assert json.loads(out)["content"] == 36
    code, _, err = run(capsys, "get", str(store), "nobody")
    assert code == 1
    assert "'nobody'" in err


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
    assert code == 1
    assert "limit" in err


def test_verify(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", str(store))
    assert code == 0
    assert "consistent (5 entries)" in out
    with memkv.open(store) as mem:
        put_raw(mem, b"user/age", b"\xc1")
    code, out, _ = run(capsys, "verify", str(store))
    assert code == 1
    assert "user/age" in out


def test_missing_store_is_an_error_not_a_new_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "stats", str(tmp_path / "none"))
    assert code == 1
    assert str(tmp_path / "none") in err
    assert not (tmp_path / "none").exists()


def test_demo_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "demo"
    code, out, _ = run(capsys, "demo", "--path", str(path))
    assert code == 0
    assert "insert refused" in out
    assert "indexes agree with entries" in out
    with memkv.open(path, readonly=True) as mem:
        assert mem.count("core") == 3
        assert mem.count("conversation") == 3 + 64
        assert mem.get("fact/ship-date") is not None
        assert mem.verify() == []
    shared = re.search(r"64 durable stores, each awaited until on disk, took (\d+) commit", out)
    assert shared is not None
    assert 1 <= int(shared.group(1)) < 64
    assert "enhance_log" in out  # each domain package shows itself


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
    assert code == 1
    assert "postgres" in err
    code, _, err = run(capsys, "bench", "--batch", "0", "--dir", str(tmp_path))
    assert code == 1
    assert "batch must be at least 1" in err
    with pytest.raises(SystemExit):
        main(["bench", "--concurrency", "0"])
