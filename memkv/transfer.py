"""Export and import of a store's entries as JSON Lines (`export_jsonl`,
`import_jsonl`; `memkv.Memory` offers both as methods): to move a store between
machines or backends, to inspect it, or to hand a user their data.

The file holds one JSON object per line, one line per entry, with every field of the
entry (`ExportedEntry`)::

    {"id":"0193…","key":"user/name","content":"Ada","category":"core",
     "timestamp":"2026-12-01T19:17:45.123456Z","session_id":null,"expires_at":null}

``content`` is the content as plain JSON when JSON gives it back exactly: text,
integers, finite floats, booleans, null, and lists and string-keyed maps of them.
Any other content (bytes, datetimes, NaN and infinities, maps with keys that are not
strings, msgpack extensions, or a list or map holding one) is written instead as
``content_msgpack``: the base64 of its msgpack encoding, which is what the store
keeps, so that it comes back exactly. Unprintable characters (those
`str.isprintable` rejects, as in the ``memkv`` command's JSON) are written as
``\\u`` escapes, so the file is safe to print; a packed key's control characters
are too, and it reads back as the same key.

An export reads one snapshot (`memkv.Memory.snapshot`), a page of entries at a time,
so that writers go on meanwhile and the file holds the store as of one moment. An
import reads the file twice: a first pass checks every line, and raises naming the
bad ones if there are any, having written nothing; the second writes the entries in
transactions of `IMPORT_BATCH`, through `memkv.views.Transaction._restore`, which
keeps the indexes, counts and recall index in step as ``store`` does.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import io
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Annotated, Any, Final, Protocol, TypeVar, get_args

import msgspec

from memkv.entry import MemoryEntry, encode_entry
from memkv.errors import (
    BackendError,
    Conflict,
    InvalidArgument,
    MemkvError,
    NotFound,
    StorageFull,
)
from memkv.keys import encode_key, quote_key
from memkv.query import Query
from memkv.views import OnConflict, Reader, Restored, Transaction, check_names

R = TypeVar("R")

EXPORT_PAGE: Final = 1000
"""Entries an export reads (and writes) at a time, within its one snapshot."""
IMPORT_BATCH: Final = 500
"""Entries an import writes per transaction."""
PROBLEMS_NAMED: Final = 10
"""Bad lines an import error names; it counts the others."""
CONFLICT_POLICIES: Final = get_args(OnConflict)

PathOrFile = str | os.PathLike[str] | IO[bytes] | IO[str]

_ID_PATTERN: Final = "^[0-9a-f]{32}$"
_COPY_CHUNK: Final = 1 << 20
_WRITE_BUFFER: Final = 1 << 20

__all__ = [
    "BadImportFile",
    "ExportedEntry",
    "ImportConflict",
    "ImportReport",
    "export_jsonl",
    "import_jsonl",
]


# -- the format ---------------------------------------------------------------------------


class ExportedEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One line of an export file: an entry, every field of it. Exactly one of
    ``content`` (plain JSON) and ``content_msgpack`` (the base64 of the content's
    msgpack encoding) is present; ``session_id`` and ``expires_at`` are always
    present (``null``: none, never). Times are RFC 3339, with their UTC offset."""

    id: Annotated[str, msgspec.Meta(pattern=_ID_PATTERN)]
    key: str
    content: Any | msgspec.UnsetType = msgspec.UNSET
    content_msgpack: bytes | msgspec.UnsetType = msgspec.UNSET
    category: str
    timestamp: Annotated[datetime, msgspec.Meta(tz=True)]
    session_id: str | None
    expires_at: Annotated[datetime, msgspec.Meta(tz=True)] | None


class ImportReport(msgspec.Struct, frozen=True, kw_only=True):
    """What an import did with the lines of its file (``lines`` is the sum of the
    others): ``imported`` entries at keys that were absent, ``replaced`` stored ones
    (``on_conflict="replace"``), ``skipped`` lines whose key was present
    (``on_conflict="skip"``). A key given twice in the file counts as present the
    second time."""

    lines: int
    imported: int
    skipped: int
    replaced: int


