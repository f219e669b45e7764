"""Where the enhance log keeps things in a `memkv.Memory` (all through memkv.keys.pack).

* ``("enhance_log", "by_blueprint", blueprint_id, ts_ms, seq)`` -> the
  `EnhanceLogEntry` itself (category ``enhance_log``): listing a blueprint is one
  range scan that returns the entries, in (ts_ms, append order).
* ``("enhance_log", "issue", issue_id)`` -> the entry's key (category
  ``enhance_log.issue``): created with ``insert``, it makes an append create-only,
  and serves ``get``.
* ``("enhance_log", "timeline", ts_ms, seq)`` -> the entry's key (category
  ``enhance_log.timeline``): the whole log in (ts_ms, append order).

``seq`` is the number of appends before this one (the count of ``enhance_log``):
entries are never removed, so it only grows.
"""

from __future__ import annotations

from typing import Final

from memkv.keys import pack

ENTRIES: Final = "enhance_log"
ISSUES: Final = "enhance_log.issue"
TIMELINE: Final = "enhance_log.timeline"

_ROOT: Final = "enhance_log"
_BY_BLUEPRINT: Final = "by_blueprint"
_ISSUE: Final = "issue"
_TIMELINE: Final = "timeline"
# (category, key prefix) of every record
HOLDINGS: Final = tuple((category, pack((_ROOT,))) for category in (ENTRIES, ISSUES, TIMELINE))


def issue_key(issue_id: str) -> str:
    return pack((_ROOT, _ISSUE, issue_id))


def blueprint_prefix(blueprint_id: str) -> str:
    return pack((_ROOT, _BY_BLUEPRINT, blueprint_id))


def entry_key(blueprint_id: str, ts_ms: int, seq: int) -> str:
    return pack((_ROOT, _BY_BLUEPRINT, blueprint_id, ts_ms, seq))


def timeline_prefix() -> str:
    return pack((_ROOT, _TIMELINE))


def timeline_key(ts_ms: int, seq: int) -> str:
    return pack((_ROOT, _TIMELINE, ts_ms, seq))
