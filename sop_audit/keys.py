"""Where the SOP audit trail lives in a `memkv.Memory`: every key in category
``"sop"``, built by `memkv.keys.pack`, so a run id that is a prefix of another, or
holds ``_`` or NUL, never reaches the other run's keys.

* ``("sop", "run", run_id)`` -> `SopRun`
* ``("sop", "step", run_id, step_number)`` -> `SopStepResult` (steps in numeric order)
* ``("sop", "decision", run_id, step_number, kind)`` -> `SopRun`: approvals and
  timeout decisions, as revka keeps them
* ``("sop", "event", run_id, seq)`` -> `SopAuditEvent`: the run's timeline
* ``("sop", "status", status, run_id)``, ``("sop", "name", sop_name, run_id)`` and
  ``("sop", "name_status", sop_name, status, run_id)`` -> run_id: indexes of runs
"""

from __future__ import annotations

from typing import Final

from memkv.keys import pack

CATEGORY: Final = "sop"

_ROOT: Final = "sop"
RUNS_PREFIX: Final = pack((_ROOT, "run"))
HOLDINGS: Final = ((CATEGORY, pack((_ROOT,))),)  # (category, key prefix) of every record


def run_key(run_id: str) -> str:
    return pack((_ROOT, "run", run_id))


def step_key(run_id: str, step_number: int) -> str:
    return pack((_ROOT, "step", run_id, step_number))


def steps_prefix(run_id: str) -> str:
    return pack((_ROOT, "step", run_id))


def decision_key(run_id: str, step_number: int, kind: str) -> str:
    return pack((_ROOT, "decision", run_id, step_number, kind))


def event_key(run_id: str, seq: int) -> str:
    return pack((_ROOT, "event", run_id, seq))


def events_prefix(run_id: str) -> str:
    return pack((_ROOT, "event", run_id))


def index_keys(run_id: str, sop_name: str, status: str) -> tuple[str, str, str]:
    """The three index keys of a run in ``status``."""
    return (
        pack((_ROOT, "status", status, run_id)),
        pack((_ROOT, "name", sop_name, run_id)),
        pack((_ROOT, "name_status", sop_name, status, run_id)),
    )


def index_prefix(status: str | None, sop_name: str | None) -> str:
    """The index that lists runs by ``status``, ``sop_name`` or both."""
    if sop_name is None:
        return RUNS_PREFIX if status is None else pack((_ROOT, "status", status))
    if status is None:
        return pack((_ROOT, "name", sop_name))
    return pack((_ROOT, "name_status", sop_name, status))