class BadImportFile(InvalidArgument):
    """An import file holds lines that cannot be imported: not JSON, not an entry (a
    field missing, mistyped or unknown), a key, name or content the store refuses, a
    torn last line, an empty line. Nothing was imported. ``problems`` names the first
    `PROBLEMS_NAMED` as (line number, what is wrong), ``count`` counts them all (keys
    already stored, under ``on_conflict="error"``, among them)."""

    def __init__(self, message: str, *, problems: list[tuple[int, str]], count: int) -> None:
        super().__init__(message)
        self.problems = problems
        self.count = count


class ImportConflict(Conflict):
    """Under ``on_conflict="error"``, lines of an import file give keys that are
    already stored, or given on an earlier line; ``key`` is the first such key,
    ``problems`` and ``count`` as in `BadImportFile`. Raised by the check, nothing
    was imported; raised by the writing (a key stored meanwhile by another writer),
    the lines before it were imported: the message says how many."""

    def __init__(
        self, message: str, *, key: str, problems: list[tuple[int, str]], count: int
    ) -> None:
        super().__init__(message, key=key)
        self.problems = problems
        self.count = count


_line_decoder: Final = msgspec.json.Decoder(ExportedEntry)
_json_encoder: Final = msgspec.json.Encoder()
_json_decoder: Final = msgspec.json.Decoder()
_msgpack_encoder: Final = msgspec.msgpack.Encoder()
_msgpack_decoder: Final = msgspec.msgpack.Decoder()
_EXACT_IN_JSON: Final = frozenset({str, int, bool, type(None)})
_JSON_CHECK_ERRORS: Final = (TypeError, ValueError, OverflowError, RecursionError)


def _exported(entry: MemoryEntry[Any]) -> ExportedEntry:
    content = entry.content
    if _exact_in_json(content):
        return ExportedEntry(
            id=entry.id,
            key=entry.key,
            content=content,
            category=entry.category,
            timestamp=entry.timestamp,
            session_id=entry.session_id,
            expires_at=entry.expires_at,
        )
    return ExportedEntry(
        id=entry.id,
        key=entry.key,
        content_msgpack=_msgpack_encoder.encode(content),
        category=entry.category,
        timestamp=entry.timestamp,
        session_id=entry.session_id,
        expires_at=entry.expires_at,
    )


def _exact_in_json(content: Any) -> bool:
    """Whether JSON gives ``content`` (as read back untyped) back exactly: the same
    msgpack encoding, so the same types, float bits (NaN, -0.0) and map key order."""
    kind = type(content)
    if kind in _EXACT_IN_JSON:
        return True
    if kind is float:
        return math.isfinite(content)
    if kind is not list and kind is not dict:
        return False
    try:
        again = _json_decoder.decode(_json_encoder.encode(content))
    except _JSON_CHECK_ERRORS:  # bytes map keys, an extension, nesting too deep...
        return False
    return bool(_msgpack_encoder.encode(again) == _msgpack_encoder.encode(content))


def _printable(chunk: bytes) -> bytes:
    """JSON Lines with every character `str.isprintable` rejects written as a JSON
    escape (such characters occur only inside JSON strings, where the escape means
    the same character)."""
    if chunk.isascii():
        return chunk.replace(b"\x7f", b"\\u007f") if b"\x7f" in chunk else chunk
    text = chunk.decode("utf-8")
    if text.replace("\n", " ").isprintable():
        return chunk
    return "\n".join(json_printable(line) for line in text.split("\n")).encode("utf-8")


def json_printable(text: str) -> str:
    """JSON ``text`` with every character that is not printable (control, format,
    separator characters: what a terminal would obey) written as a ``\\uXXXX`` escape,
    which JSON reads back as the same character."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _json_escape(ord(char)) for char in text)


def _json_escape(code: int) -> str:
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON writes characters beyond U+FFFF
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


# -- export ---------------------------------------------------------------------------------


class Store(Protocol):
    """What an export or an import uses of a store (`memkv.Memory`)."""

    def snapshot(self, fn: Callable[[Reader], R]) -> R: ...

    def transact(self, fn: Callable[[Transaction], R]) -> R: ...


class _Filters(msgspec.Struct, frozen=True):
    """An export's filters, checked."""

    category: str | None
    session_id: str | None
    prefix: str | None
    since: datetime | None
    until: datetime | None

    def holds(self, timestamp: datetime) -> bool:
        since, until = self.since, self.until
        return (since is None or timestamp >= since) and (until is None or timestamp < until)


