"""The ``memkv`` command: look into a store, forget a key, check a store, or run the
demo.

    memkv stats PATH              entries, categories, sessions, size on disk
    memkv get PATH KEY            one entry, its content whole
    memkv list PATH [filters]     entries in key order, one line each (--category,
                                  --session, --prefix or --parts, --limit, --after,
                                  --reverse, --full)
    memkv recall PATH QUERY       the entries that best match a text (BM25), best
                                  first, with scores (--limit, --category, --session,
                                  --full, --json)
    memkv forget PATH KEY         remove one entry
    memkv purge PATH [filters]    remove every entry matching all the filters given
                                  (--category, --session, --prefix or --parts); asks
                                  first unless --yes
    memkv export PATH [filters]   the entries as JSON Lines, every field (--category,
                                  --session, --prefix or --parts, --since, --until,
                                  -o FILE; stdout by default)
    memkv import PATH FILE        store the entries of an export file, ids and
                                  timestamps kept (--on-conflict error|skip|replace)
    memkv verify PATH [--repair]  records readable, indexes agree with entries? (exit 4
                                  if not); --repair removes what cannot be read and
                                  rebuilds the indexes and counts
    memkv backup PATH DEST        a consistent copy of an LMDB store in the new
                                  directory DEST, taken while agents write it
                                  (--no-compact: free pages too)
    memkv compact PATH            rewrite an LMDB store into its compacted copy,
                                  crash-safe; refused while a process has it open
    memkv demo [--path DIR]       an end-to-end demo on a new LMDB store
    memkv hypothesis PATH         the keys of a hypothesis example database in the
                                  store, with their example counts and sizes
    memkv bench [options]         write throughput here, beside raw py-lmdb
                                  (--durability, --value-size, --batch,
                                  --concurrency 1,8,64, --transactions,
                                  --store-size, --systems, --rounds, --dir)

Every command but ``forget``, ``purge``, ``import``, ``verify --repair``, ``compact``,
``demo`` and ``bench`` opens the store read-only, and none creates a store at PATH. Keys
are shown and taken in the key notation of `memkv.keys.render_key`; text output escapes
what a terminal would obey (`memkv.cli.render`). Arguments are checked before anything
runs; a failure is one line on stderr and an exit status of `Status`.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from enum import IntEnum
from pathlib import Path
from typing import Any, Final, NoReturn

import memkv
from memkv.cli import arguments, backup, bench, purge, render, transfer
from memkv.cli.demo import run_demo
from memkv.keys import render_key
from memkv.opening import LMDB, store_kind
from memkv.text import query_terms


class Status(IntEnum):
    """The command's exit statuses."""

    OK = 0
    NOT_FOUND = 1  # the key, the store at an LMDB path, a directory
    USAGE = 2  # a bad command, option or argument
    STORE_ERROR = 3  # any other memkv error (or the system's) about the store
    INCONSISTENT = 4  # verify found problems
    INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


