"""Where the enhance log keeps things in a `memkv.Memory` (all through memkv.keys.pack).

* ``("enhance_log", "entry", issue_id)`` -> the `EnhanceLogEntry` (category
  ``enhance_log``); the count of that category is the number of appends, which is
  the append sequence number, since nothing is ever removed.
* ``("enhance_log", "by_blueprint", blueprint_id, ts_ms, seq)`` -> issue_id and
  ``("enhance_log", "timeline", ts_ms, seq)`` -> issue_id (category
  ``enhance_log.index``): the two listings, in (ts_ms, append order).
"""

from __future__ import annotations

from typing import Final

from memkv.keys import pack

ENTRIES: Final = "enhance_log"  # category of the entries
INDEX: Final = "enhance_log.index"  # category of the index entries

_ROOT: Final = "enhance_log"
_ENTRY: Final = "entry"
_BY_BLUEPRINT: Final = "by_blueprint"
_TIMELINE: Final = "timeline"


def entry_key(issue_id: str) -> str:
    return pack((_ROOT, _ENTRY, issue_id))


def blueprint_prefix(blueprint_id: str) -> str:
    return pack((_ROOT, _BY_BLUEPRINT, blueprint_id))


def blueprint_key(blueprint_id: str, ts_ms: int, seq: int) -> str:
    return pack((_ROOT, _BY_BLUEPRINT, blueprint_id, ts_ms, seq))


def timeline_prefix() -> str:
    return pack((_ROOT, _TIMELINE))


def timeline_key(ts_ms: int, seq: int) -> str:
    return pack((_ROOT, _TIMELINE, ts_ms, seq))
