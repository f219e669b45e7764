"""The views of a store: `ReadOperations` (the read operations, written once),
`Reader` (them, on one snapshot) and `Transaction` (`Memory`'s operations inside one
write transaction, the view a transaction function receives).

Each view reads and writes one key space (`memkv.layout`): the user's, or, through
its ``internal`` view, the records of the packages built on memkv. A `Transaction`
keeps the entry records, the category and session indexes, their counts and (in the
user's space) the recall index (`memkv.recall`) in step, and tells the read cache
what it wrote in the user's space.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final, Literal, NamedTuple, TypeVar

import msgspec

from memkv import expiry, layout, recall
from memkv.backends.base import ReadTxn, Table, WriteTxn
from memkv.cache import ABSENT, CachedValue, cached_value
from memkv.clock import SYSTEM_CLOCK, Clock, Reading
from memkv.counts import CountChanges, add_counts, change_entry_counts, write_counts
from memkv.entry import (
    CORE,
    EntryHeader,
    MemoryEntry,
    decode_entries,
    decode_entry,
    decode_header,
    encode_entry,
    entry_decoder,
    new_entry_id,
)
from memkv.errors import Conflict, CorruptRecord, InvalidArgument, NotFound, TransactionClosed
from memkv.keys import check_name, encode_key, prefix_end, quote_key
from memkv.query import Query, check_filters, check_limit, encode_prefix
from memkv.text import entry_terms, query_terms

R = TypeVar("R")
# Aliases: inside the classes below, `list` names the method.
Entries = list[MemoryEntry[Any]]
KeyList = list[str]
Items = list[tuple[bytes, bytes]]

Hidden = dict[bytes, EntryHeader | None]  # expired entries still stored (`memkv.expiry`)
OnConflict = Literal["error", "skip", "replace"]  # `Transaction._restore`, at a present key
Restored = Literal["imported", "skipped", "replaced"]  # what it did

_ENTRIES: Final = Table.ENTRIES
_INDEX: Final = Table.INDEX
_EMPTY: Final = b""
_USER: Final = layout.USER_SPACE
_ALL: Final = 1 << 62  # a limit no store reaches

__all__ = [
    "Entries",
    "KeyList",
    "OnConflict",
    "ReadOperations",
    "Reader",
    "Restored",
    "Transaction",
]


class ReadOperations(ABC):
    """The read operations, written once for every view of a store: `Reader` runs
    them on its own snapshot, `memkv.Memory` each in a snapshot of its own, and
    `memkv.aio.AsyncMemory` derives its coroutines from `Memory`'s.

    Each operation checks that the view is usable (`_check_usable`), then its
    arguments, then hands a function of a `Reader` to `_read`. A view reads one key
    space, `_space`; its ``internal`` view reads the internal one.
    """

    __slots__ = ()
    _space: layout.Space

    def _check_usable(self) -> None:  # noqa: B027 - a hook: only Memory has something to check
        """Raise what would make any read fail (`Memory`: a closed store), so that it
        comes before complaints about the arguments."""

    @abstractmethod
    def _read(self, fn: Callable[[Reader], R], *, several_reads: bool = False) -> R:
        """``fn`` run on a `Reader` of one snapshot; ``several_reads``: ``fn`` reads
        more than one key (see `memkv.backends.base.Backend.read`)."""

    def get(self, key: str, type: Any = None) -> MemoryEntry[Any] | None:  # noqa: A002 - the API's name
        """The entry stored at ``key``, or ``None`` if absent.

        With ``type=``, the content is decoded into that type (a Struct, say).

        Raises:
            InvalidKey, InvalidArgument (a ``type`` msgspec cannot decode),
            TypeMismatch (the content does not fit ``type``), CorruptRecord.
        """
        self._check_usable()
        raw_key = encode_key(key)
        if type is not None:
            entry_decoder(type)
        return self._read(lambda reader: reader._get(key, raw_key, type))

    def list(
        self,
        category: str | None = None,
        session_id: str | None = None,
        *,
        prefix: str | None = None,
        limit: int | None = None,
        after: str | None = None,
        reverse: bool = False,
        type: Any = None,  # noqa: A002 - the API's name
    ) -> Entries:
        """Entries in key order (descending with ``reverse``), optionally filtered by
        category, session and key prefix; at most ``limit``, starting after the key
        ``after`` (the last key of the previous page).

        Served by a range scan of an index: the cost grows with what is returned,
        not with the size of the store.

        Raises:
            InvalidArgument: a bad category, session id, prefix, limit, cursor or type.
            TypeMismatch, CorruptRecord.
        """
        self._check_usable()
        query = Query.of(category, session_id, prefix, limit, after, reverse, self._space)
        if type is not None:
            entry_decoder(type)
        # several reads: the expired entries (`memkv.expiry`), then the scan; with a
        # session but no category, the entries the session index names
        return self._read(lambda reader: reader._entries(query, type), several_reads=True)

    def keys(
        self,
        category: str | None = None,
        session_id: str | None = None,
        *,
        prefix: str | None = None,
        limit: int | None = None,
        after: str | None = None,
        reverse: bool = False,
    ) -> KeyList:
        """The keys `list` would return, without reading or decoding the entries.

        Raises:
            InvalidArgument: a bad category, session id, prefix, limit or cursor.
        """
        self._check_usable()
        query = Query.of(category, session_id, prefix, limit, after, reverse, self._space)
        return self._read(lambda reader: reader._keys(query), several_reads=True)

    def count(self, category: str | None = None, session_id: str | None = None) -> int:
        """How many entries there are (in a category, a session, or both). O(1).

        Raises:
            InvalidArgument: a bad category or session id.
        """
        self._check_usable()
        check_filters(category, session_id)
        return self._read(lambda reader: reader._count(category, session_id), several_reads=True)

    def categories(self) -> dict[str, int]:
        """The categories in use, with their entry counts, in name order."""
        return self._read(
            lambda reader: reader._counted(layout.categories_counted, _category), several_reads=True
        )

    def sessions(self) -> dict[str, int]:
        """The session ids in use, with their entry counts, in id order."""
        return self._read(
            lambda reader: reader._counted(layout.sessions_counted, _session), several_reads=True
        )

    def recall(
        self,
        query: str,
        limit: int | None = 10,
        *,
        category: str | None = None,
        session_id: str | None = None,
        prefix: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Entries:
        """The entries that best match ``query``, ranked by BM25 (`memkv.recall`), each
        with its ``score`` (higher: more relevant); by score descending, then key.

        ``query`` is plain text, never a query language: its terms are its words
        (`memkv.text`); an entry must hold at least one of them. A query without terms
        (empty, only punctuation) returns the newest entries instead, newest first,
        with no score. ``category``, ``session_id``, a key ``prefix`` and ``since`` (inclusive) /
        ``until`` (exclusive), bounds on the entry's timestamp, filter the results;
        the statistics that rank them are the whole store's. At most ``limit``.

        Raises:
            InvalidArgument: a bad argument, the internal space, or a store that keeps
                no recall index (created with ``recall=False``).
            CorruptRecord.
        """
        self._check_usable()
        if not isinstance(query, str):
            raise InvalidArgument(f"query must be a str, not {type(query).__name__}: {query!r:.80}")
        check_limit(limit)
        check_filters(category, session_id)
        _check_moment(since, "since")
        _check_moment(until, "until")
        if self._space != layout.USER_SPACE:
            raise InvalidArgument("the internal key space keeps no recall index")
        raw_prefix = encode_prefix(prefix)
        search = Search(query_terms(query), limit, category, session_id, raw_prefix, since, until)
        return self._read(lambda reader: reader._recall(search), several_reads=True)


class Reader(ReadOperations):
    """The read operations on one snapshot (or inside a write transaction), in one
    key space (default: the user's), at one moment, ``now``: what has expired by
    then is absent (`memkv.expiry`)."""

    __slots__ = ("_expired", "_now", "_space", "_txn")

    def __init__(
        self, txn: ReadTxn, space: layout.Space = layout.USER_SPACE, now: datetime | None = None
    ) -> None:
        """``now``: the moment the view reads at (default: the system clock's, when
        first needed)."""
        self._txn = txn
        self._space = space
        self._now = now
        self._expired: Hidden | None = None

    @property
    def internal(self) -> Reader:
        """The same snapshot's internal key space: the records of the packages built
        on memkv, which the user's view never shows."""
        if self._space == layout.INTERNAL_SPACE:
            return self
        return Reader(self._txn, layout.INTERNAL_SPACE, self._moment())

    def _read(self, fn: Callable[[Reader], R], *, several_reads: bool = False) -> R:
        return fn(self)

    def _snapshot(self) -> ReadTxn:
        return self._txn

    @property
    def now(self) -> datetime:
        """The moment this view reads at: what has expired by then is absent. In a
        `Transaction`, also the ``timestamp`` of every entry it writes."""
        return self._moment()

    def next_expiry(self) -> datetime | None:
        """When the next entry of this view's space expires: the first expiry time
        after the moment the view reads at (``None``: no entry has a time to live).
        Until then, nothing this view's space shows changes but by a write."""
        return expiry.next_expiry(self._snapshot(), self._space, self._moment())

    def _moment(self) -> datetime:
        """The moment this view reads at."""
        now = self._now
        if now is None:
            now = self._now = SYSTEM_CLOCK.now()
        return now

    def _hidden(self) -> Hidden:
        """The expired entries of this view's space still stored (see `Hidden`)."""
        found = self._expired
        if found is None:
            found = self._expired = expiry.expired(self._snapshot(), self._space, self._moment())
        return found

    def _get(self, key: str, raw_key: bytes, type: Any) -> MemoryEntry[Any] | None:  # noqa: A002
        data = self._snapshot().get(_ENTRIES, self._space + raw_key)
        if data is None:
            return None
        entry = decode_entry(key, data, type)
        return None if expiry.has_expired(entry.expires_at, self._moment()) else entry

    def _visible(self, query: Query, *, keys_only: bool) -> Items:
        """`_scan`, less the expired entries; a page they thin out is topped up from
        further on, so that it is as long as the query's limit allows."""
        items = self._scan(query, keys_only=keys_only)
        if not items:
            return items
        hidden = self._hidden()
        if not hidden:
            return items
        skip = len(query.index)
        visible = [item for item in items if item[0][skip:] not in hidden]
        limit = query.limit
        while limit is not None and len(visible) < limit and len(items) == limit:
            query = query.continued(items[-1][0])
            items = self._scan(query, keys_only=keys_only)
            visible += [item for item in items if item[0][skip:] not in hidden]
        return visible if limit is None else visible[:limit]

    def _scan(self, query: Query, *, keys_only: bool) -> Items:
        if query.empty:
            return []
        return self._snapshot().scan(
            query.table,
            query.start,
            query.stop,
            reverse=query.reverse,
            limit=query.limit,
            keys_only=keys_only,
        )

    def _entries(self, query: Query, type: Any) -> Entries:  # noqa: A002
        items = self._visible(query, keys_only=False)
        skip = len(query.index)
        if query.covering:  # the entries table, or the category index: the records
            return decode_entries(items, skip, type)
        txn = self._snapshot()
        entries = []
        for index_key, _ in items:
            raw_key = index_key[skip:]
            key = _key_text(raw_key)
            data = txn.get(_ENTRIES, self._space + raw_key)
            if data is None:
                raise CorruptRecord(
                    f"the session index names {quote_key(key)}, which is absent", key=key
                )
            entries.append(decode_entry(key, data, type))
        return entries

    def _keys(self, query: Query) -> KeyList:
        skip = len(query.index)
        return [
            _key_text(storage_key[skip:]) for storage_key, _ in self._visible(query, keys_only=True)
        ]

    def _stored_keys(self, query: Query) -> KeyList:
        """`keys`, expired entries not yet swept included."""
        skip = len(query.index)
        return [_key_text(key[skip:]) for key, _ in self._scan(query, keys_only=True)]

    def _count(self, category: str | None, session_id: str | None) -> int:
        stored = self._stored_count(layout.count_key(self._space, category, session_id))
        for header in self._hidden().values():
            if (
                header is not None
                and category in (None, header.category)
                and session_id in (None, header.session_id)
            ):
                stored -= 1
        return stored

    def _stored_count(self, count_key: bytes) -> int:
        """The count at ``count_key``, as this view sees it."""
        return layout.decode_count(self._snapshot().get(_INDEX, count_key))

    def _recall(self, search: Search) -> Entries:
        txn = self._snapshot()
        kept = recall.setting(txn)
        if not kept:
            raise InvalidArgument(
                "this store keeps no recall index (it was created with recall=False)"
                if kept is False
                else "this store's recall index is not built yet (the store was made by a "
                "memkv before recall): open it once for writing to build it"
            )
        limit = _ALL if search.limit is None else search.limit
        hidden = self._hidden()
        accept = self._filter(search, hidden)
        entries: Entries = []
        found: list[tuple[float | None, bytes]]
        if search.terms:
            expired = [(raw_key, header.timestamp) for raw_key, header in hidden.items() if header]
            left_out = recall.documents_of(txn, expired) if expired else None
            found = list(
                recall.search(txn, self._stored_count, search.terms, limit, accept, left_out)
            )
        else:
            found = [(None, raw_key) for raw_key in recall.most_recent(txn, limit, accept)]
        for score, raw_key in found:
            key = _key_text(raw_key)
            data = txn.get(_ENTRIES, raw_key)
            if data is None:  # a posting left by a corrupt record's removal
                continue
            entry = decode_entry(key, data)
            entries.append(entry if score is None else msgspec.structs.replace(entry, score=score))
        return entries

    def _filter(self, search: Search, hidden: Hidden) -> recall.Accept | None:
        """Whether the entry at a key passes the search's filters and has not expired
        (``None``: no filter), by a point read of an index or of the entry."""
        txn = self._snapshot()
        tests: list[recall.Accept] = []
        if hidden:
            tests.append(lambda raw_key: raw_key not in hidden)
        if search.category is not None and search.session_id is not None:
            both = layout.category_session_prefix(_USER, search.category, search.session_id)
            tests.append(lambda raw_key: txn.get(_INDEX, both + raw_key) is not None)
        elif search.category is not None:
            category = layout.category_prefix(_USER, search.category)
            tests.append(lambda raw_key: txn.get(_INDEX, category + raw_key) is not None)
        elif search.session_id is not None:
            session = layout.session_prefix(_USER, search.session_id)
            tests.append(lambda raw_key: txn.get(_INDEX, session + raw_key) is not None)
        if search.prefix:
            key_prefix = _USER + search.prefix
            tests.append(lambda raw_key: raw_key.startswith(key_prefix))
        since, until = search.since, search.until
        if since is not None or until is not None:

            def in_time(raw_key: bytes) -> bool:
                data = txn.get(_ENTRIES, raw_key)
                if data is None:
                    return False
                moment = decode_header(_key_text(raw_key), data).timestamp
                return (since is None or moment >= since) and (until is None or moment < until)

            tests.append(in_time)
        if not tests:
            return None
        if len(tests) == 1:
            return tests[0]
        return lambda raw_key: all(test(raw_key) for test in tests)

    def _counted(
        self,
        counts_prefix: Callable[[layout.Space], bytes],
        name_of: Callable[[EntryHeader], str | None],
    ) -> dict[str, int]:
        """The names counted under ``counts_prefix`` with their counts, less the
        expired entries still stored (``name_of``: an entry's name there)."""
        counted = self._stored_names(counts_prefix)
        for header in self._hidden().values():
            name = None if header is None else name_of(header)
            if name in counted:
                counted[name] -= 1
                if not counted[name]:
                    del counted[name]
        return counted

    def _stored_names(self, counts_prefix: Callable[[layout.Space], bytes]) -> dict[str, int]:
        """The names counted under ``counts_prefix``, with their stored counts."""
        space = self._space
        prefix = counts_prefix(space)
        items = self._snapshot().scan(_INDEX, prefix, prefix_end(prefix))
        return {layout.counted_name(space, key): layout.decode_count(value) for key, value in items}


class Transaction(Reader):
    """The view a transaction function receives: `Memory`'s operations, all applied
    atomically when the function returns (and none of them if it raises).

    Valid only inside the function; using it afterwards raises `TransactionClosed`.
    Its ``internal`` view writes the internal key space in the same transaction.
    """

    __slots__ = (
        "_clock",
        "_counts",
        "_group_counts",
        "_internal",
        "_reading",
        "_recall_on",
        "_recall_updated",
        "_swept",
        "_write_txn",
        "_written",
        "_wrote",
    )

    def __init__(
        self,
        txn: WriteTxn,
        *,
        clock: Clock = SYSTEM_CLOCK,
        reading: Reading | None = None,
        group_counts: CountChanges | None = None,
        space: layout.Space = layout.USER_SPACE,
        counts: CountChanges | None = None,
    ) -> None:
        """``clock``: the store's; ``reading``: the clock reading to stamp entries with
        and to decide what has expired (default: one taken when first needed);
        ``group_counts``: the count changes of the transactions before this one in
        its group, not yet written (see `memkv.runs.GroupRun`), which this one's join
        when it finishes; ``space`` and ``counts``: for the internal view, its key
        space and the count changes it shares with the view it belongs to."""
        super().__init__(txn, space)
        self._write_txn: WriteTxn | None = txn
        # written (or joined to the group's) at the end
        self._counts: CountChanges = {} if counts is None else counts
        self._group_counts = group_counts
        self._written: dict[str, CachedValue] = {}  # for the read cache, after commit
        self._clock = clock
        self._reading = reading  # one time for all its writes
        self._internal: Transaction | None = None
        self._recall_on: bool | None = None  # does the store keep recall? (asked once)
        self._recall_updated = False  # has a write updated the recall index?
        self._wrote = False  # has this view written anything?
        self._swept = False  # has it swept expired entries?

    @property
    def internal(self) -> Transaction:
        """This transaction's view of the internal key space (the records of the
        packages built on memkv): its writes commit with this transaction's."""
        if self._space == layout.INTERNAL_SPACE:
            return self
        internal = self._internal
        if internal is None:
            internal = self._internal = Transaction(
                self._live(),
                clock=self._clock,
                reading=self._stamp(),  # one time for the writes of both views
                group_counts=self._group_counts,
                space=layout.INTERNAL_SPACE,
                counts=self._counts,
            )
        return internal

    def _snapshot(self) -> ReadTxn:
        return self._live()

    def _stamp(self) -> Reading:
        """The transaction's clock reading, taken when first needed."""
        reading = self._reading
        if reading is None:
            reading = self._reading = self._clock.reading()
        return reading

    def _moment(self) -> datetime:
        return self._stamp()[0]

    def _hidden(self) -> Hidden:
        """See `Reader._hidden`; read afresh each time, since the transaction writes."""
        return expiry.expired(self._live(), self._space, self._moment())

    def _recalls(self) -> bool:
        """Whether this view's writes are indexed for recall: the user's space of a
        store that keeps a recall index. Asked by each write before it updates the
        index, so a ``True`` also means the transaction's end must `recall.settle`."""
        on = self._recall_on
        if on is None:
            on = self._recall_on = self._space == layout.USER_SPACE and recall.kept(self._live())
        self._recall_updated |= on
        return on

    def _live(self) -> WriteTxn:
        txn = self._write_txn
        if txn is None:
            raise TransactionClosed("this transaction has ended; use tx only inside its function")
        return txn

    def store(
        self,
        key: str,
        content: Any,
        category: str = CORE,
        session_id: str | None = None,
        *,
        ttl: expiry.Ttl | None = None,
    ) -> MemoryEntry[Any]:
        """Store ``content`` at ``key`` (insert or replace). A replaced entry keeps its
        ``id``; its category and session may change. Storing the same content twice
        leaves one entry. A corrupt record at ``key`` is replaced (see `forget`); an
        expired one is replaced as if absent (a new ``id``).

        ``ttl`` (seconds, or a `timedelta`): the entry expires that long after this
        write (`memkv.expiry`); ``None``: never (a replace does not keep the old
        entry's expiry).

        Raises:
            InvalidKey, InvalidArgument (category, session id, ttl), InvalidContent.
        """
        raw_key = encode_key(key)
        check_names(category, session_id)
        span = expiry.check_ttl(ttl)
        previous = self._previous(key, raw_key)
        entry = self._entry(key, content, category, session_id, previous, span)
        return self._write(raw_key, entry, encode_entry(entry), previous)

    def insert(
        self,
        key: str,
        content: Any,
        category: str = CORE,
        session_id: str | None = None,
        *,
        ttl: expiry.Ttl | None = None,
    ) -> MemoryEntry[Any]:
        """Store ``content`` at ``key`` only if the key is absent (or holds an expired
        entry, which is replaced); ``ttl`` as in `store`.

        Raises:
            Conflict: the key is present (even as a corrupt record); the stored entry
                is left untouched.
            InvalidKey, InvalidArgument, InvalidContent.
        """
        raw_key = encode_key(key)
        check_names(category, session_id)
        span = expiry.check_ttl(ttl)
        previous = self._expired_or_absent(key, raw_key)
        entry = self._entry(key, content, category, session_id, previous, span)
        return self._write(raw_key, entry, encode_entry(entry), previous)

    def _expired_or_absent(self, key: str, raw_key: bytes) -> Stored | None:
        """For a create-only write: the expired entry stored at ``key`` (which the
        write replaces), or ``None`` if absent.

        Raises:
            Conflict: an entry that has not expired is there, or a corrupt record.
        """
        data = self._live().get(_ENTRIES, self._space + raw_key)
        if data is None:
            return None
        try:
            header = decode_header(key, data)
        except CorruptRecord:
            header = None
        if header is None or not expiry.has_expired(header.expires_at, self._moment()):
            raise Conflict(f"key {quote_key(key)} is already stored", key=key)
        return Stored(header, data)

    def _previous(self, key: str, raw_key: bytes) -> Stored | None:
        """The entry at ``key`` as stored (expired or not), or ``None`` if absent; a
        corrupt record there is removed with its index entries first (see `forget`)."""
        data = self._live().get(_ENTRIES, self._space + raw_key)
        if data is None:
            return None
        try:
            return Stored(decode_header(key, data), data)
        except CorruptRecord:
            self._remove_corrupt(key, raw_key)
            return None

    def _entry(
        self,
        key: str,
        content: Any,
        category: str,
        session_id: str | None,
        previous: Stored | None,
        ttl: timedelta | None,
    ) -> MemoryEntry[Any]:
        timestamp, id_prefix = self._stamp()
        return MemoryEntry(
            id=self._id_after(previous) or new_entry_id(id_prefix),
            key=key,
            content=content,
            category=category,
            timestamp=timestamp,
            session_id=session_id,
            expires_at=expiry.expires_at(timestamp, ttl),
        )

    def _id_after(self, previous: Stored | None) -> str | None:
        """The id a write over ``previous`` keeps: its own, unless it is absent or
        has expired (``None``: a new one)."""
        if previous is None or expiry.has_expired(previous.header.expires_at, self._moment()):
            return None
        return previous.header.id

    def _write_prepared(
        self, entry: MemoryEntry[Any], raw_key: bytes, record: bytes, *, only_if_absent: bool
    ) -> MemoryEntry[Any]:
        """`store` (or `insert`) of an entry checked, stamped and encoded beforehand
        (`memkv.runs.PreparedStore`)."""
        if only_if_absent:
            previous = self._expired_or_absent(entry.key, raw_key)
        else:
            previous = self._previous(entry.key, raw_key)
            kept_id = self._id_after(previous)
            if kept_id is not None:  # a replaced entry keeps its id
                entry = msgspec.structs.replace(entry, id=kept_id)
                record = encode_entry(entry)
        return self._write(raw_key, entry, record, previous)

    def _restore(
        self, entry: MemoryEntry[Any], raw_key: bytes, record: bytes, on_conflict: OnConflict
    ) -> Restored:
        """Write ``entry`` as it was exported (`memkv.transfer`): its id, timestamp and
        expiry kept, ``record`` its encoding and ``raw_key`` its key's, both checked
        beforehand. Where the key is present (as `insert` sees it: a corrupt record
        too, an expired entry not), ``on_conflict`` decides: ``"skip"`` leaves the
        stored entry, ``"replace"`` writes over it (a corrupt record removed first, as
        `store` does), ``"error"`` raises. Done twice, the second finds the first.

        Raises:
            Conflict: the key is present and ``on_conflict`` is ``"error"``.
        """
        if on_conflict != "replace":
            try:
                previous = self._expired_or_absent(entry.key, raw_key)
            except Conflict:
                if on_conflict == "skip":
                    return "skipped"
                raise
            self._write(raw_key, entry, record, previous)
            return "imported"
        previous = self._previous(entry.key, raw_key)
        self._write(raw_key, entry, record, previous)
        return "imported" if self._id_after(previous) is None else "replaced"

    def _write(
        self, raw_key: bytes, entry: MemoryEntry[Any], record: bytes, previous: Stored | None
    ) -> MemoryEntry[Any]:
        """Write ``entry`` (encoded as ``record``) over ``previous`` (``None``: a new
        key), keeping the indexes, counts and recall index in step."""
        space = self._space
        category, session_id = entry.category, entry.session_id
        txn = self._live()
        txn.put(_ENTRIES, space + raw_key, record)
        self._wrote = True
        self._move_expiry(raw_key, None if previous is None else previous.header, entry.expires_at)
        if previous is None:
            moved = True
        else:
            was = previous.header
            if was.category != category:
                txn.delete(_INDEX, layout.category_prefix(space, was.category) + raw_key)
            moved = was.category != category or was.session_id != session_id
            if moved:
                if was.session_id is not None:
                    self._unindex_session(raw_key, was.category, was.session_id)
                self._change_count(was.category, was.session_id, -1)
        txn.put(_INDEX, layout.category_prefix(space, category) + raw_key, record)
        if moved:
            if session_id is not None:
                txn.put(_INDEX, layout.session_prefix(space, session_id) + raw_key, _EMPTY)
                both = layout.category_session_prefix(space, category, session_id)
                txn.put(_INDEX, both + raw_key, _EMPTY)
            self._change_count(category, session_id, +1)
        if self._recalls():
            new = recall.Indexed(
                entry_terms(entry.key, _untyped_content(entry, record)), entry.timestamp
            )
            old = None if previous is None else previous.header.timestamp
            recall.update(txn, self._stored_count, self._counts, raw_key, old, new)
        self._written[entry.key] = cached_value(entry, record)
        return entry

    def forget(self, key: str) -> bool:
        """Remove the entry at ``key``; ``True`` if it was there, ``False`` if absent
        (an expired entry is removed too, and counts as absent).

        A corrupt record at ``key`` is removed too, with the index entries that name
        it (found through the categories and sessions in use), so that a damaged
        entry can always be taken out.

        Raises:
            InvalidKey.
        """
        raw_key = encode_key(key)
        header = self._remove(key, raw_key)
        return header is not None and (
            header is _CORRUPT or not expiry.has_expired(header.expires_at, self._moment())
        )

    def _remove(self, key: str, raw_key: bytes) -> EntryHeader | None:
        """Remove the entry at ``key`` with its index entries; its header (`_CORRUPT`
        for a corrupt record), or ``None`` if absent."""
        txn = self._live()
        data = txn.get(_ENTRIES, self._space + raw_key)
        if data is None:
            return None
        self._wrote = True
        self._written[key] = ABSENT
        try:
            previous = decode_header(key, data)
        except CorruptRecord:
            self._remove_corrupt(key, raw_key)
            return _CORRUPT
        txn.delete(_ENTRIES, self._space + raw_key)
        txn.delete(_INDEX, layout.category_prefix(self._space, previous.category) + raw_key)
        if previous.session_id is not None:
            self._unindex_session(raw_key, previous.category, previous.session_id)
        self._change_count(previous.category, previous.session_id, -1)
        self._move_expiry(raw_key, previous, None)
        if self._recalls():
            recall.update(txn, self._stored_count, self._counts, raw_key, previous.timestamp, None)
        return previous

    def touch(self, key: str, ttl: expiry.Ttl | None) -> MemoryEntry[Any]:
        """Make the entry at ``key`` expire ``ttl`` from now (``None``: never), without
        changing its content, timestamp or id; return it as it now is.

        Raises:
            NotFound: the key is absent, or its entry has expired.
            InvalidKey, InvalidArgument (ttl), CorruptRecord.
        """
        raw_key = encode_key(key)
        span = expiry.check_ttl(ttl)
        txn = self._live()
        data = txn.get(_ENTRIES, self._space + raw_key)
        entry = None if data is None else decode_entry(key, data)
        now = self._moment()
        if entry is None or expiry.has_expired(entry.expires_at, now):
            raise NotFound(f"key {quote_key(key)} is not stored (or has expired): nothing to touch")
        touched = msgspec.structs.replace(entry, expires_at=expiry.expires_at(now, span))
        record = encode_entry(touched)
        txn.put(_ENTRIES, self._space + raw_key, record)
        txn.put(_INDEX, layout.category_prefix(self._space, entry.category) + raw_key, record)
        self._move_expiry(raw_key, entry, touched.expires_at)
        self._wrote = True
        self._written[key] = cached_value(touched, record)
        return touched

    def _sweep(self, limit: int, budget: float | None = None) -> int:
        """Remove up to ``limit`` expired entries of this view's space, soonest
        expired first, stopping once ``budget`` seconds have gone by; how many were
        removed."""
        raw_keys = expiry.expired_keys(self._live(), self._space, self._moment(), limit)
        self._swept = True  # a transaction that sweeps sweeps no more at its end
        deadline = None if budget is None else time.perf_counter() + budget
        for done, raw_key in enumerate(raw_keys):
            if deadline is not None and time.perf_counter() > deadline:
                return done
            self._remove(_key_text(raw_key), raw_key)
        return len(raw_keys)

    def _move_expiry(
        self, raw_key: bytes, was: EntryHeader | MemoryEntry[Any] | None, expires: datetime | None
    ) -> None:
        """Keep the index by expiry time in step: the entry at ``raw_key`` expired at
        ``was``'s time (if any), and now at ``expires``."""
        old = None if was is None else was.expires_at
        if old == expires:
            return
        txn = self._live()
        if old is not None:
            txn.delete(_INDEX, layout.expiry_key(self._space, old, raw_key))
        if expires is not None:
            txn.put(_INDEX, layout.expiry_key(self._space, expires, raw_key), _EMPTY)

    def _move_to_internal(self, category: str, prefix: str, limit: int) -> int:
        """Move up to ``limit`` entries of ``category`` whose keys start with
        ``prefix`` from this view's space to the internal one, each as it was (id,
        timestamp, session); where the internal space already holds the key, its
        entry is the newer and stays. Returns how many were taken (see
        `memkv.legacy`)."""
        internal = self.internal
        entries = self.list(category, prefix=prefix, limit=limit)
        for entry in entries:
            raw_key = encode_key(entry.key)
            self.forget(entry.key)
            if internal._live().get(_ENTRIES, layout.INTERNAL_SPACE + raw_key) is None:
                internal._write(raw_key, entry, encode_entry(entry), None)
        return len(entries)

    def _remove_corrupt(self, key: str, raw_key: bytes) -> None:
        """Remove the unreadable record at ``raw_key`` and every index entry naming it.
        Its category and session are unknown, so each category and session in use is
        tried (a point read each); the counts of the first pair found lose it. Its
        recall document is found through its timestamp in the copy of its record in
        the category index, if that one reads (else `memkv.Memory.repair` removes it)."""
        space = self._space
        txn = self._live()
        txn.delete(_ENTRIES, space + raw_key)
        copies = []
        categories = []
        for category in self._stored_names(layout.categories_counted):
            index_key = layout.category_prefix(space, category) + raw_key
            copy = txn.get(_INDEX, index_key)
            if copy is not None:
                copies.append(copy)
                categories.append(category)
                txn.delete(_INDEX, index_key)
        sessions = [
            session_id
            for session_id in self._stored_names(layout.sessions_counted)
            if txn.delete(_INDEX, layout.session_prefix(space, session_id) + raw_key)
        ]
        for category in categories:
            for session_id in sessions:
                both = layout.category_session_prefix(space, category, session_id)
                txn.delete(_INDEX, both + raw_key)
        if categories:
            self._change_count(categories[0], sessions[0] if sessions else None, -1)
        else:  # the category is unknown: only the store-wide count can be corrected
            all_entries = layout.count_key(space, None, None)
            self._counts[all_entries] = self._counts.get(all_entries, 0) - 1
        if copies:
            try:
                header = decode_header(key, copies[0])
            except CorruptRecord:
                return
            self._move_expiry(raw_key, header, None)
            if self._recalls():
                recall.update(
                    txn, self._stored_count, self._counts, raw_key, header.timestamp, None
                )

    def _stored_count(self, count_key: bytes) -> int:
        """The stored count, and what this transaction (and those before it in its
        group) have changed and not yet written."""
        changed = self._counts.get(count_key, 0)
        if self._group_counts:
            changed += self._group_counts.get(count_key, 0)
        return super()._stored_count(count_key) + changed

    def _unindex_session(self, raw_key: bytes, category: str, session_id: str) -> None:
        space = self._space
        txn = self._live()
        txn.delete(_INDEX, layout.session_prefix(space, session_id) + raw_key)
        txn.delete(_INDEX, layout.category_session_prefix(space, category, session_id) + raw_key)

    def _change_count(self, category: str, session_id: str | None, delta: int) -> None:
        change_entry_counts(self._counts, self._space, category, session_id, delta)

    def _finish(self) -> dict[str, CachedValue]:
        """Write the pending counts (or join them to the group's) and end the view
        (and its internal view); return what the read cache should learn once the
        transaction commits."""
        txn = self._live()
        for view in (self, self._internal):
            if view is not None and view._wrote and not view._swept:
                view._sweep(expiry.SWEPT_PER_WRITE)
        if self._recall_updated:
            recall.settle(txn, self._stored_count, self._counts)
        if self._group_counts is None:
            write_counts(txn, self._counts)
        else:
            add_counts(self._group_counts, self._counts)
        self._abandon()
        return self._written

    def _abandon(self) -> None:
        """End the view (and its internal view) without writing anything more."""
        self._write_txn = None
        if self._internal is not None:
            self._internal._write_txn = None


_CORRUPT: Final = EntryHeader(id="", key="", category="", timestamp=datetime.min)
"""What `Transaction._remove` returns for a corrupt record it removed."""


def _category(header: EntryHeader) -> str | None:
    return header.category


def _session(header: EntryHeader) -> str | None:
    return header.session_id


def check_names(category: object, session_id: object) -> None:
    """The names of a write: a category (required) and a session id (or None).

    Raises:
        InvalidArgument: naming the bad one.
    """
    check_name(category, "category")
    check_filters(None, session_id)


def _key_text(raw_key: bytes) -> str:
    try:
        return raw_key.decode("utf-8")
    except UnicodeDecodeError as exc:
        key = raw_key.decode("utf-8", errors="replace")
        raise CorruptRecord(f"stored key {key!r} is not UTF-8", key=key) from exc


class Stored(NamedTuple):
    """An entry as stored: its indexed fields, and its record."""

    header: EntryHeader
    record: bytes


def _untyped_content(entry: MemoryEntry[Any], record: bytes) -> Any:
    """The content of an entry being written, as it reads back without a type."""
    content = entry.content
    if type(content) is str:
        return content
    return decode_entry(entry.key, record).content


class Search(NamedTuple):
    """A checked `recall` request."""

    terms: list[str]
    limit: int | None
    category: str | None
    session_id: str | None
    prefix: bytes  # of the key, in the user's space (empty: none)
    since: datetime | None
    until: datetime | None


def _check_moment(moment: object, what: str) -> None:
    if moment is not None and (not isinstance(moment, datetime) or moment.utcoffset() is None):
        raise InvalidArgument(
            f"{what} must be a timezone-aware datetime or None, not {moment!r:.80}"
        )
