"""The ``memkv export`` and ``memkv import`` commands: a store's entries as JSON Lines
(`memkv.Memory.export_jsonl`), and back into a store (`memkv.Memory.import_jsonl`).

    memkv export PATH [filters] [-o FILE]            stdout unless -o
    memkv import PATH FILE [--on-conflict POLICY]    error (default), skip or replace
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import memkv
from memkv.cli import arguments, render
from memkv.transfer import CONFLICT_POLICIES

Opener = Callable[..., memkv.Memory]  # the command's `_open(path, *, readonly=True)`
Commands = Any  # argparse's subparsers action (a private type)

_OK = 0


def add_commands(commands: Commands, path_help: str, open_store: Opener) -> None:
    """Add ``export`` and ``import`` to the command's subparsers; ``open_store``
    opens the store at PATH (creating none)."""
    exporting = commands.add_parser(
        "export", help="write entries as JSON Lines, every field of each (stdout unless -o)"
    )
    exporting.add_argument("path", type=arguments.location, help=path_help)
    arguments.add_entry_filters(exporting)
    exporting.add_argument(
        "--since", type=moment, help="written at or after this time (ISO 8601; UTC if no offset)"
    )
    exporting.add_argument("--until", type=moment, help="written before this time")
    exporting.add_argument(
        "-o",
        "--output",
        type=arguments.location,
        help="the file to write, replaced whole once the export is complete ('-': stdout)",
    )
    exporting.set_defaults(command=functools.partial(export, open_store))

    importing = commands.add_parser(
        "import", help="store the entries of an export file, with their ids and timestamps"
    )
    importing.add_argument("path", type=arguments.location, help=path_help)
    importing.add_argument(
        "file", type=arguments.location, help="a file memkv export wrote ('-': stdin)"
    )
    importing.add_argument(
        "--on-conflict",
        choices=CONFLICT_POLICIES,
        default="error",
        help="at a key already present: refuse the whole file (error, the default), keep "
        "the stored entry (skip), or write the file's over it (replace)",
    )
    importing.set_defaults(command=functools.partial(import_, open_store))


def moment(text: str) -> datetime:
    """An ISO 8601 time; without a UTC offset, taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def export(open_store: Opener, args: argparse.Namespace) -> int:
    """``memkv export``: the count goes to stderr when the lines go to stdout."""
    prefix = arguments.prefix_of(args)
    filters: dict[str, Any] = {
        "category": args.category,
        "session_id": args.session_id,
        "prefix": prefix,
        "since": args.since,
        "until": args.until,
    }
    with open_store(args.path) as mem:
        if args.output is None or args.output == "-":
            sys.stdout.flush()
            stdout = getattr(sys.stdout, "buffer", sys.stdout)
            count = mem.export_jsonl(stdout, **filters)
            stdout.flush()
            print(f"memkv: exported {count} entries", file=sys.stderr)
        else:
            count = mem.export_jsonl(args.output, **filters)
            print(f"exported {count} entries to {render.escape(args.output)}")
    return _OK


def import_(open_store: Opener, args: argparse.Namespace) -> int:
    """``memkv import``: a key already present, under ``--on-conflict error``, is bad
    input (exit status 2), as a bad line is."""
    source = getattr(sys.stdin, "buffer", sys.stdin) if args.file == "-" else args.file
    with open_store(args.path, readonly=False) as mem:
        try:
            report = mem.import_jsonl(source, on_conflict=args.on_conflict)
        except memkv.ImportConflict as exc:
            raise memkv.InvalidArgument(str(exc)) from exc
    print(
        f"imported {report.imported}, replaced {report.replaced}, skipped {report.skipped} "
        f"of {report.lines} lines from {render.escape(args.file)}"
    )
    return _OK
