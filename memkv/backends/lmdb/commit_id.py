"""The last committed transaction id, read from LMDB's lock file.

The lock file begins with LMDB's MDB_txbody: magic (u32), format (u32), the reader
mutex (40 bytes with glibc on 64-bit), then the last committed txn id (u64): LMDB
keeps it there for readers to pick their snapshot. Reading it costs a memory load
where mdb_env_info() costs a C call and a dict. The layout is checked when the file
is mapped; where it does not match, `LockFileCommitId` answers None and the
environment asks LMDB instead.
"""

from __future__ import annotations

import functools
import mmap
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Final

_LOCK_MAGIC: Final = 0xBEEFC0DE
_LOCK_TXNID_WORD: Final = 6  # byte offset 48, in u64 words


class LockFileCommitId:
    """The lock file of one environment (``lock.mdb`` in ``directory``), its map and
    the view of the map that the commit id is read from.

    Closing any descriptor of ``lock.mdb`` drops all of this process's POSIX locks
    on it, and LMDB relies on those locks to know that it is not alone: a process
    that finds no lock resets the lock file (reader table, writer mutex) under the
    others. So the file and its map (which holds a descriptor of its own) stay open
    until after the environment is closed: `close` only then, and while the
    environment stays open this object stays referenced (collecting it would close
    the file).
    """

    __slots__ = ("_file", "_map", "_path", "_words")

    def __init__(self, directory: Path) -> None:
        self._path = directory / "lock.mdb"
        self._file: BinaryIO | None = None
        self._map: mmap.mmap | None = None
        self._words: memoryview | None = None

    @property
    def opened(self) -> bool:
        """Whether `map_file` opened the file (even if it could not use it)."""
        return self._file is not None

    def map_file(self, last_txnid: Callable[[], int]) -> None:
        """Open and map the file, once the environment is open; ``last_txnid`` (the
        id as LMDB tells it) checks the layout."""
        try:
            lock_file = open(self._path, "rb")  # noqa: SIM115 - kept open, see the class
        except OSError:
            return
        self._file = lock_file
        try:
            self._map = mmap.mmap(lock_file.fileno(), 0, prot=mmap.PROT_READ)
        except (OSError, ValueError):
            return
        words = memoryview(self._map).cast("Q")
        with memoryview(self._map).cast("I") as header:
            magic = header[0]
        for _attempt in range(3):  # a writer in another process may commit in between
            if magic == _LOCK_MAGIC and words[_LOCK_TXNID_WORD] == last_txnid():
                self._words = words
                return
        words.release()

    def commit_id(self) -> int | None:
        """The last committed txn id; None if the file cannot be read."""
        words = self._words
        if words is not None:
            return int(words[_LOCK_TXNID_WORD])
        return None

    def commit_id_reader(self) -> Callable[[], int] | None:
        """`commit_id` as one C call; None if the file cannot be read."""
        words = self._words
        if words is not None:
            return functools.partial(words.__getitem__, _LOCK_TXNID_WORD)
        return None

    def close(self) -> None:
        """Only once the environment is closed (see the class)."""
        if self._words is not None:
            self._words.release()
            self._words = None
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._file is not None:
            self._file.close()
            self._file = None
