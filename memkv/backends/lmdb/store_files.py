"""The checks on a store's files before LMDB opens them (docs/design.md, "LMDB
discipline"): LMDB maps ``data.mdb`` and ``lock.mdb`` and trusts what it finds, so
a file that is short, empty, missing, a symlink or someone else's is refused here,
with a `StoreUnavailable` naming the path and what is wrong, instead of crashing
the interpreter (SIGBUS on a page past the end of a file) or silently starting
afresh.

LMDB's data file begins with two meta pages (pages 0 and 1). On 64-bit builds each
page opens with a 16-byte header, then the meta: magic (u32), data version (u32),
the map address (u64), the map size (u64), two database records of 48 bytes (the
first one's leading u32 holds the page size), the last page number used (u64) and
the transaction id (u64).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import struct
import time
from pathlib import Path
from typing import Final

from memkv.errors import StorageFull, StoreUnavailable

DATA_FILE: Final = "data.mdb"
LOCK_FILE: Final = "lock.mdb"

_META_MAGIC: Final = 0xBEEFC0DE
_DATA_VERSION: Final = 1
_META: Final = struct.Struct("<II8x8xI44x48xQQ")  # magic, version, page size, last page, txn
_META_OFFSET: Final = 16  # the page header before the meta
_MIN_PAGE_SIZE: Final = 512
_MAX_PAGE_SIZE: Final = 1 << 16
_LOCK_HEADER: Final = 192
_READER_SLOT: Final = 64
# A process creating a store writes lock.mdb, then data.mdb empty, then its two meta
# pages: an empty data file next to a lock file may be a creation under way.
_CREATION_WAIT_SECONDS: Final = 2.0
_LENGTH_CHECKS: Final = 5  # looks at a data file found shorter than it claims, 10 ms apart


def check_store_files(directory: Path, *, readonly: bool, lock: bool) -> bool:
    """Refuse, before LMDB maps anything, a store whose files it must not open.

    - ``data.mdb`` or ``lock.mdb`` is a symlink (LMDB would write where it points);
    - a read-write open, and one of them is not owned by the opening user;
    - an open with ``lock`` (which creates or writes ``lock.mdb``), and the
      directory is writable by group or others but not owned by the opening user;
    - ``data.mdb`` is empty, or missing while ``lock.mdb`` exists: a store existed
      there, and LMDB would make an empty one of it (a store being created by
      another process is waited for, briefly);
    - ``data.mdb`` is shorter than the pages its meta pages claim, or its first page
      is not an LMDB meta page.

    A directory with neither file is a new store: nothing to check, and ``True``
    is returned (else ``False``).

    Raises:
        StoreUnavailable: one of the above, naming the path and why.
    """
    data, lock_file = directory / DATA_FILE, directory / LOCK_FILE
    for file in (data, lock_file):
        _check_file(file, readonly=readonly)
    if lock:
        _check_directory(directory)
    deadline = time.monotonic() + _CREATION_WAIT_SECONDS
    while True:
        size = _size(data)
        if size is None and not _exists(lock_file):
            if readonly:  # LMDB would create a lock file before it finds no data file
                raise StoreUnavailable(f"no store at {directory} (and readonly=True creates none)")
            return True  # a new store
        if size is not None and size > 0:
            break
        if time.monotonic() >= deadline:
            raise _started_afresh(directory, data, lock_file, missing=size is None)
        time.sleep(0.01)
    _check_length(data)
    return False


def allocate_lock_file(directory: Path, *, max_readers: int) -> bool:
    """Give ``lock.mdb`` all its disk blocks before LMDB maps it: LMDB makes it a
    sparse file and writes through its map, so on a full disk the first write to a
    hole (at open, or when a reader takes a slot) kills the process with SIGBUS.
    A missing lock file is created (mode 0600) at the size LMDB gives it for
    ``max_readers``; an existing one has its holes filled, its content unchanged.
    ``True`` if this call created the file.

    Call it only while this process has no LMDB environment open on ``directory``:
    closing a descriptor of ``lock.mdb`` drops the process's POSIX locks on it (see
    `memkv.backends.lmdb.commit_id`). A file it cannot open or create (a read-only
    open of another user's store, say) is left to LMDB to report.

    Raises:
        StorageFull: the disk has no room for it (a file this call created is
            removed again).
    """
    path = directory / LOCK_FILE
    created = False
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        try:
            fd = os.open(
                path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
            )
            created = True
        except OSError:
            return False  # created meanwhile by another process, or not creatable here
    except OSError:
        return False
    try:
        size = os.fstat(fd).st_size if not created else _lock_file_size(max_readers)
        if size and hasattr(os, "posix_fallocate"):  # not on macOS
            os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            return created  # a file system without fallocate: LMDB goes on as before
        if created:
            os.close(fd)
            fd = -1
            path.unlink(missing_ok=True)
        raise StorageFull(
            f"cannot open the store at {directory}: the disk is full (no room for {path})"
        ) from exc
    finally:
        if fd >= 0:
            os.close(fd)
    return created


def _lock_file_size(max_readers: int) -> int:
    """The size LMDB 0.9 gives ``lock.mdb`` on 64-bit Linux: a header of three
    cache lines (the first holding one reader slot), then a cache line per other
    reader slot."""
    return _LOCK_HEADER + (max_readers - 1) * _READER_SLOT


def _check_file(file: Path, *, readonly: bool) -> None:
    try:
        status = file.lstat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreUnavailable(f"cannot examine {file}: {exc.strerror or exc}") from exc
    if stat.S_ISLNK(status.st_mode):
        raise StoreUnavailable(
            f"{file} is a symlink: memkv does not follow symlinks in a store, as LMDB "
            "would write where it points; put the store's files themselves there"
        )
    if not stat.S_ISREG(status.st_mode):
        raise StoreUnavailable(f"{file} is not a regular file")
    if not readonly and status.st_uid != os.geteuid():
        raise StoreUnavailable(
            f"{file} is owned by user {status.st_uid}, not by this process's user "
            f"{os.geteuid()}: a store is written only by its owner (open it with "
            "readonly=True to read it)"
        )


def _check_directory(directory: Path) -> None:
    try:
        status = directory.stat()
    except OSError as exc:
        raise StoreUnavailable(f"cannot examine {directory}: {exc.strerror or exc}") from exc
    shared = status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if shared and status.st_uid != os.geteuid():
        raise StoreUnavailable(
            f"the store directory {directory} is writable by others (mode "
            f"{stat.S_IMODE(status.st_mode):o}) and owned by user {status.st_uid}, not by "
            f"this process's user {os.geteuid()}: anyone could replace the store's files. "
            "Keep a store in a directory of your own"
        )


def _check_length(data: Path) -> None:
    """Refuse ``data`` if it is shorter than the pages its meta pages claim: LMDB would
    map past its end, and die of SIGBUS reading there. The file's size is taken after
    its meta pages are read (a writer in another process extends the file before it
    writes a meta page naming the new pages), and a file found short is looked at
    again a few times before it is refused, in case such a writer is under way."""
    for attempt in range(_LENGTH_CHECKS):
        size, needed, claim = _length_and_claim(data)
        if size >= needed:
            return
        if attempt + 1 < _LENGTH_CHECKS:
            time.sleep(0.01)
    raise _short(data, size, claim)


def _length_and_claim(data: Path) -> tuple[int, int, str]:
    """The size of ``data``, the size its meta pages claim, and that claim in words."""
    try:
        with open(data, "rb") as file:
            first = file.read(_META_OFFSET + _META.size)
            if len(first) < _META_OFFSET + _META.size:
                return len(first), _META_OFFSET + _META.size, "its first meta page"
            magic, version, page_size, last_page, _ = _META.unpack_from(first, _META_OFFSET)
            if magic != _META_MAGIC or version != _DATA_VERSION:
                raise StoreUnavailable(
                    f"{data} is not an LMDB data file in the format memkv uses "
                    "(its first page is not an LMDB meta page)"
                )
            if not (_MIN_PAGE_SIZE <= page_size <= _MAX_PAGE_SIZE):
                raise StoreUnavailable(
                    f"{data} is damaged: its meta page gives a page size of {page_size}"
                )
            file.seek(page_size)
            second = file.read(_META_OFFSET + _META.size)
            size = os.fstat(file.fileno()).st_size
    except OSError as exc:
        raise StoreUnavailable(f"cannot read {data}: {exc.strerror or exc}") from exc
    if len(second) < _META_OFFSET + _META.size:
        return size, page_size + _META_OFFSET + _META.size, "its second meta page"
    magic, version, _, second_last, _ = _META.unpack_from(second, _META_OFFSET)
    if magic == _META_MAGIC and version == _DATA_VERSION:
        last_page = max(last_page, second_last)
    claim = f"the {last_page + 1} pages of {page_size} bytes its meta page claims"
    return size, (last_page + 1) * page_size, claim


def _started_afresh(
    directory: Path, data: Path, lock_file: Path, *, missing: bool
) -> StoreUnavailable:
    what = f"is missing, but {lock_file} shows that a store existed" if missing else "is empty"
    return StoreUnavailable(
        f"{data} {what}: refusing to start the store at {directory} afresh over it. "
        "Restore it from a backup; if it never held anything (its creation was "
        f"interrupted), remove {data} and {lock_file}"
    )


def _short(data: Path, size: int, what: str) -> StoreUnavailable:
    return StoreUnavailable(
        f"{data} is damaged: it is {size} bytes long, shorter than {what} "
        "(truncated?); memkv refuses to map it. Restore the store from a backup"
    )


def remove_failed_creation(directory: Path) -> None:
    """After LMDB failed to create a new store in ``directory`` for want of disk
    space: remove what it left (an empty ``data.mdb``, ``lock.mdb``), so that the
    store can be created once there is room, instead of being refused as a store
    that existed (`check_store_files`). Anything else is left alone."""
    data = directory / DATA_FILE
    with contextlib.suppress(OSError):
        if not data.exists() or data.stat().st_size == 0:
            data.unlink(missing_ok=True)
            (directory / LOCK_FILE).unlink(missing_ok=True)


def _size(file: Path) -> int | None:
    try:
        return file.stat().st_size
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreUnavailable(f"cannot examine {file}: {exc.strerror or exc}") from exc


def _exists(file: Path) -> bool:
    return _size(file) is not None
