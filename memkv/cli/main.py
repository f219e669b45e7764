"""The ``memkv`` command: look into a store, check it, or run the demo.

    memkv stats PATH              entries, categories, sessions, sizes
    memkv get PATH KEY            one entry
    memkv list PATH [filters]     entries in key order (--category, --session,
                                  --prefix or --parts, --limit, --after, --reverse)
    memkv verify PATH             indexes agree with entries? (exit 1 if not)
    memkv demo [--path PATH]      an end-to-end demo on a real LMDB store
    memkv hypothesis PATH         the keys of a hypothesis example database in the
                                  store, with their example counts and sizes
    memkv bench [options]         write throughput here, beside raw py-lmdb
                                  (--durability, --value-size, --batch,
                                  --concurrency 1,8,64, --transactions,
                                  --store-size, --systems, --rounds, --dir)

Every command but ``demo`` and ``bench`` opens the store read-only; ``--json`` prints JSON for
scripts. Errors go to stderr with exit status 1 (2 for bad usage).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

import memkv
from memkv.cli import bench
from memkv.cli.demo import run_demo
from memkv.keys import describe, pack

_json = msgspec.json.Encoder()
_CONTENT_WIDTH = 60


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        return command(args)
    except memkv.MemkvError as exc:
        print(f"memkv: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `memkv list ... | head`
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memkv", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    stats = commands.add_parser("stats", help="entries, categories, sessions, sizes")
    stats.add_argument("path")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(command=_stats)

    get = commands.add_parser("get", help="print one entry")
    get.add_argument("path")
    get.add_argument("key")
    get.add_argument("--json", action="store_true", help="print JSON")
    get.set_defaults(command=_get)

    listing = commands.add_parser("list", help="print entries in key order")
    listing.add_argument("path")
    listing.add_argument("--category")
    listing.add_argument("--session", dest="session_id")
    listing.add_argument("--prefix", help="keys starting with this text")
    listing.add_argument(
        "--parts",
        nargs="+",
        metavar="PART",
        help="keys packed from a tuple starting with these parts (integers as such), "
        "e.g. --parts sop step run-7",
    )
    listing.add_argument("--limit", type=int, default=None)
    listing.add_argument("--after", help="start after this key (the last one of a page)")
    listing.add_argument("--reverse", action="store_true")
    listing.add_argument("--json", action="store_true", help="print JSON lines")
    listing.set_defaults(command=_list)

    verify = commands.add_parser("verify", help="check that indexes agree with entries")
    verify.add_argument("path")
    verify.set_defaults(command=_verify)

    demo = commands.add_parser("demo", help="run the end-to-end demo on a real LMDB store")
    demo.add_argument("--path", help="where to create the store (default: a new temp dir)")
    demo.set_defaults(command=_demo)

    examples = commands.add_parser(
        "hypothesis", help="the keys of a hypothesis example database, with counts and sizes"
    )
    examples.add_argument("path")
    examples.add_argument("--name", default="examples", help="the database's name in the store")
    examples.add_argument("--json", action="store_true", help="print JSON")
    examples.set_defaults(command=_hypothesis)

    bench = commands.add_parser(
        "bench", help="measure write throughput here, beside raw py-lmdb doing the same"
    )
    bench.add_argument("--durability", choices=[level.value for level in memkv.Durability])
    bench.add_argument("--value-size", type=int, default=200, help="characters per record")
    bench.add_argument("--batch", type=int, default=1, help="records per transaction")
    bench.add_argument(
        "--concurrency", type=_int_list, default=[1, 8, 64], help="writers at once, e.g. 1,8,64"
    )
    bench.add_argument("--transactions", type=int, default=2000, help="per run (default 2000)")
    bench.add_argument("--store-size", type=int, default=10_000, help="records stored first")
    bench.add_argument(
        "--systems",
        type=lambda text: text.split(","),
        default=["async", "threads", "raw", "raw-group"],
        help="of async, threads, raw, raw-group (default: all)",
    )
    bench.add_argument("--rounds", type=int, default=1, help="runs per point (the median shown)")
    bench.add_argument("--dir", help="where to create the stores (default: a new temp dir)")
    bench.add_argument("--json", action="store_true", help="print JSON")
    bench.set_defaults(command=_bench)
    return parser


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"concurrency must be at least 1: {text!r}")
    return values


def _open_readonly(path: str) -> memkv.Memory:
    return memkv.open(path, readonly=True)


def _stats(args: argparse.Namespace) -> int:
    with _open_readonly(args.path) as mem:
        figures = mem.backend.stats()
        shown = mem.backend.location if memkv.is_postgres_url(args.path) else args.path
        report = {
            "path": shown,  # a PostgreSQL URL without its password
            "entries": mem.count(),
            "categories": mem.categories(),
            "sessions": mem.sessions(),
            "size_on_disk": figures["size_on_disk"],
            "backend": figures,
        }
        if "map_size" in figures:
            report["map_size"] = figures["map_size"]
    if args.json:
        _print_json(report)
        return 0
    print(f"store        {report['path']}")
    print(f"entries      {report['entries']}")
    if figures["backend"] == "lmdb":
        data_file, ceiling = _size(figures["data_file_size"]), _size(figures["max_map_size"])
        print(f"size on disk {_size(figures['size_on_disk'])}  (data file {data_file})")
        print(f"map size     {_size(figures['map_size'])}  (grows by itself up to {ceiling})")
        print(f"durability   {figures['durability']}    LMDB {figures['lmdb_version']}")
    else:
        print(f"size on disk {_size(figures['size_on_disk'])}")
        print(f"engine       {figures['backend']} {figures.get('server_version', '')}".rstrip())
    print(f"categories   {len(report['categories'])}")
    for name, count in report["categories"].items():
        print(f"  {name:<30} {count:>10}")
    print(f"sessions     {len(report['sessions'])}")
    for name, count in report["sessions"].items():
        print(f"  {name:<30} {count:>10}")
    return 0


def _get(args: argparse.Namespace) -> int:
    with _open_readonly(args.path) as mem:
        entry = mem.get(args.key)
    if entry is None:
        print(f"memkv: no entry at key {args.key!r}", file=sys.stderr)
        return 1
    if args.json:
        _print_json(entry)
        return 0
    print(f"key        {describe(entry.key)}")
    print(f"id         {entry.id}")
    print(f"category   {entry.category}")
    print(f"session    {entry.session_id or '-'}")
    print(f"timestamp  {entry.timestamp.isoformat()}")
    print(f"content    {_render(entry.content)}")
    return 0


def _list(args: argparse.Namespace) -> int:
    prefix = args.prefix
    if args.parts:
        if prefix is not None:
            raise memkv.InvalidArgument("give --prefix or --parts, not both")
        prefix = pack(tuple(int(p) if _is_int(p) else p for p in args.parts))
    with _open_readonly(args.path) as mem:
        entries = mem.list(
            args.category,
            args.session_id,
            prefix=prefix,
            limit=args.limit,
            after=args.after,
            reverse=args.reverse,
        )
    if args.json:
        for entry in entries:
            _print_json(entry)
        return 0
    rows = [
        (describe(e.key), e.category, e.session_id or "-", _when(e.timestamp), _render(e.content))
        for e in entries
    ]
    headers = ("KEY", "CATEGORY", "SESSION", "UPDATED (UTC)", "CONTENT")
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers[:-1])]
    for row in [headers, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]))
    print(f"({len(entries)} entries)")
    return 0


def _verify(args: argparse.Namespace) -> int:
    with _open_readonly(args.path) as mem:
        problems = mem.verify()
        entries = mem.count()
    if not problems:
        print(f"{args.path}: consistent ({entries} entries)")
        return 0
    for problem in problems:
        print(problem)
    print(f"{args.path}: {len(problems)} problem(s)", file=sys.stderr)
    return 1


def _demo(args: argparse.Namespace) -> int:
    return run_demo(args.path)


def _hypothesis(args: argparse.Namespace) -> int:
    try:  # hypothesis is an optional dependency of memkv
        from memkv.testing.hypothesis_db import describe_key, examples_by_key  # noqa: PLC0415
    except ImportError as exc:
        print(f"memkv: error: hypothesis is not installed: {exc}", file=sys.stderr)
        return 1

    with _open_readonly(args.path) as mem:
        found = examples_by_key(mem, args.name)
    rows = sorted(
        ((describe_key(key), len(sizes), sum(sizes)) for key, sizes in found.items()),
        key=lambda row: row[0],
    )
    if args.json:
        _print_json([{"key": key, "examples": n, "bytes": size} for key, n, size in rows])
        return 0
    for key, n, size in rows:
        print(f"{key:<72} {n:>6} {_size(size):>10}")
    total = sum(n for _, n, _ in rows)
    print(f"{len(rows)} key(s), {total} example(s) in database {args.name!r}", file=sys.stderr)
    return 0


def _bench(args: argparse.Namespace) -> int:
    workload = bench.Workload(
        durability=memkv.Durability(args.durability or memkv.Options().durability),
        value_size=args.value_size,
        batch=args.batch,
        transactions=args.transactions,
        store_size=args.store_size,
    )
    with tempfile.TemporaryDirectory(prefix="memkv-bench-", dir=args.dir) as directory:
        if not args.json:
            print(
                f"{workload.durability.value} writes of {workload.batch} x {workload.value_size}"
                f"-character record(s), {workload.transactions} transactions per run, into "
                f"stores of {workload.store_size} records under {directory}",
                file=sys.stderr,
            )
        systems = bench.open_systems(Path(directory), workload, args.systems)
        try:
            results = bench.measure(systems, args.concurrency, args.rounds)
        finally:
            for system in systems:
                system.close()
    if args.json:
        _print_json(bench.describe_results(results))
    else:
        print(bench.table(results))
    return 0


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _render(content: Any) -> str:
    text = content if isinstance(content, str) else _json.encode(content).decode()
    text = text.replace("\n", " ")
    return text if len(text) <= _CONTENT_WIDTH else text[: _CONTENT_WIDTH - 1] + "…"


def _when(timestamp: datetime) -> str:
    return timestamp.strftime("%Y-%m-%d %H:%M:%S")


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _print_json(value: Any) -> None:
    sys.stdout.write(_json.encode(value).decode() + "\n")


if __name__ == "__main__":
    sys.exit(main())
