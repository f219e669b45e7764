"""`JobJournal`: runtimo's WAL operations on a memkv sequence log, plus replay."""

from __future__ import annotations

import errno
import os
import tempfile
import time
from pathlib import Path

import msgspec

import memkv
from job_journal import operations
from job_journal.keys import HOLDINGS, log_name
from job_journal.types import BadLine, ImportReport, JobState, JournalRecord, WalEvent
from memkv.legacy import adopt

DEFAULT_NAME = "jobs"
IMPORT_BATCH = 1_000  # events appended per transaction by import_jsonl

_json_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder(WalEvent)


class JobJournal:
    """Crash-safe, sequence-numbered job event journal on a `memkv.Memory`.

    Appending costs the same whatever the journal holds (no file rewrite); numbers
    are assigned in the commit, strictly increasing and gap-free across threads,
    processes and restarts. ``max_events`` keeps at most that many events, the
    newest (runtimo's size-based rotation, as a retention bound).
    """

    def __init__(
        self, memory: memkv.Memory, name: str = DEFAULT_NAME, *, max_events: int | None = None
    ) -> None:
        if max_events is not None and (not _is_int(max_events) or max_events < 1):
            raise memkv.InvalidArgument(
                f"max_events must be an integer >= 1 or None, not {max_events!r}"
            )
        if not isinstance(name, str):
            raise memkv.InvalidArgument(
                f"a journal name must be a str, not {type(name).__name__}: {name!r:.80}"
            )
        self.memory = memory.internal  # its records are not among the user's memories
        adopt(memory, *HOLDINGS)  # records an older memkv kept among them
        self.name = name
        self.log: operations.Log = memkv.SequenceLog(memory, log_name(name), JournalRecord)
        self.max_events = max_events

    # -- runtimo's operations ------------------------------------------------------------

    def append(self, event: WalEvent) -> int:
        """Append ``event`` durably; return the ``seq`` the journal gave it (the event's
        own ``seq``, if set, is replaced).

        Raises:
            memkv.InvalidArgument: ``event`` is not a `WalEvent` (or a bad job id).
            memkv.InvalidContent: a field holds another type than it declares (a
                float ``ts``, say); nothing is appended.
        """
        return self.memory.transact(
            lambda tx: operations.append(tx, self.log, self.name, event, self.max_events)
        )

    def events(self, since: int | None = None, limit: int | None = None) -> list[WalEvent]:
        """Events numbered ``since`` or above (all, with no bounds), oldest first."""
        return [
            record.event
            for record in self.memory.snapshot(
                lambda view: self.log.read_values_of(view, since, limit)
            )
        ]

    def tail(self, n: int) -> list[WalEvent]:
        """The last ``n`` events, oldest first."""
        return [
            record.event
            for record in self.memory.snapshot(lambda view: self.log.tail_values_of(view, n))
        ]

    def seq(self) -> int:
        """The number the next event will get (runtimo's ``WalWriter::seq``)."""
        return self.log.next_seq()

    def cleanup(self, max_age_secs: int, *, now: int | None = None) -> int:
        """Remove events whose ``ts`` is more than ``max_age_secs`` old, from the oldest
        on (stopping at the first newer one: the journal is a prefix-trimmed log).
        Events appended while it runs are never touched. Returns how many it removed.

        Raises:
            memkv.InvalidArgument: ``max_age_secs`` or ``now`` is not an int.
        """
        if not _is_int(max_age_secs) or not (now is None or _is_int(now)):
            raise memkv.InvalidArgument(
                f"max_age_secs and now must be ints (now may be None), "
                f"not {max_age_secs!r:.40} and {now!r:.40}"
            )
        cutoff = (int(time.time()) if now is None else now) - max_age_secs
        return self.log.trim_while(
            lambda record: record.record.event.ts < cutoff, operations.forget_pointer(self.name)
        )

    def rotate(self, max_events: int) -> int:
        """Keep only the newest ``max_events`` events; return how many were removed."""
        if not _is_int(max_events) or max_events < 0:
            raise memkv.InvalidArgument(f"max_events must be an integer >= 0, not {max_events!r}")
        last = self.log.last_seq()
        if last is None:
            return 0
        return self.log.trim_through(last - max_events, operations.forget_pointer(self.name))

    # -- what a crashed runtime needs ------------------------------------------------------

    def replay(self) -> dict[str, JobState]:
        """Each job's last known state, from the events in the journal (one snapshot)."""
        return self.memory.snapshot(lambda view: operations.replay(view, self.log))

    def events_for(self, job_id: str) -> list[WalEvent]:
        """One job's events, oldest first (cost: its events, not the journal's)."""
        return self.memory.snapshot(
            lambda view: operations.events_for(view, self.log, self.name, job_id)
        )

    def __len__(self) -> int:
        return len(self.log)

    # -- runtimo's JSONL format --------------------------------------------------------------

    def export_jsonl(self, path: str | os.PathLike[str]) -> int:
        """Write every event as one JSON object per line (runtimo's format), to a
        temporary file that is flushed and renamed over ``path`` (replacing a file
        there). Returns the count.

        Raises:
            memkv.InvalidArgument: ``path`` is not a path, is empty, or is a directory.
            memkv.StorageFull: the disk is full.
            memkv.StoreUnavailable: the file cannot be written (its directory is
                missing or not writable, say); nothing is left half-written at ``path``.
        """
        target = _file_path(path)
        if target.is_dir():
            raise memkv.InvalidArgument(
                f"cannot export the journal to {target}: it is a directory; name a file"
            )
        events = self.events()
        try:
            fd, temporary = tempfile.mkstemp(
                prefix=target.name + ".", suffix=".tmp", dir=target.parent
            )
        except OSError as exc:
            raise _write_error(target, exc) from exc
        try:
            with os.fdopen(fd, "wb") as out:
                for event in events:
                    out.write(_json_encoder.encode(event) + b"\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException as exc:
            Path(temporary).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise _write_error(target, exc) from exc
            raise
        return len(events)

    def import_jsonl(self, path: str | os.PathLike[str]) -> ImportReport:
        """Append the events of a JSONL file in runtimo's format, in file order (the
        journal numbers them). A line that cannot be read is reported by number, not
        dropped; a last line cut short is reported as such; the rest is imported.

        Raises:
            memkv.InvalidArgument: ``path`` is not a path, or is empty.
            memkv.StoreUnavailable: the file cannot be read (absent, a directory...).
        """
        try:
            data = _file_path(path).read_bytes()
        except OSError as exc:
            raise memkv.StoreUnavailable(f"cannot read journal file {path}: {exc}") from exc
        lines = data.split(b"\n")
        complete_last = data.endswith(b"\n") or not data
        if complete_last:
            lines = lines[:-1]
        events: list[WalEvent] = []
        bad: list[BadLine] = []
        truncated = False
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                event = _json_decoder.decode(line)
                operations.check_job_id(event.job_id)
            except (msgspec.DecodeError, memkv.InvalidArgument) as exc:
                if number == len(lines) and not complete_last:
                    truncated = True
                else:
                    bad.append(BadLine(number=number, reason=str(exc)))
                continue
            events.append(event)
        seqs: list[int] = []
        for start in range(0, len(events), IMPORT_BATCH):
            seqs += self._append_all(events[start : start + IMPORT_BATCH])
        return ImportReport(
            imported=len(events),
            first_seq=seqs[0] if seqs else None,
            bad_lines=bad,
            truncated_last_line=truncated,
        )

    def _append_all(self, batch: list[WalEvent]) -> list[int]:
        def append(tx: memkv.Transaction) -> list[int]:
            return [operations.append(tx, self.log, self.name, e, self.max_events) for e in batch]

        return self.memory.transact(append)

    def __repr__(self) -> str:
        return f"<JobJournal {self.log.name!r} on {self.memory!r}>"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _file_path(path: object) -> Path:
    """``path`` as a `Path` (``~`` expanded).

    Raises:
        memkv.InvalidArgument: not a str or os.PathLike of one, or empty (which would
            name the current directory).
    """
    name = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(name, str) or not name.strip():
        raise memkv.InvalidArgument(
            f"a journal file path must be a non-empty str or os.PathLike, not {path!r:.80}"
        )
    return Path(name).expanduser()


def _write_error(path: Path, exc: OSError) -> memkv.MemkvError:
    if exc.errno == errno.ENOSPC:
        return memkv.StorageFull(f"cannot export the journal to {path}: the disk is full")
    return memkv.StoreUnavailable(f"cannot export the journal to {path}: {exc}")
