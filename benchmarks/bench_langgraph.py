"""LangGraph store benchmark: `MemkvStore` beside LangGraph's `InMemoryStore` and
`SqliteStore` doing the same work, all measured in the same run (issue 17).

    .venv/bin/python benchmarks/bench_langgraph.py            # 10,000 items, 50 namespaces
    .venv/bin/python benchmarks/bench_langgraph.py --quick    # a smoke run (small sizes)

Writes ``benchmarks/results/langgraph.md`` (every figure), ``langgraph-summary.md``
(the targets), ``langgraph.json`` and ``langgraph.png`` (ratios against the targets).

The stores, each filled with the same items (``--items`` over ``--namespaces``
namespaces ``("users", "user-NN", "memories")``, values ``{"text", "kind", "rank"}``)
through ``batch`` calls of 500 puts:

* ``MemkvStore``: `memkv.langgraph.MemkvStore.from_path` on LMDB, durable (memkv's
  default: each put returns once it is on disk);
* ``SqliteStore``: on a file, connected as ``SqliteStore.from_conn_string`` does, its
  defaults (a rollback journal, ``synchronous=FULL``), ``setup()`` run first (for the
  vector search, through ``pysqlite3`` where the stdlib's ``sqlite3`` cannot load
  sqlite-vec, see `sqlite_connection`);
* ``InMemoryStore``: nothing on disk.

Timed, each call alone, the stores taking turns (`benchmarks.common.interleaved`):
``put`` of a new item (durable); ``get`` of a random item; ``search`` of a random
namespace with a filter (``{"kind": "fact"}``, ``limit=10``); ``list_namespaces()``;
a keyword ``search(("users",), query=..., limit=10)`` over every item (without an
index, memkv ranks it by BM25; LangGraph's stores ignore the query, so their figure is
a filterless search, reported beside it); and a vector ``search`` over
``--vector-items`` items of ``--dims`` dimensions, each store given the same
``index=`` (a deterministic fake embedding: a seeded normal vector per text, so no
model is loaded; ``SqliteStore`` searches with sqlite-vec).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import itertools
import random
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from langgraph.store.base import BaseStore, IndexConfig, PutOp
from langgraph.store.memory import InMemoryStore
from langgraph.store.sqlite import SqliteStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, Figures, Target, interleaved, report, workdir
from memkv.langgraph.store import MemkvStore

WORDS = tuple(
    " ".join(
        (
            "coffee tea lisbon berlin monday friday release notes pull request review concise",
            "answers python rust deploy staging production meeting budget invoice travel",
            "flight hotel birthday gift garden running marathon piano guitar novel chapter",
            "recipe pasta curry allergy peanuts dentist appointment insurance renewal passport",
        )
    ).split()
)
KINDS = ("fact", "preference", "event", "task", "note")
LOAD_BATCH = 500
SYSTEMS = ("MemkvStore", "SqliteStore", "InMemoryStore")
QUERY = "marathon training schedule and running shoes"


def namespace_of(i: int, namespaces: int) -> tuple[str, ...]:
    return ("users", f"user-{i % namespaces:02d}", "memories")


def item_of(i: int, namespaces: int, rng: random.Random) -> dict[str, Any]:
    """Item ``i``'s value: its kinds take turns within each namespace."""
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16)))
    return {"text": text, "kind": KINDS[i // namespaces % len(KINDS)], "rank": i % 100}


def fake_embed(dims: int) -> Callable[[Sequence[str]], list[list[float]]]:
    """A deterministic embedding: a unit normal vector seeded by the text's digest."""

    def embed(texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest())
            vector = np.random.default_rng(seed).standard_normal(dims)
            vectors.append((vector / np.linalg.norm(vector)).tolist())
        return vectors

    return embed


def sqlite_connection(path: Path, *, extensions: bool) -> sqlite3.Connection:
    """A connection as ``SqliteStore.from_conn_string`` opens one. sqlite-vec is an
    extension, which a Python built without loadable extensions (pyenv's default)
    cannot load: then ``pysqlite3`` (the bench extra), the same API on its own SQLite."""
    module: Any = sqlite3
    if extensions and not hasattr(sqlite3.Connection, "enable_load_extension"):
        module = importlib.import_module("pysqlite3.dbapi2")
    connection: sqlite3.Connection = module.connect(
        str(path), check_same_thread=False, isolation_level=None
    )
    return connection


@contextmanager
def stores(directory: Path, index: IndexConfig | None) -> Iterator[dict[str, BaseStore]]:
    """The three stores, empty, each given ``index``; closed (and their files left in
    ``directory``) on exit."""
    with ExitStack() as stack:
        memkv_store = stack.enter_context(MemkvStore.from_path(directory / "memkv", index=index))
        connection = sqlite_connection(directory / "sqlite.db", extensions=index is not None)
        stack.callback(connection.close)
        sqlite_store = SqliteStore(connection, index=index)
        sqlite_store.setup()
        yield {
            "MemkvStore": memkv_store,
            "SqliteStore": sqlite_store,
            "InMemoryStore": InMemoryStore(index=index),
        }


def fill(store: BaseStore, items: list[tuple[tuple[str, ...], str, dict[str, Any]]]) -> None:
    for start in range(0, len(items), LOAD_BATCH):
        store.batch([PutOp(ns, key, value) for ns, key, value in items[start : start + LOAD_BATCH]])


# -- the benchmarks ----------------------------------------------------------------------


def operations(
    store: BaseStore, args: argparse.Namespace, keys: list[tuple[tuple[str, ...], str]]
) -> dict[str, Callable[[], object]]:
    """Each timed operation on ``store``; every store draws the same random choices."""
    get_rng, search_rng, put_counter = random.Random(2), random.Random(3), itertools.count()
    put_rng = random.Random(4)

    def put() -> None:
        n = next(put_counter)
        store.put(
            namespace_of(n, args.namespaces), f"new-{n:07d}", item_of(n, args.namespaces, put_rng)
        )

    def get() -> None:
        namespace, key = get_rng.choice(keys)
        assert store.get(namespace, key) is not None

    def search_filter() -> None:
        namespace = namespace_of(search_rng.randrange(args.namespaces), args.namespaces)
        assert len(store.search(namespace, filter={"kind": "fact"}, limit=10)) == 10

    def list_namespaces() -> None:
        assert len(store.list_namespaces(limit=1000)) >= args.namespaces

    def keyword() -> None:
        assert len(store.search(("users",), query=QUERY, limit=10)) == 10

    return {
        "put (durable)": put,
        "get": get,
        "search with a filter (limit 10)": search_filter,
        "list_namespaces": list_namespaces,
        "keyword query (limit 10)": keyword,
    }


def run_items(directory: Path, args: argparse.Namespace) -> tuple[Figures, list[dict[str, Any]]]:
    rng = random.Random(args.seed)
    items = [
        (namespace_of(i, args.namespaces), f"item-{i:07d}", item_of(i, args.namespaces, rng))
        for i in range(args.items)
    ]
    keys = [(namespace, key) for namespace, key, _ in items]
    figures: Figures = {}
    with stores(directory, None) as by_system:
        for store in by_system.values():
            fill(store, items)
        ops = {name: operations(store, args, keys) for name, store in by_system.items()}
        samples = {
            "put (durable)": args.put_samples,
            "get": args.read_samples,
            "search with a filter (limit 10)": args.read_samples,
            "list_namespaces": args.list_samples,
            "keyword query (limit 10)": args.query_samples,
        }
        for bench, count in samples.items():
            figures[bench] = interleaved({system: ops[system][bench] for system in SYSTEMS}, count)
        # MemkvStore keeps a search's reads until the next commit: after a write, the
        # same search reads the namespace afresh
        bench = "search with a filter (limit 10)"
        figures[bench + ", after a put"] = interleaved(
            {system: ops[system][bench] for system in SYSTEMS},
            args.read_samples // 4,
            before={system: ops[system]["put (durable)"] for system in SYSTEMS},
        )
        top = by_system["MemkvStore"].search(("users",), query=QUERY, limit=10)
        top10 = [
            {"namespace": list(hit.namespace), "key": hit.key, "score": hit.score, **hit.value}
            for hit in top
        ]
    return figures, top10


def run_vectors(directory: Path, args: argparse.Namespace) -> Figures:
    rng = random.Random(args.seed + 1)
    index: IndexConfig = {"dims": args.dims, "embed": fake_embed(args.dims), "fields": ["text"]}
    items = [
        (namespace_of(i, args.namespaces), f"vec-{i:07d}", item_of(i, args.namespaces, rng))
        for i in range(args.vector_items)
    ]
    query_rng = random.Random(5)
    queries = [" ".join(query_rng.choice(WORDS) for _ in range(5)) for _ in range(64)]
    with stores(directory, index) as by_system:
        for store in by_system.values():
            fill(store, items)

        def searcher(store: BaseStore) -> Callable[[], object]:
            chosen = itertools.cycle(queries)

            def search() -> None:
                hits = store.search(("users",), query=next(chosen), limit=10)
                assert len(hits) == 10
                assert hits[0].score is not None

            return search

        contenders = {system: searcher(by_system[system]) for system in SYSTEMS}
        figures = {"vector search (limit 10)": interleaved(contenders, args.vector_samples)}
        counter = itertools.count()

        def putter(store: BaseStore) -> Callable[[], object]:
            def put() -> None:  # a new item, embedded: MemkvStore reads the vectors afresh
                n = next(counter)
                store.put(("users", "new"), f"p-{n}", item_of(n, args.namespaces, rng))

            return put

        figures["vector search (limit 10), after a put"] = interleaved(
            contenders,
            max(5, args.vector_samples // 10),
            before={system: putter(by_system[system]) for system in SYSTEMS},
        )
        return figures


# -- report ------------------------------------------------------------------------------

TARGETS = {
    "put (durable)": Target("MemkvStore", "SqliteStore", "slowdown", 0.25),
    "get": Target("MemkvStore", "InMemoryStore", "slowdown", 2.0),
    "search with a filter (limit 10)": Target("MemkvStore", "InMemoryStore", "slowdown", 1.0),
    "search with a filter (limit 10), after a put": Target(
        "MemkvStore", "InMemoryStore", "slowdown", 1.0
    ),
    "list_namespaces": Target("MemkvStore", "InMemoryStore", "slowdown", 0.5),
    "vector search (limit 10)": Target("MemkvStore", "SqliteStore", "slowdown", 1.0),
    "vector search (limit 10), after a put": Target("MemkvStore", "SqliteStore", "slowdown", 1.0),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--vector-items", type=int, default=10_000)
    parser.add_argument("--dims", type=int, default=500)
    parser.add_argument("--put-samples", type=int, default=500, help="durable puts per store")
    parser.add_argument("--read-samples", type=int, default=3000, help="gets, searches")
    parser.add_argument("--list-samples", type=int, default=1000)
    parser.add_argument("--query-samples", type=int, default=500, help="keyword queries")
    parser.add_argument("--vector-samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", help="where to put the stores (default: the temp dir)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--output", default=str(RESULTS), help="where to write the results")
    args = parser.parse_args()
    if args.quick:
        args.items, args.namespaces, args.vector_items, args.dims = 600, 10, 300, 32
        args.put_samples, args.read_samples, args.list_samples = 40, 100, 50
        args.query_samples, args.vector_samples = 40, 20

    with workdir(args.dir) as directory:
        (directory / "items").mkdir()
        (directory / "vectors").mkdir()
        figures, top10 = run_items(directory / "items", args)
        figures |= run_vectors(directory / "vectors", args)

    command = "python benchmarks/bench_langgraph.py" + (" --quick" if args.quick else "")
    workload = {
        "items": args.items,
        "namespaces": args.namespaces,
        "vector_items": args.vector_items,
        "dims": args.dims,
        "query": QUERY,
    }
    lines = ["MemkvStore's top 10 for the keyword query " + repr(QUERY) + ":", ""]
    lines += ["| rank | namespace | key | score | text |", "|---:|---|---|---:|---|"]
    for rank, hit in enumerate(top10, start=1):
        lines.append(
            f"| {rank} | {'/'.join(hit['namespace'])} | {hit['key']} | {hit['score']:.3f} | "
            f"{hit['text']} |"
        )
    notes = (
        f"{args.items:,} items over {args.namespaces} namespaces; vector search over "
        f"{args.vector_items:,} items of {args.dims} dimensions. InMemoryStore and "
        "SqliteStore ignore a query without an index: their keyword figure is a search "
        "without ranking.\n\n" + "\n".join(lines)
    )
    output = Path(args.output)
    summary = report("langgraph", command, figures, TARGETS, output, notes)
    summary |= {"workload": workload, "keyword_top10": top10}
    encoded = msgspec.json.format(msgspec.json.encode(summary), indent=2)
    (output / "langgraph.json").write_bytes(encoded + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
