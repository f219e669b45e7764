"""The enhance log's operations as transaction functions on a `memkv.Transaction`
(writes) or a read view (reads): the sync store and its async twin both run these."""

from __future__ import annotations

from typing import Any, Final

import memkv
from enhance_log.errors import EnhanceLogConflict, EnhanceLogNotFound, InvalidEnhanceLogEntry
from enhance_log.keys import (
    ENTRIES,
    ISSUES,
    TIMELINE,
    blueprint_prefix,
    entry_key,
    issue_key,
    timeline_key,
    timeline_prefix,
)
from enhance_log.types import EnhanceLogEntry, EnhanceLogPage
from memkv.entry import check_record
from memkv.keys import decode_cursor, encode_cursor, pack, unpack
from memkv.query import check_limit

_POSITION: Final = (int, int)  # (ts_ms, seq): the order of both listings


def append(tx: memkv.Transaction, entry: EnhanceLogEntry) -> None:
    """Append ``entry``: create-only, with its index entries, in ``tx``.

    Raises:
        EnhanceLogConflict: the issue_id is already in the log (nothing changes).
        InvalidEnhanceLogEntry: the ids do not fit a key.
        memkv.InvalidArgument: ``entry`` is not an `EnhanceLogEntry`.
        memkv.InvalidContent: a field holds another type than it declares.
    """
    check_record(entry, EnhanceLogEntry, "an enhance log entry")
    seq = tx.count(ENTRIES)  # appends so far: nothing is ever removed
    key = entry_key(entry.blueprint_id, entry.ts_ms, seq)
    try:
        tx.insert(issue_key(entry.issue_id), key, category=ISSUES)
        tx.store(key, entry, category=ENTRIES)
    except memkv.Conflict as exc:
        raise EnhanceLogConflict(entry.issue_id) from exc
    except memkv.InvalidKey as exc:
        raise InvalidEnhanceLogEntry(
            f"entry {entry.issue_id!r}: issue_id or blueprint_id too long for a key ({exc})"
        ) from exc
    tx.store(timeline_key(entry.ts_ms, seq), key, category=TIMELINE)


def get(view: memkv.Reader, issue_id: str) -> EnhanceLogEntry:
    """The entry of ``issue_id``.

    Raises:
        EnhanceLogNotFound: no such entry.
        memkv.CorruptRecord: the stored entry cannot be read, or is missing.
    """
    pointer = view.get(issue_key(issue_id), type=str)
    if pointer is None:
        raise EnhanceLogNotFound(issue_id)
    return _entry_at(view, pointer.content, pointer.key)


def _entry_at(view: memkv.Reader, key: str, named_by: str) -> EnhanceLogEntry:
    found = view.get(key, type=EnhanceLogEntry)
    if found is None:
        raise memkv.CorruptRecord(
            f"enhance log key {named_by!r} names entry {key!r}, which is absent", key=named_by
        )
    entry: EnhanceLogEntry = found.content
    return entry


def count(view: memkv.Reader) -> int:
    return view.count(ENTRIES)


def page_by_blueprint(
    view: memkv.Reader, blueprint_id: str, limit: int | None, cursor: str | None, reverse: bool
) -> EnhanceLogPage:
    """Entries of one blueprint, straight from their range of keys."""
    prefix = blueprint_prefix(blueprint_id)
    found, after = _positioned(view, prefix, limit, cursor, reverse, EnhanceLogEntry)
    entries = [item.content for item in found]
    return EnhanceLogPage(entries=entries, next_cursor=after)


def page_all(
    view: memkv.Reader, limit: int | None, cursor: str | None, reverse: bool
) -> EnhanceLogPage:
    """The whole log, through the timeline index."""
    found, after = _positioned(view, timeline_prefix(), limit, cursor, reverse, str)
    entries = [_entry_at(view, item.content, item.key) for item in found]
    return EnhanceLogPage(entries=entries, next_cursor=after)


def _positioned(
    view: memkv.Reader,
    prefix: str,
    limit: int | None,
    cursor: str | None,
    reverse: bool,
    content_type: type,
) -> tuple[list[memkv.MemoryEntry[Any]], str | None]:
    """One page of the keys under ``prefix`` that end in (ts_ms, seq), after
    ``cursor``, and the cursor of the next page (``None`` after the last)."""
    check_limit(limit)
    after = None if cursor is None else prefix + pack(decode_cursor(cursor, _POSITION))
    if limit == 0:  # nothing read: no page to follow either
        return [], None
    fetch = None if limit is None else limit + 1  # one more: is there a next page?
    found = view.list(prefix=prefix, after=after, limit=fetch, reverse=reverse, type=content_type)
    if limit is None or len(found) <= limit:
        return found, None
    found = found[:limit]
    return found, encode_cursor(unpack(found[-1].key)[-2:])
