"""A store's files: a backup taken while writers go on, and compaction in place.

`Memory.backup` (``memkv backup``) writes a consistent copy of an LMDB store to a
new directory that `memkv.open` opens; `compact` (``memkv compact``) rewrites an LMDB
store into its compacted copy, so that a SIGKILL at any moment leaves the store whole.
How both work and what they guard against: `memkv.backends.lmdb.copying`. PostgreSQL
and in-memory stores have no files of their own to copy: their entries move with
``export_jsonl`` and ``import_jsonl``.

>>> import memkv, tempfile
>>> with tempfile.TemporaryDirectory() as directory:
...     with memkv.open(f"{directory}/store") as mem:
...         _ = mem.store("user/name", "Ada")
...         _ = mem.backup(f"{directory}/copy")
...     done = memkv.compact(f"{directory}/store")
...     with memkv.open(f"{directory}/copy", readonly=True) as copy:
...         copy.get("user/name").content, done.size_after <= done.size_before
('Ada', True)
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from memkv.backends.lmdb.backend import compact as compact_lmdb_store
from memkv.errors import NotFound, Unsupported
from memkv.opening import LMDB, store_kind
from memkv.options import check_location

__all__ = ["Compaction", "compact"]


class Compaction(msgspec.Struct, frozen=True, kw_only=True):
    """What `compact` did to the store at ``path``: the size of its data file before
    and after, in bytes."""

    path: str
    size_before: int
    size_after: int


def compact(path: str | os.PathLike[str]) -> Compaction:
    """Rewrite the LMDB store at ``path`` into its compacted copy: free pages left out,
    the others renumbered, the same entries. The copy is written beside the data file,
    flushed, checked, and renamed over it, so that the store is whole whenever the
    process is killed (done twice, the second finds little to leave out). It needs
    the store to itself; a process that opens it meanwhile waits until it is done.

    Raises:
        InvalidArgument: ``path`` is not a path (as for `memkv.open`).
        Unsupported: ``path`` names an in-memory or PostgreSQL store.
        NotFound: nothing is at ``path``.
        StoreUnavailable: ``path`` holds no memkv store.
        StoreInUse: a process, this one or another, has the store open; nothing changed.
        StorageFull, BackendError: the copy failed; nothing changed.
    """
    location = check_location(path)
    kind = store_kind(location)
    if kind is not LMDB:
        raise Unsupported(
            f"compact rewrites the files of an LMDB store; {kind.name} stores have none "
            "(copy their entries with export_jsonl and import_jsonl)"
        )
    directory = Path(os.path.expanduser(location))
    if not os.path.lexists(directory):
        raise NotFound(f"no store at {directory}")
    before, after = compact_lmdb_store(directory)
    return Compaction(path=str(directory), size_before=before, size_after=after)