def export_jsonl(
    store: Store,
    path_or_file: PathOrFile,
    *,
    category: str | None = None,
    session_id: str | None = None,
    prefix: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Write the entries of ``store`` that pass every filter given to
    ``path_or_file`` as JSON Lines (see the module docstring), in key order, from
    one snapshot; return how many.

    ``category``, ``session_id`` and ``prefix`` filter as in `memkv.Memory.list`;
    ``since`` (inclusive) and ``until`` (exclusive) bound the entry's timestamp, as
    in `memkv.Memory.recall`. Given a path, the file is written under a temporary
    name in the same directory (mode 0600), flushed to disk and renamed over the
    path: the path never holds a partial export. Given a file object (binary or
    text), the lines are written to it from where it stands; the errors of the
    object itself propagate as they are.

    Raises:
        InvalidArgument: a bad filter, a path that is a directory or cannot be
            written, something neither a path nor a file object.
        NotFound: the path's directory does not exist.
        StorageFull: the disk is full.
        BackendError: the snapshot had to be read again after lines went to a file
            object that cannot be rewound (nothing more is written).
        StoreClosed, CorruptRecord, BackendError: from the store.
    """
    Query.of(category, session_id, prefix)  # checks them, as `list` will
    _check_moment(since, "since")
    _check_moment(until, "until")
    filters = _Filters(category, session_id, prefix, since, until)
    if _is_file(path_or_file):
        return _export(store, _file_output(path_or_file), filters)  # type: ignore[arg-type]
    path = _path_of(path_or_file, "path_or_file")
    if path.is_dir():
        raise InvalidArgument(f"cannot export to {path}: it is a directory")
    try:
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
    except OSError as exc:
        raise _file_error(exc, path, "export to") from exc
    try:
        with open(descriptor, "wb", buffering=_WRITE_BUFFER) as file:
            count = _export(store, _rewindable(file), filters)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
        _sync_directory(path.parent)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise _file_error(exc, path, "export to") from exc
        raise
    return count


def _export(store: Store, output: _Output, filters: _Filters) -> int:
    def run(view: Reader) -> int:
        output.begin()  # from the start: the snapshot may be read again
        written = 0
        after: str | None = None
        category, session_id, prefix = filters.category, filters.session_id, filters.prefix
        timed = filters.since is not None or filters.until is not None
        while True:
            page = view.list(category, session_id, prefix=prefix, limit=EXPORT_PAGE, after=after)
            if timed:
                lines = [_exported(entry) for entry in page if filters.holds(entry.timestamp)]
            else:
                lines = [_exported(entry) for entry in page]
            if lines:
                output.write(_printable(_json_encoder.encode_lines(lines)))
                written += len(lines)
            if len(page) < EXPORT_PAGE:
                return written
            after = page[-1].key

    return store.snapshot(run)


class _Output:
    """Where an export writes bytes; ``rewind`` (``None``: it cannot) takes it back
    to where the export began, for a snapshot that has to be read again."""

    def __init__(self, write: Callable[[bytes], object], rewind: Callable[[], None] | None):
        self._write = write
        self._rewind = rewind
        self._written = False

    def begin(self) -> None:
        if not self._written:
            return
        if self._rewind is None:
            raise BackendError(
                "the export's snapshot had to be read again after lines of it were written "
                "to a file object that cannot be rewound; export again"
            )
        self._rewind()
        self._written = False

    def write(self, data: bytes) -> None:
        self._write(data)
        self._written = True


def _rewindable(file: IO[Any]) -> _Output:
    start = file.tell()

    def rewind() -> None:
        file.seek(start)
        file.truncate()

    text = isinstance(file, io.TextIOBase)
    write = (lambda data: file.write(data.decode("utf-8"))) if text else file.write
    return _Output(write, rewind)


def _file_output(file: IO[Any]) -> _Output:
    if _seekable(file):
        return _rewindable(file)
    if isinstance(file, io.TextIOBase):
        return _Output(lambda data: file.write(data.decode("utf-8")), None)
    return _Output(file.write, None)


def _seekable(file: IO[Any]) -> bool:
    try:
        return bool(file.seekable())
    except (AttributeError, ValueError, OSError):
        return False


def _sync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# -- import ---------------------------------------------------------------------------------


def import_jsonl(
    store: Store, path_or_file: PathOrFile, *, on_conflict: OnConflict = "error"
) -> ImportReport:
    """Write the entries of an export file (see the module docstring) into
    ``store``, each with its id, timestamp and expiry; return what was done.

    Every line is checked first, and nothing is written if one is bad: not JSON, not
    an entry, a key, name or content the store refuses, empty (a file of memkv's
    has no empty line), or torn (the last, unterminated and not JSON: the file ends
    mid-line). Then the entries are written in file order, `IMPORT_BATCH` per
    transaction. At a key that is present (stored, or given on an earlier line),
    ``on_conflict`` decides: ``"error"`` (the default) refuses the whole file in
    its check; ``"skip"`` keeps the entry there; ``"replace"`` writes the line's
    over it. A file object is read from where it stands (one that cannot seek is
    first copied to a temporary file); the file must not change during the import.

    Raises:
        BadImportFile: bad lines (each named, with its number); nothing written.
        ImportConflict: keys present, under ``on_conflict="error"``.
        NotFound: no file at the path.
        InvalidArgument: a bad ``on_conflict``; a path that is a directory or cannot
            be read, something neither a path nor a file object.
        StoreClosed, ReadOnlyStore, NestedTransaction, StorageFull, BackendError:
            from the store.
    """
    if on_conflict not in CONFLICT_POLICIES:
        raise InvalidArgument(
            f"on_conflict must be one of {', '.join(map(repr, CONFLICT_POLICIES))}, "
            f"not {on_conflict!r:.80}"
        )
    with _Source.of(path_or_file) as source:
        lines = _check(store, source, on_conflict)
        return _write(store, source, on_conflict, lines)


class _Prepared(msgspec.Struct, frozen=True):
    """A good line: its entry, ready to write."""

    number: int
    entry: MemoryEntry[Any]
    raw_key: bytes
    record: bytes


def _prepared(number: int, line: bytes | str, complete: bool) -> _Prepared | str:
    """The entry of line ``number`` (``complete``: it ends with a newline), or what
    is wrong with it."""
    if not line.strip():
        return "is empty" if complete else "is torn: the file ends mid-line"
    try:
        item = _line_decoder.decode(line)
    except msgspec.ValidationError as exc:
        return f"is not an entry: {exc}"
    except msgspec.DecodeError as exc:
        return "is torn: the file ends mid-line" if not complete else f"is not JSON: {exc}"
    if item.content_msgpack is msgspec.UNSET:
        if item.content is msgspec.UNSET:
            return "has neither content nor content_msgpack"
        content = item.content
    elif item.content is not msgspec.UNSET:
        return "has both content and content_msgpack"
    else:
        try:
            content = _msgpack_decoder.decode(item.content_msgpack)
        except msgspec.DecodeError as exc:
            return f"has a content_msgpack that is not one msgpack value: {exc}"
    try:
        raw_key = encode_key(item.key)
        check_names(item.category, item.session_id)
        entry = MemoryEntry(
            id=item.id,
            key=item.key,
            content=content,
            category=item.category,
            timestamp=_utc(item.timestamp),
            session_id=item.session_id,
            expires_at=None if item.expires_at is None else _utc(item.expires_at),
        )
        record = encode_entry(entry)
    except InvalidArgument as exc:  # InvalidKey, InvalidContent
        return f"is refused: {exc}"
    return _Prepared(number, entry, raw_key, record)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def _check(store: Store, source: _Source, on_conflict: OnConflict) -> int:
    """Check every line of ``source``; return how many there are.

    Raises:
        BadImportFile, ImportConflict: naming the lines.
    """
    problems = _Problems(source.name)
    conflicts = _Conflicts(store, problems) if on_conflict == "error" else None
    count = 0
    for count, line, complete in source.lines():
        prepared = _prepared(count, line, complete)
        if isinstance(prepared, str):
            problems.add(count, prepared)
        elif conflicts is not None:
            conflicts.add(prepared)
    if conflicts is not None:
        conflicts.finish(source)
    problems.raise_any()
    return count


def _write(store: Store, source: _Source, on_conflict: OnConflict, lines: int) -> ImportReport:
    done = {"imported": 0, "skipped": 0, "replaced": 0}
    batch: list[_Prepared] = []

    def commit() -> None:
        try:
            outcomes = store.transact(lambda tx: _restore_all(tx, batch, on_conflict))
        except Conflict as exc:  # a key stored by another writer since the check
            number = next(p.number for p in batch if p.entry.key == exc.key)
            problem = (number, f"key {quote_key(exc.key)} is already stored")
            raise ImportConflict(
                f"{source.name}: line {number}: key {quote_key(exc.key)} was stored by "
                f"another writer during the import; the {sum(done.values())} lines before "
                f"line {batch[0].number} were imported (import again with "
                "on_conflict='skip' to finish)",
                key=exc.key,
                problems=[problem],
                count=1,
            ) from exc
        for outcome in outcomes:
            done[outcome] += 1
        batch.clear()

    for number, line, complete in source.lines():
        prepared = _prepared(number, line, complete)
        if isinstance(prepared, str):
            raise BadImportFile(
                f"{source.name} changed during the import: line {number} {prepared}; "
                f"{sum(done.values())} lines before it were imported",
                problems=[(number, prepared)],
                count=1,
            )
        batch.append(prepared)
        if len(batch) == IMPORT_BATCH:
            commit()
    if batch:
        commit()
    return ImportReport(lines=lines, **done)


def _restore_all(
    tx: Transaction, batch: list[_Prepared], on_conflict: OnConflict
) -> list[Restored]:
    return [tx._restore(p.entry, p.raw_key, p.record, on_conflict) for p in batch]


class _Problems:
    """The problems an import's check found, a line each: the first `PROBLEMS_NAMED`
    lines named, all counted."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.named: list[tuple[int, str]] = []  # in line order
        self.count = 0
        self.bad = 0  # of them, lines bad in themselves (the others: conflicts)
        self.first_conflict: tuple[int, str] | None = None  # its line and key

    def add(self, number: int, problem: str, *, conflict_key: str | None = None) -> None:
        self.count += 1
        if conflict_key is None:
            self.bad += 1
        elif self.first_conflict is None or number < self.first_conflict[0]:
            self.first_conflict = (number, conflict_key)
        named = self.named
        if len(named) < PROBLEMS_NAMED or number < named[-1][0]:  # conflicts come late
            bisect.insort(named, (number, problem))
            del named[PROBLEMS_NAMED:]

    def raise_any(self) -> None:
        if not self.count:
            return
        listed = "; ".join(f"line {number} {problem}" for number, problem in self.named)
        more = self.count - len(self.named)
        if more:
            listed += f"; and {more} more"
        if self.bad:
            raise BadImportFile(
                f"{self.name} has {self.count} line(s) that cannot be imported, so nothing "
                f"was: {listed}",
                problems=self.named,
                count=self.count,
            )
        assert self.first_conflict is not None
        raise ImportConflict(
            f"{self.name} has {self.count} line(s) whose key is already present, so nothing "
            f"was imported (on_conflict='skip' or 'replace' would import it): {listed}",
            key=self.first_conflict[1],
            problems=self.named,
            count=self.count,
        )


class _Conflicts:
    """For ``on_conflict="error"``: finds the lines of an import whose key is stored
    (looked up in a snapshot per `IMPORT_BATCH` lines) or given on an earlier line.
    While the keys ascend, as in every export, the last key is all it keeps; a file
    whose keys do not is read again at the end (`finish`), keeping every key."""

    def __init__(self, store: Store, problems: _Problems) -> None:
        self._store = store
        self._problems = problems
        self._pending: list[tuple[int, str]] = []
        self._last: tuple[bytes, int] | None = None  # the last key read, and its line
        self._ascending = True
        self._stored_lines: set[int] = set()  # lines found stored (so named once)

    def add(self, line: _Prepared) -> None:
        if self._ascending:
            last = self._last
            if last is not None and line.raw_key <= last[0]:
                if line.raw_key == last[0]:
                    self._given_again(line.number, line.entry.key, last[1])
                    return  # its first line is looked up
                self._ascending = False  # `finish` finds the keys given again
            self._last = (line.raw_key, line.number)
        self._pending.append((line.number, line.entry.key))
        if len(self._pending) >= IMPORT_BATCH:
            self._look_up()

    def finish(self, source: _Source) -> None:
        self._look_up()
        if self._ascending:
            return
        first_lines: dict[bytes, int] = {}
        for number, line, complete in source.lines():
            prepared = _prepared(number, line, complete)
            if isinstance(prepared, str):
                continue  # a bad line: named already
            first = first_lines.setdefault(prepared.raw_key, number)
            if first != number and number not in self._stored_lines:
                self._given_again(number, prepared.entry.key, first)

    def _given_again(self, number: int, key: str, first: int) -> None:
        problem = f"gives key {quote_key(key)} again (first on line {first})"
        self._problems.add(number, problem, conflict_key=key)

    def _look_up(self) -> None:
        pending = self._pending
        if not pending:
            return
        for number, key in self._store.snapshot(lambda view: _stored(view, pending)):
            problem = f"gives key {quote_key(key)}, which is already stored"
            self._problems.add(number, problem, conflict_key=key)
            self._stored_lines.add(number)
        pending.clear()


def _stored(view: Reader, lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The lines whose key ``view`` holds (a corrupt record too, as `insert` sees it)."""
    if not view.count():
        return []
    return [(number, key) for number, key in lines if view.keys(prefix=key, limit=1) == [key]]


class _Source:
    """The lines of an import file, readable as many times as needed: a file opened
    at a path, or a file object from where it stood (one that cannot seek copied
    to a temporary file first)."""

    def __init__(self, file: IO[Any], name: str, *, owned: bool) -> None:
        self._file = file
        self.name = name
        self._owned = owned
        self._start = file.tell()
        self._newline: bytes | str = "\n" if isinstance(file, io.TextIOBase) else b"\n"
        self._path: Path | None = None

    @classmethod
    def of(cls, path_or_file: PathOrFile) -> _Source:
        if _is_file(path_or_file):
            file: IO[Any] = path_or_file  # type: ignore[assignment]
            name = str(getattr(file, "name", None) or repr(file))
            if _seekable(file):
                return cls(file, name, owned=False)
            copy = tempfile.TemporaryFile()  # noqa: SIM115 - closed by `close`
            if isinstance(file, io.TextIOBase):
                while chunk := file.read(_COPY_CHUNK):
                    copy.write(chunk.encode("utf-8"))
            else:
                shutil.copyfileobj(file, copy, _COPY_CHUNK)
            copy.seek(0)
            return cls(copy, name, owned=True)
        path = _path_of(path_or_file, "path_or_file")
        try:
            opened = open(path, "rb")  # noqa: SIM115 - closed by `close`
        except OSError as exc:
            raise _file_error(exc, path, "import") from exc
        source = cls(opened, str(path), owned=True)
        source._path = path
        return source

    def lines(self) -> Iterator[tuple[int, bytes | str, bool]]:
        """Each line, numbered from 1, and whether it ends with a newline."""
        newline = self._newline
        try:
            self._file.seek(self._start)
            for number, line in enumerate(self._file, 1):
                yield number, line, line.endswith(newline)
        except OSError as exc:
            if self._path is None:
                raise  # the caller's file object's own error
            raise _file_error(exc, self._path, "import") from exc

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._owned:
            self._file.close()


# -- arguments ------------------------------------------------------------------------------


def _is_file(value: object) -> bool:
    return hasattr(value, "read") or hasattr(value, "write")


def _path_of(value: object, what: str) -> Path:
    if isinstance(value, str | os.PathLike) and not isinstance(value, bytes):
        text = os.fspath(value)
        if isinstance(text, str) and text.strip():
            return Path(text).expanduser()
    raise InvalidArgument(
        f"{what} must be a path (str or os.PathLike, not empty) or a file object, not {value!r:.80}"
    )


def _file_error(exc: OSError, path: Path, doing: str) -> MemkvError:
    message = f"cannot {doing} {path}: {exc.strerror or exc}"
    if isinstance(exc, FileNotFoundError):
        return NotFound(message)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFull(message)
    return InvalidArgument(message)


def _check_moment(moment: object, what: str) -> None:
    if moment is not None and (not isinstance(moment, datetime) or moment.utcoffset() is None):
        raise InvalidArgument(
            f"{what} must be a timezone-aware datetime or None, not {moment!r:.80}"
        )
