"""`Query`: one `list` / `keys` request, checked once and turned into the range scan
that serves it.

`Query.of` validates the filters and the paging (category, session id, key prefix,
limit, cursor, direction) and works out which table or index to scan and between
which bounds; the views (`memkv.views`) then run the scan as it says.
"""

from __future__ import annotations

from typing import Final

import msgspec

from memkv import layout
from memkv.backends.base import Table
from memkv.errors import InvalidArgument, InvalidKey
from memkv.keys import MAX_KEY_BYTES, check_name, encode_key, key_after, prefix_end

_EMPTY: Final = b""


class Query(msgspec.Struct, frozen=True, kw_only=True):
    """A checked `list` / `keys` request: scan ``table`` from ``start`` (inclusive)
    to ``stop`` (exclusive; ``None``: to the end), at most ``limit`` items, in
    descending order if ``reverse``. Each scanned key is ``index`` (a prefix naming
    the index and the key space) followed by the entry's key. Make one with
    `Query.of`."""

    table: Table
    index: bytes  # for the entries table: the space's prefix
    start: bytes
    stop: bytes | None
    limit: int | None
    reverse: bool
    covering: bool  # the scanned values are the records (entries, category index)
    empty: bool  # nothing to scan: a cursor at or past the range's end, or limit=0

    @classmethod
    def of(
        cls,
        category: str | None = None,
        session_id: str | None = None,
        prefix: str | None = None,
        limit: int | None = None,
        after: str | None = None,
        reverse: bool = False,
        space: layout.Space = layout.USER_SPACE,
    ) -> Query:
        """Check a request and work out its range (see `memkv.Memory.list` for what
        each argument means).

        Raises:
            InvalidArgument: a bad category, session id, prefix, limit or cursor.
        """
        check_filters(category, session_id)
        check_limit(limit)
        base = layout.index_prefix(space, category, session_id)
        index = base or space
        start = index + encode_prefix(prefix)
        stop = prefix_end(start) if start else layout.space_end(space)
        if after is not None:
            cursor = index + _encode_cursor(after)
            if reverse:
                stop = cursor if stop is None else min(stop, cursor)
            else:
                start = max(start, key_after(cursor))
        return cls(
            table=Table.ENTRIES if base is None else Table.INDEX,
            index=index,
            start=start,
            stop=stop,
            limit=limit,
            reverse=bool(reverse),
            covering=session_id is None,
            empty=limit == 0 or (stop is not None and start >= stop),
        )

    def continued(self, last: bytes) -> Query:
        """The same query for what comes after ``last``, a key it scanned (in its
        direction)."""
        start, stop = (self.start, last) if self.reverse else (key_after(last), self.stop)
        return msgspec.structs.replace(
            self, start=start, stop=stop, empty=stop is not None and start >= stop
        )


def check_filters(category: object, session_id: object) -> None:
    """Raises InvalidArgument unless each filter is None or a valid name."""
    if category is not None:
        check_name(category, "category")
    if session_id is not None:
        check_name(session_id, "session_id")


def check_limit(limit: object) -> None:
    """Raises InvalidArgument unless ``limit`` is None (no limit) or an int >= 0 (0:
    nothing is returned, and nothing read)."""
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise InvalidArgument(f"limit must be an integer >= 0 or None, not {limit!r:.80}")


def encode_prefix(prefix: object) -> bytes:
    """A checked key prefix as bytes (``None``: the empty prefix, no filter).

    Raises:
        InvalidArgument: not a str, not UTF-8, or longer than a key can be.
    """
    if prefix is None:
        return _EMPTY
    if not isinstance(prefix, str):
        raise InvalidArgument(f"prefix must be a str, not {type(prefix).__name__}: {prefix!r:.80}")
    try:
        raw = prefix.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgument(f"prefix {prefix!r:.80} is not encodable as UTF-8") from exc
    if len(raw) > MAX_KEY_BYTES:
        raise InvalidArgument(f"prefix {prefix!r:.80} is longer than a key can be")
    return raw


def _encode_cursor(after: object) -> bytes:
    try:
        return encode_key(after)
    except InvalidKey as exc:
        raise InvalidArgument(f"after= must be a key (the last key of a page): {exc}") from exc
