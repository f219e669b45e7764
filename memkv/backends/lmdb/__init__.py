"""memkv on LMDB (py-lmdb), the default backend.

Discipline (see docs/design.md):

* Data lives in three named databases, never in the main DB.
* The on-disk format is pinned: py-lmdb 3 bundles LMDB 0.9 and 1.0, whose files
  differ; memkv always opens with ``lib_version=0`` (data format v1, readable by every
  LMDB 0.9 tool). A store in another format is refused with a clear error.
* The map grows by itself: a write that fills it is retried on a larger map, so users
  never see ``MapFullError``; a map grown by another process is adopted.
* LMDB forbids opening one environment twice in a process, so every `LmdbBackend`
  on the same directory shares one environment (reference counted).
* Fork: an environment must not be used in a child process (its reader slots carry
  the parent's pid and leak). A fork hook waits until no transaction is in flight,
  and the child closes the inherited environment and opens its own on first use.
* Every transaction ends inside the call that began it; scans return lists.

Modules: `backend` (the handle, and the registry of shared environments),
`environment` (one environment: opening, transactions, map growth, fork, close),
`txn` (the transactions functions receive), `commit_id` (the last commit id, read
from the lock file), `errors` (py-lmdb's errors as memkv's).
"""

from memkv.backends.lmdb.backend import LmdbBackend

__all__ = ["LmdbBackend"]
