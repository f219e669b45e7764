"""runtimo's five tests on every backend, then replay, per-job reads and JSONL."""

from __future__ import annotations

import json
import time
from pathlib import Path

import msgspec
import pytest

import memkv
from job_journal import JobJournal, WalEventType
from tests.job_journal.conftest import event

# -- runtimo's tests ----------------------------------------------------------------------


def test_wal_write_and_read(journal: JobJournal) -> None:
    journal.append(event("test-job", capability="FileRead"))
    events = journal.events()
    assert len(events) == 1
    assert events[0].job_id == "test-job"
    assert events[0].capability == "FileRead"
    assert events[0].seq == 0


def test_wal_seq_recovery(tmp_path: Path) -> None:
    path = tmp_path / "store"
    with memkv.open(path) as mem:
        journal = JobJournal(mem)
        assert journal.seq() == 0
        journal.append(event("job1"))
        assert journal.seq() == 1
    with memkv.open(path) as mem:  # a new writer recovers the seq, without re-reading
        assert JobJournal(mem).seq() == 1
        assert JobJournal(mem).append(event("job2")) == 1


def test_wal_rotation_keeps_the_newest(journal: JobJournal) -> None:
    for i in range(100):
        journal.append(event(f"job-{i}", ts=1715800000 + i))
    assert journal.rotate(30) == 70
    assert [e.job_id for e in journal.events()] == [f"job-{i}" for i in range(70, 100)]
    assert journal.seq() == 100  # numbers are never reused
    bounded = JobJournal(journal.memory, "bounded", max_events=10)
    for i in range(25):
        bounded.append(event(f"b-{i}"))
    assert len(bounded) == 10
    assert [e.seq for e in bounded.events()] == list(range(15, 25))


def test_wal_cleanup(journal: JobJournal) -> None:
    now = int(time.time())
    journal.append(event("old-job", ts=now - 1000))
    journal.append(event("new-job", ts=now, type=WalEventType.JOB_COMPLETED))
    assert journal.cleanup(500) == 1
    events = journal.events()
    assert len(events) == 1
    assert events[0].job_id == "new-job"


def test_wal_skip_serializing_optional_fields() -> None:
    text = msgspec.json.encode(event("test")).decode()
    assert "capability" not in text
    assert "telemetry_before" not in text
    assert "process_before" not in text
    assert json.loads(text) == {"ts": 1715800000, "type": "job_started", "job_id": "test"}


# -- beyond the original ------------------------------------------------------------------


def test_limit_zero_reads_nothing(journal: JobJournal) -> None:
    journal.append(event("j"))
    assert journal.events(limit=0) == []  # was refused
    assert journal.events(since=0, limit=0) == []
    assert journal.tail(0) == []
    with pytest.raises(memkv.InvalidArgument, match="limit"):
        journal.events(limit=-1)


def test_the_journal_assigns_seq(journal: JobJournal) -> None:
    assert journal.append(event("a", seq=77)) == 0
    assert journal.append(event("b")) == 1
    assert [e.seq for e in journal.events()] == [0, 1]
    assert [e.seq for e in journal.events(since=1)] == [1]
    assert [e.job_id for e in journal.tail(1)] == ["b"]


def test_replay_gives_each_jobs_last_known_state(journal: JobJournal) -> None:
    journal.append(event("j1", type=WalEventType.JOB_SUBMITTED, capability="FileRead"))
    journal.append(event("j2", type=WalEventType.JOB_SUBMITTED))
    journal.append(event("j1", type=WalEventType.JOB_STARTED))
    journal.append(event("j2", type=WalEventType.JOB_FAILED, error="disk full"))
    journal.append(event("j1", type=WalEventType.JOB_COMPLETED, output={"bytes": 12}))
    states = journal.replay()
    assert states["j1"].status is WalEventType.JOB_COMPLETED
    assert (states["j1"].capability, states["j1"].output, states["j1"].events) == (
        "FileRead",
        {"bytes": 12},
        3,
    )
    assert (states["j2"].status, states["j2"].error, states["j2"].last_seq) == (
        WalEventType.JOB_FAILED,
        "disk full",
        3,
    )


def test_events_for_one_job(journal: JobJournal) -> None:
    for i in range(12):
        journal.append(event(f"job-{i % 3}", ts=i))
    assert [e.ts for e in journal.events_for("job-1")] == [1, 4, 7, 10]
    assert journal.events_for("job-9") == []
    journal.rotate(6)
    assert [e.ts for e in journal.events_for("job-1")] == [7, 10]


def test_bad_events_are_refused(journal: JobJournal) -> None:
    with pytest.raises(memkv.InvalidArgument, match="job_finished"):
        event("j", type="job_finished")  # type: ignore[arg-type]
    with pytest.raises(memkv.InvalidArgument, match="job_id"):
        journal.append(event("j" * 201))
    with pytest.raises(memkv.InvalidArgument, match="max_events"):
        JobJournal(journal.memory, max_events=0)
    with pytest.raises(memkv.InvalidArgument, match="max_events"):
        JobJournal(journal.memory, max_events=True)
    with pytest.raises(memkv.InvalidArgument, match="journal name"):
        JobJournal(journal.memory, None)  # type: ignore[arg-type]  # was a TypeError
    assert len(journal) == 0


