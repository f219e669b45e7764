"""Argument types of the ``memkv`` command: each turns the text of one argument into
its value, or refuses it with `argparse.ArgumentTypeError` (a usage error, before
anything runs)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Collection
from pathlib import Path

import memkv
from memkv.keys import check_name, encode_key, pack, parse_key


def location(text: str) -> str:
    """Where a store is (``memkv.open``'s ``path``): any text but the empty one (which
    would name the current directory)."""
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def directory(text: str) -> Path:
    """A directory's path (whether it exists is for the command to judge)."""
    return Path(location(text))


def key(text: str) -> str:
    """A key in the key notation (`memkv.keys.parse_key`), checked as a key."""
    try:
        parsed = parse_key(text)
        encode_key(parsed)
    except memkv.InvalidKey as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return parsed


def key_prefix(text: str) -> str:
    """A key prefix in the key notation: a tuple names the keys packed from tuples
    that start with it; plain text, the keys that start with the text."""
    try:
        return parse_key(text)
    except memkv.InvalidKey as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def key_part(text: str) -> str | int:
    """One part of a packed key: an integer if it is written as one, else the text."""
    digits = text[1:] if text[:1] == "-" else text
    return int(text) if digits.isdigit() and digits.isascii() else text


def name(what: str) -> Callable[[str], str]:
    """A category or session id (``what`` names which, for the message)."""

    def checked(text: str) -> str:
        try:
            return check_name(text, what)
        except memkv.InvalidArgument as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return checked


def at_least(minimum: int) -> Callable[[str], int]:
    """An integer of at least ``minimum``."""

    def checked(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return checked


def int_list(text: str) -> list[int]:
    """Distinct positive integers separated by commas: ``1,8,64``."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"each must be at least 1: {text!r}")
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"a value repeats: {text!r}")
    return values


def choice_list(choices: Collection[str]) -> Callable[[str], list[str]]:
    """Distinct names from ``choices`` separated by commas."""

    def checked(text: str) -> list[str]:
        names = text.split(",")
        unknown = [name for name in names if name not in choices]
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown: {', '.join(map(repr, unknown))}; choose from {', '.join(choices)}"
            )
        if len(set(names)) != len(names):
            raise argparse.ArgumentTypeError(f"a name repeats: {text!r}")
        return names

    return checked


def add_entry_filters(parser: argparse.ArgumentParser) -> None:
    """The options that select entries as `memkv.Memory.list` does, for every command
    taking them: ``--category``, ``--session`` and one of ``--prefix`` or ``--parts``
    (read back with `prefix_of`)."""
    parser.add_argument("--category", type=name("category"), help="entries of this category")
    parser.add_argument(
        "--session", dest="session_id", type=name("session id"), help="entries of this session"
    )
    prefixes = parser.add_mutually_exclusive_group()
    prefixes.add_argument(
        "--prefix",
        type=key_prefix,
        help="keys starting with this, in the key notation: a tuple gives the keys "
        "packed from tuples that start with it",
    )
    prefixes.add_argument(
        "--parts",
        nargs="+",
        metavar="PART",
        type=key_part,
        help="keys packed from a tuple starting with these parts (integers as such), "
        "e.g. --parts sop step run-7",
    )


def prefix_of(args: argparse.Namespace) -> str | None:
    """The key prefix that `add_entry_filters`' options give (``None``: none)."""
    prefix: str | None = pack(tuple(args.parts)) if args.parts else args.prefix
    return prefix