EPILOG: Final = """\
keys:
  A key is written as its tuple if it was packed (memkv.keys.pack): ('sop', 7).
  Any other key is written as it is (user/name), or as a quoted Python string if
  it could be mistaken for a tuple, a quoted string or an option, or holds
  characters a terminal would obey: "('sop', 7)", '-x', 'a\\x1b[2J'.

exit status:
  0  success
  1  not found: the key, the store (PATH does not exist), a directory
  2  usage: a bad command, option or argument (checked before anything runs)
  3  store error: the store cannot be opened, read or written (a memkv error)
  4  verify found problems
  130  interrupted (Ctrl-C)
"""
_PATH_HELP: Final = "the store: an LMDB directory, :memory: or a postgresql:// URL"
_CONTENT_WIDTH: Final = 60  # characters of content per line of `list` (without --full)
_PROCESS_SETTINGS: Final = ("durability", "map_size", "max_map_size")  # not the store's


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command in ``argv`` (default: the process's arguments); the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help or --version, or a usage error already told
        return exc.code if isinstance(exc.code, int) else Status.USAGE
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        return command(args)
    except BrokenPipeError:  # `memkv list ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error
        return Status.OK
    except memkv.NotFound as exc:
        return _fail(exc, Status.NOT_FOUND)
    except memkv.InvalidArgument as exc:
        return _fail(exc, Status.USAGE)
    except (memkv.MemkvError, OSError) as exc:
        return _fail(exc, Status.STORE_ERROR)
    except KeyboardInterrupt:
        return _fail("interrupted", Status.INTERRUPTED)


def _fail(error: object, status: Status) -> Status:
    print(f"memkv: error: {render.escape(str(error))}", file=sys.stderr)
    return status


class _Parser(argparse.ArgumentParser):
    """argparse, telling a usage error on one line (the usage is under ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(Status.USAGE, f"{self.prog}: error: {render.escape(message)} (see --help)\n")


class _Version(argparse.Action):
    """``--version``: memkv's installed version (looked up only when asked)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **_: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print memkv's version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(f"memkv {importlib.metadata.version('memkv')}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="memkv",
        description=__doc__.split("\n\n")[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    key_help = "the key, in the key notation (see memkv --help)"

    stats = commands.add_parser("stats", help="entries, categories, sessions, size on disk")
    stats.add_argument("path", type=arguments.location, help=_PATH_HELP)
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(command=_stats)

    get = commands.add_parser("get", help="print one entry, its content whole")
    get.add_argument("path", type=arguments.location, help=_PATH_HELP)
    get.add_argument("key", type=arguments.key, help=key_help)
    get.add_argument("--json", action="store_true", help="print JSON (null if absent)")
    get.set_defaults(command=_get)

    _add_list(commands)
    _add_recall(commands)

    forget = commands.add_parser("forget", help="remove one entry (exit 1 if absent)")
    forget.add_argument("path", type=arguments.location, help=_PATH_HELP)
    forget.add_argument("key", type=arguments.key, help=key_help)
    forget.set_defaults(command=_forget)

    sweep = commands.add_parser("sweep", help="remove the entries that have expired")
    sweep.add_argument("path", type=arguments.location, help=_PATH_HELP)
    sweep.set_defaults(command=_sweep)
    transfer.add_commands(commands, _PATH_HELP, _open)
    purge.add_command(commands, path_help=_PATH_HELP, open_store=_open)

    verify = commands.add_parser(
        "verify", help="check that every record reads and the indexes agree with the entries"
    )
    verify.add_argument("path", type=arguments.location, help=_PATH_HELP)
    verify.add_argument(
        "--repair",
        action="store_true",
        help="remove the records that cannot be read and rebuild the indexes and counts, "
        "saying what it did",
    )
    verify.set_defaults(command=_verify)

    backup.add_commands(commands, open_store=_open, path_help=_PATH_HELP)

    demo = commands.add_parser("demo", help="run the end-to-end demo on a new LMDB store")
    demo.add_argument(
        "--path",
        type=arguments.directory,
        help="the directory to create the store in, as store-N (default: a new temp dir)",
    )
    demo.set_defaults(command=_demo)

    examples = commands.add_parser(
        "hypothesis", help="the keys of a hypothesis example database, with counts and sizes"
    )
    examples.add_argument("path", type=arguments.location, help=_PATH_HELP)
    examples.add_argument(
        "--name",
        default="examples",
        type=arguments.name("database name"),
        help="the database's name in the store",
    )
    examples.add_argument("--json", action="store_true", help="print JSON")
    examples.set_defaults(command=_hypothesis)

    _add_bench(commands)
    return parser


def _add_list(commands: argparse._SubParsersAction[_Parser]) -> None:
    listing = commands.add_parser("list", help="print entries in key order")
    listing.add_argument("path", type=arguments.location, help=_PATH_HELP)
    arguments.add_entry_filters(listing)
    listing.add_argument("--limit", type=arguments.at_least(0), help="at most this many")
    listing.add_argument(
        "--after", type=arguments.key, help="start after this key (the last of a page)"
    )
    listing.add_argument("--reverse", action="store_true", help="in descending key order")
    _add_output_options(listing)
    listing.set_defaults(command=_list)


def _add_output_options(parser: _Parser) -> None:
    """The options of a command that prints entries (see `_print_entries`)."""
    parser.add_argument("--full", action="store_true", help="show each content whole")
    formats = parser.add_mutually_exclusive_group()
    formats.add_argument(
        "--json", action="store_true", help="print JSON Lines: one JSON object per entry"
    )
    formats.add_argument("--json-array", action="store_true", help="print one JSON array")


def _add_recall(commands: argparse._SubParsersAction[_Parser]) -> None:
    finding = commands.add_parser(
        "recall", help="entries that best match a text (BM25), best first, with their scores"
    )
    finding.add_argument("path", type=arguments.location, help=_PATH_HELP)
    finding.add_argument(
        "query", help="plain text: its words are the terms (no query syntax); '' for the newest"
    )
    finding.add_argument(
        "--limit", type=arguments.at_least(0), default=10, help="at most this many (10)"
    )
    finding.add_argument("--category", type=arguments.name("category"), help="only this category")
    finding.add_argument(
        "--session", dest="session_id", type=arguments.name("session id"), help="only this session"
    )
    _add_output_options(finding)
    finding.set_defaults(command=_recall)


def _add_bench(commands: argparse._SubParsersAction[_Parser]) -> None:
    timing = commands.add_parser(
        "bench", help="measure write throughput here, beside raw py-lmdb doing the same"
    )
    timing.add_argument("--durability", choices=[level.value for level in memkv.Durability])
    timing.add_argument(
        "--value-size", type=arguments.at_least(1), default=200, help="characters per record"
    )
    timing.add_argument(
        "--batch", type=arguments.at_least(1), default=1, help="records per transaction"
    )
    timing.add_argument(
        "--concurrency",
        type=arguments.int_list,
        default=[1, 8, 64],
        help="writers at once, e.g. 1,8,64",
    )
    timing.add_argument(
        "--transactions", type=arguments.at_least(1), default=2000, help="per run (default 2000)"
    )
    timing.add_argument(
        "--store-size", type=arguments.at_least(0), default=10_000, help="records stored first"
    )
    timing.add_argument(
        "--systems",
        type=arguments.choice_list(bench.SYSTEMS),
        default=list(bench.SYSTEMS),
        help=f"of {', '.join(bench.SYSTEMS)} (default: all)",
    )
    timing.add_argument(
        "--rounds", type=arguments.at_least(1), default=1, help="runs per point (the median shown)"
    )
    timing.add_argument(
        "--dir",
        type=arguments.directory,
        help="an existing directory for the stores (default: the temp dir)",
    )
    timing.add_argument("--json", action="store_true", help="print JSON")
    timing.set_defaults(command=_bench)


def _open(path: str, *, readonly: bool = True) -> memkv.Memory:
    """The store at ``path``, which must exist: the command creates none.

    Raises:
        NotFound: ``path`` names an LMDB directory that does not exist.
        StoreUnavailable: there is no store at ``path``.
    """
    if store_kind(path) is LMDB and not Path(path).exists():
        raise memkv.NotFound(f"no store at {path}")
    if not readonly:
        memkv.open(path, readonly=True).close()  # is there a store? (opening it creates none)
    elif store_kind(path) is LMDB and not _lock_file_writable(Path(path)):
        print(
            f"memkv: note: {render.location(path)}: the lock file cannot be written (a backup, "
            "another user's store?); reading without it, so a process writing the store "
            "meanwhile could make this fail or read torn data",
            file=sys.stderr,
        )
        return memkv.open(path, readonly=True, lock=False)
    return memkv.open(path, readonly=readonly)


def _lock_file_writable(path: Path) -> bool:
    """Whether this process can use the LMDB lock file of the store at ``path``
    (LMDB writes it even to read, creating it if absent)."""
    lock_file = path / "lock.mdb"
    return os.access(lock_file if lock_file.exists() else path, os.W_OK)


def _stats(args: argparse.Namespace) -> int:
    with _open(args.path) as mem:
        figures = mem.backend.stats()
        report: dict[str, Any] = {
            "path": mem.backend.location if memkv.is_postgres_url(args.path) else args.path,
            "entries": mem.count(),
            "categories": mem.categories(),
            "sessions": mem.sessions(),
            "internal": {  # records of the packages built on memkv: not the user's
                "entries": mem.internal.count(),
                "categories": mem.internal.categories(),
            },
            "size_on_disk": figures.get("size_on_disk"),  # none in memory
            "backend": {k: v for k, v in figures.items() if k not in _PROCESS_SETTINGS},
        }
    if args.json:
        _print(render.json_text(report))
        return Status.OK
    escape = render.escape
    size_on_disk = report["size_on_disk"]
    if figures["backend"] == "lmdb":
        data_file = render.size(figures["data_file_size"])
        where = f"{render.size(size_on_disk)}  (data file {data_file})"
        engine = f"LMDB (library {figures['lmdb_version']})"
    elif size_on_disk is None:
        where = "none (in memory)"
        engine = f"{figures['backend']} (each process has its own; this one is new and empty)"
    else:
        where = render.size(size_on_disk)
        engine = f"{figures['backend']} {figures.get('server_version', '')}".rstrip()
    print(f"store        {escape(str(report['path']))}")
    print(f"entries      {report['entries']}")
    print(f"size on disk {where}")
    print(f"engine       {escape(engine)}")
    print("durability   chosen by each process that opens the store, not kept in it")
    print(f"categories   {len(report['categories'])}")
    for name, count in report["categories"].items():
        print(f"  {escape(name):<30} {count:>10}")
    print(f"sessions     {len(report['sessions'])}")
    for name, count in report["sessions"].items():
        print(f"  {escape(name):<30} {count:>10}")
    internal = report["internal"]
    print(f"internal     {internal['entries']} records of packages built on memkv, by category")
    for name, count in internal["categories"].items():
        print(f"  {escape(name):<30} {count:>10}")
    return Status.OK


def _get(args: argparse.Namespace) -> int:
    with _open(args.path) as mem:
        entry = mem.get(args.key)
    if entry is None:
        if args.json:
            _print("null")
        raise memkv.NotFound(f"no entry at key {render_key(args.key)}")
    if args.json:
        _print(render.json_text(render.entry_record(entry)))
        return Status.OK
    content = render.escape(render.content_text(entry.content), keep_newlines=True)
    print(f"key        {render_key(entry.key)}")
    print(f"id         {entry.id}")
    print(f"category   {render.escape(entry.category)}")
    print(f"session    {render.escape(entry.session_id or '-')}")
    print(f"timestamp  {entry.timestamp.isoformat()}")
    print(f"expires    {entry.expires_at.isoformat() if entry.expires_at else 'never'}")
    print(f"content    {render.indented(content, len('content    '))}")
    return Status.OK


def _list(args: argparse.Namespace) -> int:
    prefix = arguments.prefix_of(args)
    with _open(args.path) as mem:
        entries = mem.list(
            args.category,
            args.session_id,
            prefix=prefix,
            limit=args.limit,
            after=args.after,
            reverse=args.reverse,
        )
    return _print_entries(entries, args)


def _recall(args: argparse.Namespace) -> int:
    with _open(args.path) as mem:
        try:
            entries = mem.recall(
                args.query, args.limit, category=args.category, session_id=args.session_id
            )
        except memkv.InvalidArgument as exc:  # the arguments passed argparse: the store's
            raise memkv.StoreUnavailable(str(exc)) from exc
    return _print_entries(entries, args, scored=bool(query_terms(args.query)))


def _print_entries(
    entries: list[memkv.MemoryEntry[Any]], args: argparse.Namespace, *, scored: bool = False
) -> int:
    """Print entries as JSON Lines (``--json``), one JSON array (``--json-array``) or
    a table (with a SCORE column if ``scored``)."""
    if args.json:
        for entry in entries:
            _print(render.json_text(render.entry_record(entry)))
        return Status.OK
    if args.json_array:
        _print(render.json_text([render.entry_record(entry) for entry in entries]))
        return Status.OK
    escape = render.escape
    rows = [
        (
            *([f"{e.score:.4f}"] if scored and e.score is not None else []),
            render_key(e.key),
            escape(e.category),
            escape(e.session_id or "-"),
            render.when(e.timestamp),
            _cell(render.content_text(e.content), full=args.full),
        )
        for e in entries
    ]
    headers = (
        *(["SCORE"] if scored else []),
        "KEY",
        "CATEGORY",
        "SESSION",
        "UPDATED (UTC)",
        "CONTENT",
    )
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers[:-1])]
    for row in [headers, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]))
    print(f"({len(entries)} entries)")
    return Status.OK


