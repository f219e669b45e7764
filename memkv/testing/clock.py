"""`ManualClock`: a clock that moves only when told, for tests of expiry.

>>> from datetime import timedelta
>>> import memkv
>>> from memkv.testing import ManualClock
>>> clock = ManualClock()
>>> mem = memkv.open(":memory:", clock=clock)
>>> _ = mem.store("otp", "123456", ttl=60)
>>> _ = clock.advance(timedelta(seconds=59))
>>> mem.get("otp").content
'123456'
>>> _ = clock.advance(1)
>>> mem.get("otp") is None
True
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

__all__ = ["ManualClock"]

_START = datetime(2030, 1, 1, tzinfo=UTC)


class ManualClock:
    """Pass it as ``memkv.open(..., clock=clock)``: the store's time is the clock's,
    which stays where it is until `advance` or `set` moves it. Thread-safe."""

    def __init__(self, start: datetime = _START) -> None:
        """``start``: the first time (timezone-aware; default 2030-01-01 UTC)."""
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        return self._now

    def advance(self, by: timedelta | float) -> datetime:
        """Move forward by ``by`` (a `timedelta` or seconds); return the new time."""
        step = by if isinstance(by, timedelta) else timedelta(seconds=by)
        with self._lock:
            self._now += step
            return self._now

    def set(self, moment: datetime) -> None:
        """Move to ``moment`` (backwards too)."""
        with self._lock:
            self._now = moment
