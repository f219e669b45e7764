"""Where a journal lives in a `memkv.Memory`, besides its sequence log
``"journal." + name`` (see `memkv.SequenceLog`):

* ``("journal", name, "last", job_id)`` -> the seq of the job's latest event
  (category ``journal.last``). Each stored event also carries the seq of its job's
  previous event, so a job's events are a chain from this pointer: reading them costs
  what they are, and an append touches one small key more, whatever the journal holds.
"""

from __future__ import annotations

from typing import Final

from memkv.keys import pack

LAST_CATEGORY: Final = "journal.last"
_ROOT: Final = "journal"
HOLDINGS: Final = ((LAST_CATEGORY, pack((_ROOT,))),)  # besides the sequence log's


def log_name(journal: str) -> str:
    return _ROOT + "." + journal


def last_key(journal: str, job_id: str) -> str:
    return pack((_ROOT, journal, "last", job_id))