def test_an_event_that_is_no_wal_event_is_refused_and_nothing_is_stored(
    journal: JobJournal,
) -> None:
    """A dict used to raise AttributeError; a float ``ts`` used to be stored, and then
    every read of the journal failed as corrupt."""
    journal.append(event("j", ts=1))
    with pytest.raises(memkv.InvalidArgument, match="must be of type WalEvent, not dict"):
        journal.append({"ts": 2, "type": "job_started", "job_id": "j"})  # type: ignore[arg-type]
    with pytest.raises(memkv.InvalidContent, match=r"Expected `int`, got `float`.*ts"):
        journal.append(event("j", ts=time.time()))  # type: ignore[arg-type]
    with pytest.raises(memkv.InvalidContent, match="object"):
        journal.append(event("j", output=object()))
    assert [e.ts for e in journal.events()] == [1]
    assert journal.seq() == 1


# -- JSONL --------------------------------------------------------------------------------


def test_jsonl_round_trip(journal: JobJournal, tmp_path: Path) -> None:
    journal.append(event("j1", capability="FileRead", telemetry_before={"cpu": 0.5}))
    journal.append(
        event(
            "j1", type=WalEventType.JOB_COMPLETED, output=[1, "two"], process_after={"pids": [1, 2]}
        )
    )
    path = tmp_path / "out.wal"
    assert journal.export_jsonl(path) == 2
    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == {
        "seq": 0,
        "ts": 1715800000,
        "type": "job_started",
        "job_id": "j1",
        "capability": "FileRead",
        "telemetry_before": {"cpu": 0.5},
    }
    other = JobJournal(journal.memory, "imported")
    report = other.import_jsonl(path)
    assert (report.imported, report.bad_lines, report.truncated_last_line) == (2, [], False)
    assert other.events() == journal.events()


def test_import_reports_bad_and_torn_lines(journal: JobJournal, tmp_path: Path) -> None:
    path = tmp_path / "old.wal"
    path.write_text(
        '{"seq":0,"ts":1,"type":"job_submitted","job_id":"a"}\n'
        "this is not json\n"
        '{"seq":1,"ts":2,"type":"job_exploded","job_id":"a"}\n'
        "\n"
        '{"seq":2,"ts":3,"type":"job_started","job_id":"a"}\n'
        '{"seq":3,"ts":4,"type":"job_comp'  # the old writer crashed here
    )
    report = journal.import_jsonl(path)
    assert report.imported == 2
    assert [bad.number for bad in report.bad_lines] == [2, 3]
    assert "job_exploded" in report.bad_lines[1].reason
    assert report.truncated_last_line is True
    assert [(e.seq, e.ts) for e in journal.events()] == [(0, 1), (1, 3)]


def test_import_of_a_missing_file(journal: JobJournal, tmp_path: Path) -> None:
    with pytest.raises(memkv.StoreUnavailable, match="nowhere"):
        journal.import_jsonl(tmp_path / "nowhere.wal")
    with pytest.raises(memkv.StoreUnavailable, match=str(tmp_path)):
        journal.import_jsonl(tmp_path)  # a directory


def test_export_where_no_file_can_be_written_names_the_path(
    journal: JobJournal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory used to raise IsADirectoryError; an empty path wrote a file named
    like the current directory."""
    journal.append(event("j"))
    files = tmp_path / "files"
    files.mkdir()
    (files / "a-file").write_text("in the way")
    with pytest.raises(memkv.InvalidArgument, match=f"{files}: it is a directory"):
        journal.export_jsonl(files)
    with pytest.raises(memkv.StoreUnavailable, match="missing"):
        journal.export_jsonl(files / "missing" / "out.wal")
    with pytest.raises(memkv.StoreUnavailable, match="a-file"):
        journal.export_jsonl(files / "a-file" / "out.wal")
    monkeypatch.chdir(files)
    for bad in ("", "  ", None, b"out.wal"):
        with pytest.raises(memkv.InvalidArgument, match="non-empty str"):
            journal.export_jsonl(bad)  # type: ignore[arg-type]
        with pytest.raises(memkv.InvalidArgument, match="non-empty str"):
            journal.import_jsonl(bad)  # type: ignore[arg-type]
    assert sorted(p.name for p in files.iterdir()) == ["a-file"]
    assert (files / "a-file").read_text() == "in the way"
    with pytest.raises(memkv.InvalidArgument, match="max_age_secs"):
        journal.cleanup("3600")  # type: ignore[arg-type]
    assert journal.export_jsonl(files / "ok.wal") == 1


def test_a_corrupt_event_is_reported(journal: JobJournal) -> None:
    journal.append(event("j"))
    journal.memory.store(journal.log.key(0), {"not": "an event"}, journal.log.category)
    with pytest.raises(memkv.CorruptRecord, match="not a JournalRecord"):
        journal.events()
    with pytest.raises(memkv.CorruptRecord):
        journal.replay()
