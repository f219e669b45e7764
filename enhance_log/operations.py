"""The enhance log's operations as transaction functions on a `memkv.Transaction`
(writes) or a read view (reads): the sync store and its async twin both run these."""

from __future__ import annotations

from typing import Final

import memkv
from enhance_log.errors import EnhanceLogConflict, EnhanceLogNotFound, InvalidEnhanceLogEntry
from enhance_log.keys import (
    ENTRIES,
    INDEX,
    blueprint_key,
    blueprint_prefix,
    entry_key,
    timeline_key,
    timeline_prefix,
)
from enhance_log.types import EnhanceLogEntry, EnhanceLogPage
from memkv.keys import decode_cursor, encode_cursor, pack, unpack
from memkv.memory import check_limit

_POSITION: Final = (int, int)  # (ts_ms, seq): the order of both listings


def append(tx: memkv.Transaction, entry: EnhanceLogEntry) -> None:
    """Append ``entry``: create-only, with its two index entries, in ``tx``.

    Raises:
        EnhanceLogConflict: the issue_id is already in the log (nothing changes).
        InvalidEnhanceLogEntry: the ids do not fit a key.
    """
    seq = tx.count(ENTRIES)  # appends so far: nothing is ever removed
    try:
        tx.insert(entry_key(entry.issue_id), entry, category=ENTRIES)
        tx.store(blueprint_key(entry.blueprint_id, entry.ts_ms, seq), entry.issue_id, INDEX)
    except memkv.Conflict as exc:
        raise EnhanceLogConflict(entry.issue_id) from exc
    except memkv.InvalidKey as exc:
        raise InvalidEnhanceLogEntry(
            f"entry {entry.issue_id!r}: issue_id or blueprint_id too long for a key ({exc})"
        ) from exc
    tx.store(timeline_key(entry.ts_ms, seq), entry.issue_id, INDEX)


def get(view: memkv.Reader, issue_id: str) -> EnhanceLogEntry:
    """The entry of ``issue_id``.

    Raises:
        EnhanceLogNotFound: no such entry.
        memkv.CorruptRecord: the stored entry cannot be read.
    """
    found = view.get(entry_key(issue_id), type=EnhanceLogEntry)
    if found is None:
        raise EnhanceLogNotFound(issue_id)
    entry: EnhanceLogEntry = found.content
    return entry


def count(view: memkv.Reader) -> int:
    return view.count(ENTRIES)


def page_by_blueprint(
    view: memkv.Reader, blueprint_id: str, limit: int | None, cursor: str | None, reverse: bool
) -> EnhanceLogPage:
    return _page(view, blueprint_prefix(blueprint_id), limit, cursor, reverse)


def page_all(
    view: memkv.Reader, limit: int | None, cursor: str | None, reverse: bool
) -> EnhanceLogPage:
    return _page(view, timeline_prefix(), limit, cursor, reverse)


def _page(
    view: memkv.Reader, prefix: str, limit: int | None, cursor: str | None, reverse: bool
) -> EnhanceLogPage:
    """Entries of one index, in (ts_ms, append order), after ``cursor``."""
    check_limit(limit)
    after = None if cursor is None else prefix + pack(decode_cursor(cursor, _POSITION))
    fetch = None if limit is None else limit + 1  # one more: is there a next page?
    index = view.list(INDEX, prefix=prefix, after=after, limit=fetch, reverse=reverse, type=str)
    more = limit is not None and len(index) > limit
    index = index[:limit]
    entries = []
    for item in index:
        found = view.get(entry_key(item.content), type=EnhanceLogEntry)
        if found is None:
            raise memkv.CorruptRecord(
                f"enhance log index names issue_id {item.content!r}, which has no entry",
                key=item.key,
            )
        entries.append(found.content)
    next_cursor = encode_cursor(unpack(index[-1].key)[-2:]) if more else None
    return EnhanceLogPage(entries=entries, next_cursor=next_cursor)
