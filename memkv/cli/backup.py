"""``memkv backup PATH DEST [--no-compact]`` and ``memkv compact PATH``: a consistent
copy of a store taken while agents write it, and a store rewritten into its compacted
copy (`memkv.Memory.backup`, `memkv.compact`; LMDB stores only)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import memkv
from memkv.backends.lmdb.copying import DATA_FILE
from memkv.cli import arguments, render

StoreOpener = Callable[[str], memkv.Memory]  # the command's read-only open of PATH


def add_commands(
    commands: argparse._SubParsersAction[Any], *, open_store: StoreOpener, path_help: str
) -> None:
    """Register ``backup`` and ``compact``; ``backup`` opens PATH with ``open_store``."""
    copying = commands.add_parser(
        "backup", help="copy a store, consistently, while agents write it (LMDB)"
    )
    copying.add_argument("path", type=arguments.location, help=path_help)
    copying.add_argument(
        "dest", type=arguments.location, help="the backup: a new directory (must not exist)"
    )
    copying.add_argument(
        "--no-compact",
        action="store_true",
        help="copy every page as it is, free ones too (faster; the copy is as large as the store)",
    )
    copying.set_defaults(command=lambda args: _backup(args, open_store))

    compacting = commands.add_parser(
        "compact", help="rewrite a store into its compacted copy, crash-safe (LMDB)"
    )
    compacting.add_argument("path", type=arguments.location, help=path_help)
    compacting.set_defaults(command=_compact)


def _backup(args: argparse.Namespace, open_store: StoreOpener) -> int:
    with open_store(args.path) as mem:
        target = mem.backup(args.dest, compact=not args.no_compact)
        live = mem.backend.stats()["data_file_size"]
    copied = (Path(target) / DATA_FILE).stat().st_size
    print(
        f"{render.location(args.path)} -> {render.escape(str(target))}: data file "
        f"{render.size(copied)} (the store's: {render.size(live)})"
    )
    return 0


def _compact(args: argparse.Namespace) -> int:
    done = memkv.compact(args.path)
    print(
        f"compacted {render.location(args.path)}: data file {render.size(done.size_before)}"
        f" -> {render.size(done.size_after)}"
    )
    return 0
