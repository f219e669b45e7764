"""Time as a store reads it: the moment that stamps an entry, and the one that decides
whether an entry has expired.

A store reads the system clock unless it is opened with ``clock=``, a function that
returns the current time as a timezone-aware `datetime` (tests move it by hand to
make entries expire without sleeping). Every reading of one store comes from its
`Clock`: entry timestamps, the time part of entry ids, and "now" for expiry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from memkv.errors import InvalidArgument

Now = Callable[[], datetime]  # the current time, timezone-aware
Reading = tuple[datetime, str]  # a clock reading: entry timestamp (UTC) and id prefix

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


class Clock:
    """A store's clock: the system's, or a function given at open."""

    __slots__ = ("_now",)

    def __init__(self, now: Now | None = None) -> None:
        """``now``: the function to read (``None``: the system clock).

        Raises:
            InvalidArgument: ``now`` is not callable.
        """
        if now is not None and not callable(now):
            raise InvalidArgument(
                f"clock must be a function returning an aware datetime, not {now!r:.80}"
            )
        self._now = now

    @property
    def is_system(self) -> bool:
        return self._now is None

    def reading(self) -> Reading:
        """The current time (UTC) and the id prefix of the same instant: 12 hex digits
        of Unix milliseconds.

        Raises:
            InvalidArgument: the given function returned something else than an aware
                `datetime`.
        """
        if self._now is None:
            nanos = time.time_ns()
            return datetime.fromtimestamp(nanos / 1e9, UTC), format(nanos // 1_000_000, "012x")
        moment = self.now()
        delta = moment - _EPOCH
        millis = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
        return moment, format(max(millis, 0), "012x")

    def now(self) -> datetime:
        """The current time, in UTC (see `reading`)."""
        if self._now is None:
            return datetime.now(UTC)
        moment = self._now()
        if not isinstance(moment, datetime) or moment.utcoffset() is None:
            raise InvalidArgument(
                f"the store's clock returned {moment!r:.80}, not a timezone-aware datetime"
            )
        return moment.astimezone(UTC)


SYSTEM_CLOCK: Final = Clock()
