"""`SequenceLog`: an append-only log of records numbered 0, 1, 2, ... on a `Memory`.

Each record is an entry of the store's internal key space (`memkv.Memory.internal`:
never among the user's memories) at ``pack(("seqlog", name, seq))`` in category
``"seqlog." + name`` (so the length is that category's count); the first number not
yet handed out, as far as trims know, is kept at ``pack(("seqlog.floor", name))``.
The ``*_in`` and ``*_of`` functions take a view of either space. Promises:

* ``append`` assigns the next number inside the write transaction, so numbers are
  strictly increasing and gap-free across threads, processes and restarts; a
  transaction that does not commit takes no number; a trimmed number is never given
  again.
* Reading from a number, the tail, the first and last numbers and the length cost
  what they return (range scans and O(1) counts), whatever the size of the log.
* Trimming removes a prefix (through a number, or while records are older than a
  time), in transactions of at most `TRIM_BATCH` records, so it never holds the
  writers off for long and never touches a record appended while it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Final, Generic, TypeVar

import msgspec

from memkv.entry import MemoryEntry, check_fits
from memkv.errors import CorruptRecord, InvalidArgument, TypeMismatch
from memkv.keys import MAX_NAME_BYTES, check_name, pack, quote_key, unpack
from memkv.legacy import adopt
from memkv.memory import Memory, Reader, Transaction
from memkv.query import check_limit
from memkv.runs import check_runs_now

RecordT = TypeVar("RecordT")

TRIM_BATCH: Final = 2_000  # records removed per transaction while trimming
_ROOT: Final = "seqlog"
_CATEGORY_PREFIX: Final = "seqlog."
_FLOOR_ROOT: Final = "seqlog.floor"  # also the category of every log's floor


class SeqRecord(msgspec.Struct, Generic[RecordT], frozen=True, kw_only=True):
    """A record of the log, its number, and when it was appended (UTC)."""

    seq: int
    record: RecordT
    appended_at: datetime


OnRemove = Callable[[Transaction, "SeqRecord[RecordT]"], None] | None


class SequenceLog(Generic[RecordT]):
    """An append-only, gap-free numbered log named ``name`` on ``memory``.

    ``record_type`` (a msgspec type, e.g. a Struct) is what records decode into; by
    default they come back as msgspec decodes untyped data (dicts, lists, ...).

    Every operation exists as a transaction function too (``*_in(tx, ...)``,
    ``*_of(view, ...)``), to be combined with other writes in one transaction.
    """

    def __init__(self, memory: Memory, name: str, record_type: Any = None) -> None:
        check_name(name, "sequence log name")
        if len(_CATEGORY_PREFIX + name) > MAX_NAME_BYTES:
            raise InvalidArgument(
                f"sequence log name {name!r} is too long (category {_CATEGORY_PREFIX + name!r})"
            )
        self.memory = memory.internal  # a log is not among the user's memories
        self.name = name
        self.record_type = record_type
        self.category = _CATEGORY_PREFIX + name
        self._prefix = pack((_ROOT, name))
        self._digits_at = len(self._prefix) + 2  # past the number's tag and length
        self._floor_key = pack((_FLOOR_ROOT, name))
        adopt(memory, (self.category, self._prefix), (_FLOOR_ROOT, self._floor_key))

    # -- keys ------------------------------------------------------------------------

    def key(self, seq: int) -> str:
        return pack((_ROOT, self.name, seq))

    def _seq_of(self, key: str) -> int:
        # The key is the prefix, then the packed number: a tag, a length character
        # and the hexadecimal digits (numbers are never negative here).
        digits = key[self._digits_at :]
        if key.startswith(self._prefix) and digits.isalnum():
            return int(digits, 16)
        return int(unpack(key)[-1])  # pragma: no cover - only if the layout changed

    # -- writes ----------------------------------------------------------------------

    def append(self, record: RecordT, group: str | None = None) -> int:
        """Append ``record`` durably; return its number.

        ``group`` (a name like a session id: at most 64 bytes, no NUL) files the
        record under that group too, for `read_group`.

        Raises:
            InvalidContent: ``record`` would not read back as the log's
                ``record_type`` (a Struct holding a float for an int, say), or cannot
                be encoded; nothing is appended.
            InvalidArgument: a bad ``group``.
        """
        return self.memory.transact(lambda tx: self.append_in(tx, record, group))

    def extend(self, records: Iterable[RecordT]) -> list[int]:
        """Append ``records`` in one transaction; return their numbers."""
        batch = list(records)
        return self.memory.transact(lambda tx: [self.append_in(tx, r) for r in batch])

    def append_in(self, tx: Transaction, record: RecordT, group: str | None = None) -> int:
        """Append inside the transaction ``tx`` (the number is final once it commits)."""
        return self.append_numbered_in(tx, lambda _seq: record, group)

    def append_numbered_in(
        self, tx: Transaction, make: Callable[[int], RecordT], group: str | None = None
    ) -> int:
        """Append, inside ``tx``, the record ``make(seq)`` builds for its own number
        (for records that carry it). Raises as `append`."""
        tx = tx.internal
        seq = self.next_seq_of(tx)
        record = make(seq)
        if self.record_type is not None:  # refused now, not found corrupt on every read
            check_fits(record, self.record_type, f"a record of sequence log {self.name!r}")
        tx.store(self.key(seq), record, self.category, group)
        return seq

    def trim_through_in(
        self,
        tx: Transaction,
        seq: int,
        limit: int | None = None,
        on_remove: OnRemove[RecordT] = None,
    ) -> int:
        """Inside ``tx``: remove up to ``limit`` records numbered ``seq`` or below,
        oldest first (for small trims, such as a retention bound kept on append).
        ``on_remove(tx, record)`` is called for each record removed (``tx`` in the
        internal key space).

        Raises:
            InvalidArgument: a bad ``limit``, or ``on_remove`` is an ``async def``.
        """
        if on_remove is not None:
            check_runs_now(on_remove, "on_remove")
        tx = tx.internal
        doomed = [r for r in self.read_of(tx, limit=limit) if r.seq <= seq]
        for record in doomed:
            tx.forget(self.key(record.seq))
            if on_remove is not None:
                on_remove(tx, record)
        if doomed:
            tx.store(self._floor_key, max(self._floor_of(tx), doomed[-1].seq + 1), _FLOOR_ROOT)
        return len(doomed)

    def trim_through(self, seq: int, on_remove: OnRemove[RecordT] = None) -> int:
        """Remove every record numbered ``seq`` or below; return how many."""
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise InvalidArgument(f"seq must be an int, not {seq!r}")
        return self._trim(lambda batch: [r for r in batch if r.seq <= seq], on_remove)

    def trim_older_than(self, cutoff: datetime) -> int:
        """Remove the records appended before ``cutoff``, from the oldest on, stopping
        at the first one appended at or after it; return how many.

        Raises:
            InvalidArgument: ``cutoff`` is not a timezone-aware datetime (records are
                stamped in UTC: a naive time names no moment).
        """
        if not isinstance(cutoff, datetime) or cutoff.utcoffset() is None:
            raise InvalidArgument(
                f"cutoff must be a timezone-aware datetime, such as "
                f"datetime.now(UTC) - timedelta(days=7), not {cutoff!r:.80}"
            )
        return self.trim_while(lambda entry: entry.appended_at < cutoff)

    def trim_while(
        self, predicate: Callable[[SeqRecord[RecordT]], bool], on_remove: OnRemove[RecordT] = None
    ) -> int:
        """Remove records from the oldest on while ``predicate`` holds for them (the
        first record for which it fails, and all after it, stay); return how many.

        Raises:
            InvalidArgument: ``predicate`` is an ``async def`` (its coroutine would
                count as true: every record would go), or ``on_remove`` is.
        """
        check_runs_now(predicate, "a trim predicate")

        def leading(batch: list[SeqRecord[RecordT]]) -> list[SeqRecord[RecordT]]:
            taken = []
            for record in batch:
                if not predicate(record):
                    break
                taken.append(record)
            return taken

        return self._trim(leading, on_remove)

    def _trim(
        self,
        select: Callable[[list[SeqRecord[RecordT]]], list[SeqRecord[RecordT]]],
        on_remove: OnRemove[RecordT],
    ) -> int:
        """Trim in transactions of `TRIM_BATCH`: each reads the oldest records, removes
        those ``select`` picks (a prefix), and raises the floor past them."""
        if on_remove is not None:
            check_runs_now(on_remove, "on_remove")
        removed = 0
        while True:

            def trim_batch(tx: Transaction) -> tuple[int, bool]:
                batch = self.read_of(tx, since=None, limit=TRIM_BATCH)
                doomed = select(batch)
                if doomed:
                    self.trim_through_in(tx, doomed[-1].seq, len(doomed), on_remove)
                finished = len(doomed) < len(batch) or len(batch) < TRIM_BATCH
                return len(doomed), finished

            count, finished = self.memory.transact(trim_batch)
            removed += count
            if finished:
                return removed

    # -- reads -----------------------------------------------------------------------

    def read(self, since: int | None = None, limit: int | None = None) -> list[SeqRecord[RecordT]]:
        """Records numbered ``since`` or above (all if ``None``), oldest first, at most
        ``limit``."""
        return self.memory.snapshot(lambda view: self.read_of(view, since, limit))

    def tail(self, n: int) -> list[SeqRecord[RecordT]]:
        """The last ``n`` records, oldest first."""
        return self.memory.snapshot(lambda view: self.tail_of(view, n))

    def first_seq(self) -> int | None:
        """The number of the oldest record kept, or ``None`` if the log is empty."""
        return self.memory.snapshot(self.first_seq_of)

    def last_seq(self) -> int | None:
        """The number of the newest record, or ``None`` if the log is empty."""
        return self.memory.snapshot(self.last_seq_of)

    def next_seq(self) -> int:
        """The number the next append will get."""
        return self.memory.snapshot(self.next_seq_of)

    def __len__(self) -> int:
        """How many records the log holds (O(1))."""
        return self.memory.snapshot(self.length_of)

    # -- reads, on a view or in a transaction ----------------------------------------

    def read_of(
        self, view: Reader, since: int | None = None, limit: int | None = None
    ) -> list[SeqRecord[RecordT]]:
        check_limit(limit)
        return self._listed(view, prefix=self._prefix, after=self._after(since), limit=limit)

    def read_group(
        self, group: str, since: int | None = None, limit: int | None = None
    ) -> list[SeqRecord[RecordT]]:
        """The records appended with ``group``, oldest first (cost: what is returned)."""
        return self.memory.snapshot(lambda view: self.read_group_of(view, group, since, limit))

    def read_group_of(
        self, view: Reader, group: str, since: int | None = None, limit: int | None = None
    ) -> list[SeqRecord[RecordT]]:
        check_limit(limit)
        return self._listed(view, self.category, group, after=self._after(since), limit=limit)

    @staticmethod
    def _check_count(n: object) -> None:
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise InvalidArgument(f"tail needs a count >= 0, not {n!r}")

    def _after(self, since: int | None) -> str | None:
        """The key to list after, to start at number ``since``."""
        if since is not None and (not isinstance(since, int) or isinstance(since, bool)):
            raise InvalidArgument(f"since must be an int or None, not {since!r}")
        return None if since is None or since <= 0 else self.key(since - 1)

    def tail_values_of(self, view: Reader, n: int) -> list[RecordT]:
        """`tail_of` without the numbers and times: just the records, oldest first."""
        self._check_count(n)
        if n == 0:
            return []
        newest = self._entries(view, prefix=self._prefix, limit=n, reverse=True)
        return [entry.content for entry in reversed(newest)]

    def read_values_of(
        self, view: Reader, since: int | None = None, limit: int | None = None
    ) -> list[RecordT]:
        """`read_of` without the numbers and times: just the records."""
        check_limit(limit)
        entries = self._entries(view, prefix=self._prefix, after=self._after(since), limit=limit)
        return [entry.content for entry in entries]

    def tail_of(self, view: Reader, n: int) -> list[SeqRecord[RecordT]]:
        self._check_count(n)
        if n == 0:
            return []
        return self._listed(view, prefix=self._prefix, limit=n, reverse=True)[::-1]

    def first_seq_of(self, view: Reader) -> int | None:
        first = view.internal.keys(prefix=self._prefix, limit=1)
        return self._seq_of(first[0]) if first else None

    def last_seq_of(self, view: Reader) -> int | None:
        last = view.internal.keys(prefix=self._prefix, limit=1, reverse=True)
        return self._seq_of(last[0]) if last else None

    def next_seq_of(self, view: Reader) -> int:
        last = self.last_seq_of(view)
        floor = self._floor_of(view)
        return floor if last is None else max(last + 1, floor)

    def length_of(self, view: Reader) -> int:
        return view.internal.count(self.category)

    def _floor_of(self, view: Reader) -> int:
        """The first number not yet handed out as far as trims know (0 if never trimmed)."""
        found = view.internal.get(self._floor_key)
        if found is None:
            return 0
        if not isinstance(found.content, int):
            raise CorruptRecord(
                f"sequence log floor {self._floor_key!r} is not a number", key=self._floor_key
            )
        return found.content

    def _listed(
        self, view: Reader, *filters: str | None, **options: Any
    ) -> list[SeqRecord[RecordT]]:
        return [
            SeqRecord(seq=self._seq_of(e.key), record=e.content, appended_at=e.timestamp)
            for e in self._entries(view, *filters, **options)
        ]

    def _entries(
        self, view: Reader, *filters: str | None, **options: Any
    ) -> list[MemoryEntry[Any]]:
        """`Reader.list` decoded as records: a record of another type in the log is
        corruption, not the caller's mistake."""
        try:
            return view.internal.list(*filters, type=self.record_type, **options)
        except TypeMismatch as exc:
            raise CorruptRecord(
                f"sequence log {self.name!r} holds a record at {quote_key(exc.key)} that is not a "
                f"{getattr(self.record_type, '__name__', self.record_type)}: {exc}",
                key=exc.key,
            ) from exc

    def __repr__(self) -> str:
        return f"<SequenceLog {self.name!r} on {self.memory!r}>"
