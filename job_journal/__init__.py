"""job_journal: crash-safe, sequence-numbered job event journal, on memkv.

>>> import memkv, job_journal
>>> journal = job_journal.JobJournal(memkv.open(":memory:"))
>>> journal.append(job_journal.WalEvent(ts=1715800000, type="job_started", job_id="j1"))
0
"""

from job_journal.journal import JobJournal
from job_journal.types import BadLine, ImportReport, JobState, WalEvent, WalEventType

__all__ = ["BadLine", "ImportReport", "JobJournal", "JobState", "WalEvent", "WalEventType"]
