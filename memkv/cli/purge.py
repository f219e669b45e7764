"""``memkv purge PATH (--category C | --session S | --prefix KEY | --parts PART...)
[--yes]``: remove every entry matching all the filters given (`memkv.Memory.purge`).

Without ``--yes`` it first prints how many entries match and asks on stdin; with
stdin not a terminal and no ``--yes``, it refuses (a usage error) rather than wait
for an answer no one will type. Filters are checked before the store is opened.
"""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any, Protocol

import memkv
from memkv.cli import arguments, render
from memkv.purge import PurgeFilter

_YES = frozenset({"y", "yes"})


class Opener(Protocol):
    """How the command opens the store at a path (`memkv.cli.main`'s)."""

    def __call__(self, path: str, *, readonly: bool = True) -> memkv.Memory: ...


def add_command(
    commands: argparse._SubParsersAction[Any], *, path_help: str, open_store: Opener
) -> None:
    """Add ``purge`` to the command's subcommands; ``open_store`` opens its store."""
    purging = commands.add_parser(
        "purge",
        help="remove every entry matching the filters (asks first, unless --yes)",
        description="Remove every entry matching all the filters given (at least one). "
        "Prints how many match and asks for confirmation, unless --yes.",
    )
    purging.add_argument("path", type=arguments.location, help=path_help)

    arguments.add_entry_filters(purging)
    purging.add_argument(
        "--yes", action="store_true", help="remove without asking (needed without a terminal)"
    )
    purging.set_defaults(command=functools.partial(run, open_store=open_store))


def run(args: argparse.Namespace, *, open_store: Opener) -> int:
    """The ``purge`` command; its exit status (0: done, or declined).

    Raises:
        InvalidArgument: no filter, an empty prefix, or no terminal to ask and no
            ``--yes`` (nothing is opened then).
        NotFound, MemkvError: as opening and purging the store raise them.
    """
    prefix = arguments.prefix_of(args)
    if args.category is None and args.session_id is None and prefix is None:
        raise memkv.InvalidArgument(
            "purge needs a filter: --category, --session, --prefix or --parts "
            "(it never removes a whole store)"
        )
    wanted = PurgeFilter.of(args.category, args.session_id, prefix)
    if not args.yes and not sys.stdin.isatty():
        raise memkv.InvalidArgument(
            "purge asks for confirmation on a terminal, and stdin is not one: "
            "pass --yes to remove without asking"
        )
    described = render.escape(wanted.describe())
    with open_store(args.path, readonly=False) as mem:
        if not args.yes:
            matching = mem.snapshot(wanted.count_in)
            print(f"{matching} entries match ({described})")
            if not matching:
                return 0
            if not _confirmed(f"remove them from {render.location(args.path)}? [y/N] "):
                print("nothing removed")
                return 0
        removed = mem.purge(category=wanted.category, session_id=wanted.session_id, prefix=prefix)
    print(f"removed {removed} entries ({described})")
    return 0


def _confirmed(question: str) -> bool:
    """Ask ``question`` on stdout; ``True`` if the answer read from stdin is yes (end
    of input is a no)."""
    sys.stdout.write(question)
    sys.stdout.flush()
    return sys.stdin.readline().strip().casefold() in _YES