def _cell(content: str, *, full: bool) -> str:
    return render.escape(content if full else render.shortened(content, _CONTENT_WIDTH))


def _forget(args: argparse.Namespace) -> int:
    with _open(args.path, readonly=False) as mem:
        found = mem.forget(args.key)
    if not found:
        raise memkv.NotFound(f"no entry at key {render_key(args.key)}")
    print(f"forgot {render_key(args.key)}")
    return Status.OK


def _sweep(args: argparse.Namespace) -> int:
    with _open(args.path, readonly=False) as mem:
        removed = mem.sweep() + mem.internal.sweep()
    print(f"swept {removed} expired {'entry' if removed == 1 else 'entries'}")
    return Status.OK


def _verify(args: argparse.Namespace) -> int:
    path = render.location(args.path)
    if args.repair:
        with _open(args.path, readonly=False) as mem:
            done = mem.repair()
            problems = mem.verify()
        for line in done:
            print(render.escape(line))
        print(f"{path}: repaired" if done else f"{path}: nothing to repair")
        if problems:  # cannot happen unless the store changed meanwhile in a bad way
            for problem in problems:
                print(render.escape(problem))
            return Status.INCONSISTENT
        return Status.OK
    with _open(args.path) as mem:
        problems = mem.verify()
        entries = mem.count()
    if not problems:
        print(f"{path}: consistent ({entries} entries)")
        return Status.OK
    for problem in problems:
        print(render.escape(problem))
    print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
    return Status.INCONSISTENT


