"""Where the run log lives in a `memkv.Memory`: category ``run_log``, keys built by
`memkv.keys.pack`.

* ``("run_log", "by_time", workflow_id, started_us, run_id)`` -> `WorkflowRun`: a
  workflow's runs in start order (newest first is a reverse scan); ``started_us`` is
  microseconds since the epoch, ``run_id`` breaks ties, so the order is exact.
* ``("run_log", "run", workflow_id, run_id)`` -> the run's by_time key: finds a run
  by id, and its previous state on a re-save.
* ``("run_log", "paused", started_us, workflow_id, run_id)`` -> `WorkflowRun`: every
  workflow's paused runs, by start time.
* ``("run_log", "stats", workflow_id)`` -> `WorkflowStats`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from memkv.keys import pack

CATEGORY: Final = "run_log"
_ROOT: Final = "run_log"
PAUSED_PREFIX: Final = pack((_ROOT, "paused"))
HOLDINGS: Final = ((CATEGORY, pack((_ROOT,))),)  # (category, key prefix) of every record
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch (exact, unlike a float timestamp)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def time_prefix(workflow_id: str) -> str:
    return pack((_ROOT, "by_time", workflow_id))


def time_key(workflow_id: str, started_us: int, run_id: str) -> str:
    return pack((_ROOT, "by_time", workflow_id, started_us, run_id))


def run_key(workflow_id: str, run_id: str) -> str:
    return pack((_ROOT, "run", workflow_id, run_id))


def paused_key(started_us: int, workflow_id: str, run_id: str) -> str:
    return pack((_ROOT, "paused", started_us, workflow_id, run_id))


def stats_key(workflow_id: str) -> str:
    return pack((_ROOT, "stats", workflow_id))
