"""Expiry: entries stored with a time to live, gone from every read once it passes.

An entry stored with ``ttl=`` gets ``expires_at`` = its timestamp + ttl, kept in its
record and in the index by expiry time (`memkv.layout.expiry_key`). Once the store's
clock (`memkv.clock`) reaches ``expires_at`` the entry is *expired*: every read
acts as if it were absent, at once, whether or not it has been removed yet.
Removing expired entries (*sweeping*) is a range scan of the index by expiry time up
to now, so it costs what it removes: `memkv.Memory.sweep` does it in short
transactions, and each write transaction sweeps a few (`SWEPT_PER_WRITE`).

Until an expired entry is swept, the reads pay for hiding it: each read that lists,
counts or ranks entries first reads the expired ones that are still stored (one
range scan, and a header read each), see `expired`.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Final

from memkv import layout
from memkv.backends.base import ReadTxn, Table
from memkv.entry import EntryHeader, decode_header
from memkv.errors import CorruptRecord, InvalidArgument
from memkv.keys import prefix_end

SWEPT_PER_WRITE: Final = 2  # expired entries each write transaction removes
Ttl = float | timedelta  # seconds (an int will do), or a timedelta

_LARGEST_TTL: Final = timedelta(days=365 * 1000)


def check_ttl(ttl: object) -> timedelta | None:
    """``ttl`` as a `timedelta` (``None``: the entry never expires).

    Raises:
        InvalidArgument: not a number of seconds or a `timedelta`; not positive;
            NaN or infinite; more than a thousand years.
    """
    if ttl is None:
        return None
    if isinstance(ttl, timedelta):
        span = ttl
    elif isinstance(ttl, int | float) and not isinstance(ttl, bool):
        if not math.isfinite(ttl):
            raise InvalidArgument(f"ttl must be a finite number of seconds, not {ttl!r}")
        if ttl > _LARGEST_TTL.total_seconds():
            raise InvalidArgument(f"ttl {ttl!r} is more than {_LARGEST_TTL.days} days")
        span = timedelta(seconds=ttl)
    else:
        raise InvalidArgument(
            f"ttl must be a number of seconds, a timedelta or None, not {type(ttl).__name__}: "
            f"{ttl!r:.80}"
        )
    if span <= timedelta(0):
        raise InvalidArgument(f"ttl must be positive, not {ttl!r}")
    if span > _LARGEST_TTL:
        raise InvalidArgument(f"ttl {ttl!r} is more than {_LARGEST_TTL.days} days")
    return span


def expires_at(moment: datetime, ttl: timedelta | None) -> datetime | None:
    """When an entry written at ``moment`` with ``ttl`` (checked) expires."""
    return None if ttl is None else moment + ttl


def has_expired(expiry: datetime | None, now: datetime) -> bool:
    """Whether an entry that expires at ``expiry`` (``None``: never) has, at ``now``."""
    return expiry is not None and expiry <= now


def expired_keys(
    txn: ReadTxn, space: layout.Space, now: datetime, limit: int | None = None
) -> list[bytes]:
    """The keys of the entries of ``space`` expired at ``now`` and still stored,
    soonest expired first (at most ``limit``)."""
    prefix = layout.expiry_prefix(space)
    stop = layout.expired_before(space, now)
    skip = layout.expiry_key_skip(space)
    found = txn.scan(Table.INDEX, prefix, stop, limit=limit, keys_only=True)
    return [key[skip:] for key, _ in found]


def next_expiry(txn: ReadTxn, space: layout.Space, now: datetime) -> datetime | None:
    """When the first entry of ``space`` not yet expired at ``now`` expires
    (``None``: no such entry has a time to live)."""
    start = layout.expired_before(space, now)
    found = txn.scan(
        Table.INDEX, start, prefix_end(layout.expiry_prefix(space)), limit=1, keys_only=True
    )
    return layout.expiry_time(space, found[0][0]) if found else None


def expired(txn: ReadTxn, space: layout.Space, now: datetime) -> dict[bytes, EntryHeader | None]:
    """The entries of ``space`` expired at ``now`` and still stored, with their
    headers (``None``: the record cannot be read, or is gone: damage that `verify`
    reports)."""
    found: dict[bytes, EntryHeader | None] = {}
    for raw_key in expired_keys(txn, space, now):
        data = txn.get(Table.ENTRIES, space + raw_key)
        header = None
        if data is not None:
            try:
                header = decode_header(raw_key.decode("utf-8", errors="replace"), data)
            except CorruptRecord:
                header = None
        found[raw_key] = header
    return found
