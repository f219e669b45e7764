"""memkv on LMDB (py-lmdb), the default backend.

It keeps the rules of docs/design.md, "LMDB discipline": data in three named
databases; the on-disk format pinned (``lib_version=0``: LMDB 0.9, data format v1);
a map that grows by itself; one environment per directory per process, shared by its
handles; no environment used in a forked child (the child opens its own); the lock
file open until the environment is closed; every transaction ended inside the call
that began it.

Modules: `backend` (the handle, and the registry of shared environments),
`environment` (one environment: opening, transactions, map growth, fork, close),
`txn` (the transactions functions receive), `commit_id` (the last commit id, read
from the lock file), `copying` (backups, and compaction in place), `errors` (py-lmdb's
errors as memkv's).
"""

from memkv.backends.lmdb.backend import LmdbBackend

__all__ = ["LmdbBackend"]
