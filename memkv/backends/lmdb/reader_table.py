"""Stale reader slots cleared from outside LMDB, for an open that LMDB refuses with
MDB_READERS_FULL: py-lmdb takes a reader slot while it opens an environment, so when
every slot belongs to a dead process, the environment's own ``reader_check()`` can
never run. `reap_dead_readers` does what LMDB's mdb_reader_check does, on the lock
file directly.

The lock file (LMDB 0.9, Linux, glibc, 64-bit) holds, at offset 0, the magic (u32)
and the format (u32), then the reader mutex (a robust, process-shared pthread mutex
of 40 bytes) and the last txn id (u64); at offset 56 the number of slots in use (u32);
from offset 128 the slots, 64 bytes each: txn id (u64), pid (i32). A live LMDB reader
holds a POSIX lock on the byte of the lock file numbered by its pid; a slot whose pid
holds none is stale. Slots are cleared under the reader mutex, as LMDB does, so that
none taken meanwhile by a new reader is cleared. Where the file does not have this
layout, nothing is touched.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import struct
import sys
from pathlib import Path
from typing import Final

_MAGIC: Final = 0xBEEFC0DE
_MUTEX_OFFSET: Final = 8
_MUTEX_SIZE: Final = 40
_SLOTS_IN_USE_OFFSET: Final = 56
_SLOTS_OFFSET: Final = 128
_SLOT_SIZE: Final = 64
_PID_IN_SLOT: Final = 8
_FLOCK: Final = struct.Struct("hhqqi4x")  # struct flock on Linux, 64-bit


def reap_dead_readers(directory: Path) -> int:
    """Clear the reader slots of dead processes in ``directory``'s ``lock.mdb``; how
    many. Only for a process that has no environment open on ``directory``: closing
    the file drops this process's POSIX locks on it. 0 where the file is missing,
    cannot be written, or has another layout (another platform, say)."""
    if sys.platform != "linux" or struct.calcsize("P") != 8:
        return 0
    try:
        fd = os.open(directory / "lock.mdb", os.O_RDWR)
    except OSError:
        return 0
    try:
        size = os.fstat(fd).st_size
        if size <= _SLOTS_OFFSET or (size - _SLOTS_OFFSET) % _SLOT_SIZE:
            return 0
        with mmap.mmap(fd, size) as table:
            if struct.unpack_from("=I", table, 0)[0] != _MAGIC:
                return 0
            return _reap_under_mutex(fd, table, (size - _SLOTS_OFFSET) // _SLOT_SIZE)
    except OSError:
        return 0
    finally:
        os.close(fd)


def _reap_under_mutex(fd: int, table: mmap.mmap, slots: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    mutex = (ctypes.c_char * _MUTEX_SIZE).from_buffer(table, _MUTEX_OFFSET)
    try:
        locked = libc.pthread_mutex_lock(ctypes.byref(mutex))
        if locked == errno.EOWNERDEAD:  # its holder died: clearing slots is the repair
            libc.pthread_mutex_consistent(ctypes.byref(mutex))
        elif locked != 0:
            return 0
        try:
            return _clear_dead_slots(fd, table, slots)
        finally:
            libc.pthread_mutex_unlock(ctypes.byref(mutex))
    finally:
        del mutex  # releases the buffer, so that the map can close


def _clear_dead_slots(fd: int, table: mmap.mmap, slots: int) -> int:
    in_use = min(struct.unpack_from("=I", table, _SLOTS_IN_USE_OFFSET)[0], slots)
    alive: dict[int, bool] = {os.getpid(): True}
    cleared = 0
    for slot in range(in_use):
        at = _SLOTS_OFFSET + slot * _SLOT_SIZE + _PID_IN_SLOT
        pid = struct.unpack_from("=i", table, at)[0]
        if pid <= 0:
            continue
        if pid not in alive:
            alive[pid] = _holds_reader_lock(fd, pid)
        if not alive[pid]:
            struct.pack_into("=i", table, at, 0)
            cleared += 1
    return cleared


def _holds_reader_lock(fd: int, pid: int) -> bool:
    """Whether a process (LMDB's reader ``pid``) holds the lock on byte ``pid``."""
    asked = _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, pid, 1, 0)
    answer = fcntl.fcntl(fd, fcntl.F_GETLK, asked)
    return bool(_FLOCK.unpack(answer)[0] != fcntl.F_UNLCK)