def _demo(args: argparse.Namespace) -> int:
    if args.path is not None and args.path.exists() and not args.path.is_dir():
        raise memkv.InvalidArgument(f"--path {args.path} is not a directory")
    return run_demo(args.path)


def _hypothesis(args: argparse.Namespace) -> int:
    try:  # hypothesis is an optional dependency of memkv
        from memkv.testing.hypothesis_db import describe_key, examples_by_key  # noqa: PLC0415
    except ImportError as exc:
        raise memkv.NotFound(f"hypothesis is not installed: {exc}") from exc

    with _open(args.path) as mem:
        found = examples_by_key(mem, args.name)
    rows = sorted(
        ((describe_key(key), len(sizes), sum(sizes)) for key, sizes in found.items()),
        key=lambda row: row[0],
    )
    if args.json:
        _print(render.json_text([{"key": k, "examples": n, "bytes": size} for k, n, size in rows]))
        return Status.OK
    for key, n, size in rows:
        print(f"{render.escape(key):<72} {n:>6} {render.size(size):>10}")
    total = sum(n for _, n, _ in rows)
    name = render.escape(repr(args.name))
    print(f"{len(rows)} key(s), {total} example(s) in database {name}", file=sys.stderr)
    return Status.OK


def _bench(args: argparse.Namespace) -> int:
    if args.dir is not None and not args.dir.is_dir():
        if not args.dir.exists():
            raise memkv.NotFound(f"no directory {args.dir}")
        raise memkv.InvalidArgument(f"--dir {args.dir} is not a directory")
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
                f"stores of {workload.store_size} records under {render.escape(directory)}",
                file=sys.stderr,
            )
        systems = bench.open_systems(Path(directory), workload, args.systems)
        try:
            results = bench.measure(systems, args.concurrency, args.rounds)
        finally:
            for system in systems:
                system.close()
    if args.json:
        _print(render.json_text(bench.describe_results(results)))
    else:
        print(bench.table(results))
    return Status.OK


def _print(line: str) -> None:
    sys.stdout.write(line + "\n")


if __name__ == "__main__":
    sys.exit(main())
