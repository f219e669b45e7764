"""Benchmark scripts run end to end in their quick mode (``--quick``), each in a
subprocess, with its stores and its results in a temporary directory. Their timings
are not checked: benchmarks are not tests."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUICK_RUN_SECONDS = 60  # a quick run's budget in CI (a few seconds on a 2-core machine)


def run_quick(script: str, tmp_path: Path, *options: str) -> Path:
    """Run ``benchmarks/SCRIPT --quick``; the directory of its results."""
    results, stores = tmp_path / "results", tmp_path / "stores"
    stores.mkdir()
    command = [sys.executable, str(ROOT / "benchmarks" / script), "--quick"]
    command += ["--dir", str(stores), "--output", str(results), *options]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=QUICK_RUN_SECONDS, check=False
    )
    assert done.returncode == 0, done.stderr
    assert list(stores.iterdir()) == []  # the stores are removed
    return results


def test_bench_recall_quick(tmp_path: Path) -> None:
    results = run_quick("bench_recall.py", tmp_path, "--big")
    names = {"recall.md", "recall-summary.md", "recall.json"}
    assert names <= {path.name for path in results.iterdir()}
    document = json.loads((results / "recall.json").read_text())
    workload = document["workload"]
    assert (workload["memories"], workload["queries"]) == (5_000, 100)

    anchors = {"SQLite FTS5"} | ({"rank-bm25"} if find_spec("rank_bm25") else set())
    default, big = document["recall"]
    assert (default["memories"], big["memories"]) == (5_000, 20_000)
    assert set(default["build_seconds"]) == {"memkv", "memkv, no recall index"} | anchors
    assert set(default["latency"]) == {"memkv"} | anchors
    assert set(big["latency"]) == set(big["build_seconds"]) == {"memkv", "SQLite FTS5"}
    assert default["latency"]["memkv"]["samples"] == default["latency"]["SQLite FTS5"]["samples"]
    assert default["latency"]["memkv"]["samples"] == 100
    if "rank-bm25" in anchors:  # it answers the first queries only
        assert default["latency"]["rank-bm25"]["samples"] == workload["rank_bm25_queries"] < 100
    for run in (default, big):
        assert all(seconds > 0 for seconds in run["build_seconds"].values())
        for timing in run["latency"].values():
            assert 0 < timing["p50_ms"] <= timing["p90_ms"] <= timing["p99_ms"]
        assert set(run["memkv_over_fts5"]) == {"p50", "p99"}
        assert set(run["top10_overlap"]) == set(run["latency"]) - {"memkv"}
        assert all(0 <= share <= 1 for share in run["top10_overlap"].values())

    costs = document["write_cost"]
    assert set(costs) == {"durable single store", "1,000 stores in one transaction (per record)"}
    assert [cost["goal"] for cost in costs.values()] == [1.25, 3.0]
    for cost in costs.values():
        assert cost["ratio"] > 0
        assert cost["met"] == (cost["ratio"] <= cost["goal"])
        assert cost["with_index"]["samples"] == cost["without_index"]["samples"]
    assert "| 5,000 | SQLite FTS5 |" in (results / "recall.md").read_text()


def test_bench_transfer_quick(tmp_path: Path) -> None:
    results = run_quick("bench_transfer.py", tmp_path)
    names = {"transfer.md", "transfer-summary.md", "transfer.json"}
    assert names <= {path.name for path in results.iterdir()}
    figures = json.loads((results / "transfer.json").read_text())
    assert figures["entries"] == 5_000
    assert figures["identical"] is True
    assert figures["goal_seconds"] == 15.0
    for name in ("export_seconds", "import_seconds", "import_no_recall_seconds"):
        assert 0 < figures[name] < 60
    assert figures["export_met"] == (figures["export_seconds"] <= 15.0)
    assert figures["file_bytes"] > 5_000 * 100
    assert "| export | " in (results / "transfer-summary.md").read_text()


def test_bench_purge_quick(tmp_path: Path) -> None:
    results = run_quick("bench_purge.py", tmp_path)
    assert {"purge.md", "purge.json"} <= {path.name for path in results.iterdir()}
    runs = json.loads((results / "purge.json").read_text())["purge"]
    assert [run["recall"] for run in runs] == [True, False]
    for run in runs:
        assert run["removed"] == run["purged"] == 5_000
        assert run["left_in_session"] == 0
        assert run["writes_landed"] == run["writes"] > 0
        assert run["verify"] == []
        assert run["transactions"] >= run["purged"] // run["batch"]
        assert 0 < run["work_ms"]["p50"] <= run["work_ms"]["max"] <= run["transaction_ms"]["max"]


def test_bench_checksum_quick(tmp_path: Path) -> None:
    """Quick mode compares the tree with itself (a real run takes ``--before DIR``)."""
    results = run_quick("bench_checksum.py", tmp_path)
    figures = json.loads((results / "checksum.json").read_text())
    assert set(figures["measures"]) == {"get, random keys (cold cache)", "durable single store"}
    for measure in figures["measures"].values():
        assert measure["before"] > 0
        assert measure["after"] > 0
        assert measure["change"] == measure["after"] / measure["before"] - 1
    assert "| get, random keys (cold cache) |" in (results / "checksum.md").read_text()


def test_bench_langgraph_quick(tmp_path: Path) -> None:
    results = run_quick("bench_langgraph.py", tmp_path)
    names = {"langgraph.md", "langgraph-summary.md", "langgraph.json"}
    assert names <= {path.name for path in results.iterdir()}
    document = json.loads((results / "langgraph.json").read_text())
    assert document["workload"]["items"] == 600
    benchmarks = document["benchmarks"]
    assert set(benchmarks) == {
        "put (durable)",
        "get",
        "search with a filter (limit 10)",
        "search with a filter (limit 10), after a put",
        "list_namespaces",
        "keyword query (limit 10)",
        "vector search (limit 10)",
        "vector search (limit 10), after a put",
    }
    for entry in benchmarks.values():
        assert set(entry["stats"]) == {"MemkvStore", "SqliteStore", "InMemoryStore"}
        for stats in entry["stats"].values():
            assert 0 < stats["p50"] <= stats["p99"]
        if "target" in entry:
            assert entry["met"] == (entry["ratio"] <= float(entry["target"].split()[-1]))
    top10 = document["keyword_top10"]
    assert len(top10) == 10
    scores = [hit["score"] for hit in top10]
    assert scores == sorted(scores, reverse=True)
    assert scores[-1] > 0
    assert all({"marathon", "running"} & set(hit["text"].split()) for hit in top10)
    assert "| put (durable) | MemkvStore |" in (results / "langgraph.md").read_text()


def test_bench_langgraph_saver_quick(tmp_path: Path) -> None:
    results = run_quick("bench_langgraph_saver.py", tmp_path)
    figures = json.loads((results / "langgraph_saver.json").read_text())["benchmarks"]
    saver, in_memory, sqlite = "MemkvSaver (LMDB, durable)", "InMemorySaver", "SqliteSaver (file)"
    relaxed = "MemkvSaver (LMDB, relaxed)"
    assert set(figures["invoke, new thread"]["stats"]) == {saver, relaxed, in_memory, sqlite}
    assert set(figures["get_state_history, 50 checkpoints"]["stats"]) == {saver, in_memory, sqlite}
    assert set(figures["invoke, new thread, durability='exit'"]["stats"]) == {
        saver,
        in_memory,
        sqlite,
    }
    concurrent = figures["16 concurrent async threads, per invocation"]["stats"]
    assert set(concurrent) == {saver, "AsyncSqliteSaver (file)", in_memory}
    assert figures["invoke, new thread"]["stats"][saver]["n"] == 10
    goals = {"invoke, new thread": 1.0, "invoke, new thread (goal)": 1.2, "get_state": 1.2}
    for name, goal in goals.items():
        assert figures[name]["ratio"] > 0
        assert figures[name]["met"] == (figures[name]["ratio"] <= goal)
