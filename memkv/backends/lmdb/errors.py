"""py-lmdb's errors as memkv errors."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import lmdb

from memkv.errors import BackendError, MemkvError, ReadOnlyStore, StorageFull, StoreUnavailable


def open_error(path: Path, exc: lmdb.Error) -> MemkvError:
    """The error of opening the store at ``path``: `StoreUnavailable` if the path or
    the format is wrong, else as `engine_error`."""
    code = getattr(exc, "code", None)
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
