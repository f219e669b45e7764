"""py-lmdb's errors as memkv errors."""

from __future__ import annotations

import errno
import os
import resource
from pathlib import Path
from typing import Final

import lmdb

from memkv.errors import BackendError, MemkvError, ReadOnlyStore, StorageFull, StoreUnavailable

# An EIO from a write with less free space than this (or this close to the file size
# limit) is taken for a full disk: a short write leaves next to nothing free.
_FULL_MARGIN_BYTES: Final = 1 << 20


def open_error(path: Path, exc: lmdb.Error, *, readonly: bool, lock: bool) -> MemkvError:
    """The error of opening the store at ``path``: `StoreUnavailable` if the path or
    the format is wrong, else as `engine_error`. A store opened ``readonly`` whose lock
    file cannot be written or created is told how to read it anyway, and at what risk."""
    code = getattr(exc, "code", None)
    data_readable = os.access(path / "data.mdb", os.R_OK)
    if code in (errno.EACCES, errno.EPERM, errno.EROFS) and readonly and lock and data_readable:
        return StoreUnavailable(
            f"cannot open the store at {path}: {os.strerror(code)}. Even a read-only open "
            "writes LMDB's lock file (lock.mdb), to coordinate with writers. If this store "
            "is a backup, a copy, on read-only media, or no process writes it, open it with "
            "readonly=True, lock=False: then nothing coordinates with a process writing it "
            "meanwhile, whose changes could make reads fail or return torn data"
        )
    if code in (errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR, errno.EROFS):
        return StoreUnavailable(f"cannot open the store at {path}: {os.strerror(code)}")
    if isinstance(exc, lmdb.InvalidError | lmdb.VersionMismatchError):
        return StoreUnavailable(
            f"{path} is not an LMDB store in the format memkv uses (LMDB 0.9, data format v1)"
        )
    return engine_error(f"cannot open the store at {path}", exc)


def engine_error(context: str, exc: lmdb.Error) -> MemkvError:
    """The error of an operation (``context`` says which): `StorageFull` if the disk
    is full, `ReadOnlyStore` if the store cannot be written, else `BackendError`."""
    code = getattr(exc, "code", None)
    if code == errno.ENOSPC:
        return StorageFull(f"{context}: the disk is full")
    if isinstance(exc, lmdb.ReadonlyError) or code == errno.EACCES:
        return ReadOnlyStore(f"{context}: the store is read-only ({exc})")
    return BackendError(f"{context}: {exc}", code=code)


def write_error(path: Path, context: str, exc: lmdb.Error) -> MemkvError:
    """The error of a write to the store at ``path``: as `engine_error`, except that a
    full disk is `StorageFull` even when LMDB reports it as EIO (which it does for a
    short write: the disk had room for part of the pages only) or EFBIG (the file
    size limit, RLIMIT_FSIZE). Nothing of the failed write is committed; the store
    stays readable, and writes again once space is freed."""
    code = getattr(exc, "code", None)
    if code == errno.EFBIG or (code == errno.EIO and _out_of_space(path)):
        return StorageFull(f"{context}: the disk is full ({os.strerror(code)})")
    return engine_error(context, exc)


def _out_of_space(path: Path) -> bool:
    """Whether the file system of ``path`` is (nearly) full, or the data file is at
    this process's file size limit: then an EIO from a write was a short write."""
    try:
        fs = os.statvfs(path)
        data_size = (path / "data.mdb").stat().st_size
    except OSError:
        return False
    free_blocks = fs.f_bfree if os.geteuid() == 0 else fs.f_bavail  # root may use reserved
    if free_blocks * fs.f_frsize < _FULL_MARGIN_BYTES:
        return True
    size_limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return size_limit != resource.RLIM_INFINITY and data_size + _FULL_MARGIN_BYTES > size_limit


def file_error(context: str, exc: OSError) -> MemkvError:
    """The error of a file operation around the engine (``context`` says which):
    `StorageFull` if the disk is full, else `BackendError` with the errno."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFull(f"{context}: the disk is full")
    return BackendError(f"{context}: {exc.strerror or exc}", code=exc.errno)
