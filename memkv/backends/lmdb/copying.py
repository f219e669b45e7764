"""Copies of an LMDB store as files: a backup into a new directory, taken while
writers go on, and the compaction of a store in place. Both are LMDB's own copy of
one read snapshot (`Environment.copy_to`), so each is consistent.

A **backup** is written into a temporary directory beside its destination
(``.NAME.*.partial``), flushed, opened once as a store (which checks it and makes its
lock file), then renamed into place: the destination holds a whole store or nothing.
A backup killed midway leaves only its temporary directory, which nothing reads.

**Compaction** writes the compacted copy to ``data.mdb.compacting`` in the store's
directory, flushes it, checks it, then renames it over ``data.mdb``: at every moment
``data.mdb`` is the old file or the new one, each whole and flushed. A compaction
killed midway leaves ``data.mdb.compacting`` behind; the next one removes it.

A process that has the store open keeps the old data file mapped, and its later
writes would go to that file, gone once renamed over: compaction needs the store to
itself. LMDB's own protocol says who has it open: every process holds a shared
``fcntl`` lock on the first byte of ``lock.mdb`` for as long as its environment is
open (the first opener takes it exclusively to set the lock file up, then shares it).
Compaction takes that byte exclusively without waiting, and refuses (`StoreInUse`)
if another process holds it. While it holds it, a process that opens the store waits
in LMDB's open, and opens the new data file once compaction is done. Not seen: a
process reading with ``lock=False``, which takes no lock (it keeps reading the old
file, whole, until it reopens).

LMDB renumbers a compacted copy: its last transaction id is 1, in meta page 1, where
the store's was ``T``. A process that opens the store while the lock file still says
``T`` (one that was waiting in its open, so did not set the lock file up anew) reads
meta page ``T & 1`` and numbers its next commit ``T + 1``. So before the rename, the
copy is committed to once more if need be (rewriting the format record as it was), so
that its current meta page is page ``T & 1``: every process then reads and extends the
copy's latest state, whichever lock file it joined. This rests on LMDB 0.9's format,
which memkv pins (``lib_version=0``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
from pathlib import Path
from typing import Final

import lmdb

from memkv.backends.base import Table
from memkv.backends.lmdb.environment import DB_NAMES, FORMAT, FORMAT_KEY, LIB_VERSION, Environment
from memkv.backends.lmdb.errors import engine_error, file_error
from memkv.backends.lmdb.options import LmdbOptions
from memkv.errors import BackendError, InvalidArgument, NotFound, StoreInUse
from memkv.options import Durability, check_location

DATA_FILE: Final = "data.mdb"
LOCK_FILE: Final = "lock.mdb"
COMPACTING: Final = "data.mdb.compacting"  # the compacted copy, before it is renamed
_PARTIAL_SUFFIX: Final = ".partial"  # of a backup's temporary directory
_DEFAULTS: Final = LmdbOptions()


# -- backup ------------------------------------------------------------------------


def backup(environment: Environment, destination: object, *, compact: bool) -> Path:
    """Copy the store of ``environment`` to the new directory ``destination`` (see the
    module docstring); return its absolute path.

    Raises:
        InvalidArgument: ``destination`` is not a path, exists, or lies inside the
            store's directory (nothing written).
        NotFound: its parent directory does not exist (nothing written).
        StorageFull, BackendError: writing the copy failed (nothing left at
            ``destination``).
    """
    target = _new_directory(destination, store=environment.path)
    try:
        partial = Path(
            tempfile.mkdtemp(  # private (0700), as a store directory is
                prefix=f".{target.name}.", suffix=_PARTIAL_SUFFIX, dir=target.parent
            )
        )
    except OSError as exc:
        raise file_error(f"cannot write a backup in {target.parent}", exc) from exc
    try:
        _write_copy(environment, partial / DATA_FILE, compact=compact)
        _check_opens(partial)
        _flush_directory(partial)
        if os.path.lexists(target):  # made meanwhile
            raise InvalidArgument(_exists_message(target))
        os.rename(partial, target)
        _flush_directory(target.parent)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise file_error(f"cannot write the backup {target}", exc) from exc
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return target


def _new_directory(destination: object, *, store: Path) -> Path:
    """``destination`` as an absolute path that can become a new directory outside
    ``store`` (the store's resolved directory)."""
    target = Path(os.path.abspath(os.path.expanduser(check_location(destination))))
    if os.path.lexists(target):
        raise InvalidArgument(_exists_message(target))
    parent = target.parent
    if not parent.is_dir():
        if os.path.lexists(parent):
            raise InvalidArgument(f"{parent} is not a directory: the backup {target} needs one")
        raise NotFound(f"no directory {parent} to hold the backup {target}")
    if (parent.resolve() / target.name).is_relative_to(store):
        raise InvalidArgument(
            f"the backup destination {target} is inside the store at {store}; "
            "write the backup outside the store's directory"
        )
    return target


def _exists_message(target: Path) -> str:
    return f"the backup destination {target} exists; a backup is written to a new path only"


def _write_copy(environment: Environment, path: Path, *, compact: bool) -> None:
    """LMDB's copy of ``environment`` into the new file ``path`` (0600), flushed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        environment.copy_to(fd, compact=compact)
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_opens(directory: Path) -> None:
    """Open the copy in ``directory`` as a read-only store and close it: the checks of
    any open (a memkv store, in the format this memkv reads); it makes the lock file."""
    status = directory.stat()
    Environment(
        directory,
        (status.st_dev, status.st_ino),
        map_size=_DEFAULTS.map_size,
        max_map_size=_DEFAULTS.max_map_size,
        durability=Durability.DURABLE,
        readonly=True,
    ).close()


# -- compaction ------------------------------------------------------------------------


def compact(environment: Environment) -> tuple[int, int]:
    """Replace the data file of ``environment``'s store by its compacted copy (see the
    module docstring), then close ``environment``, which must be open read-only for
    this alone (no handle of this process shares it). Returns the data file's sizes
    before and after, in bytes.

    Raises:
        StoreInUse: another process has the store open (nothing changed).
        StorageFull, BackendError: the copy failed (nothing changed).
    """
    directory = environment.path
    try:
        lock_fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        environment.close()
        raise file_error(f"cannot open the lock file of {directory}", exc) from exc
    try:
        _lock_exclusively(lock_fd, directory)
        return _replace_data_file(environment)
    finally:
        # The environment first: closing any descriptor of lock.mdb drops every lock
        # this process holds on it, and LMDB's lock must outlive the environment.
        environment.close()
        os.close(lock_fd)


def _lock_exclusively(lock_fd: int, directory: Path) -> None:
    """Take the first byte of the lock file exclusively, without waiting (this
    process's shared lock on it, taken by LMDB's open, becomes exclusive)."""
    try:
        fcntl.lockf(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 0, os.SEEK_SET)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            raise StoreInUse(
                f"the store at {directory} is open in another process; compact it once "
                "no process has it open (its later writes would be lost)"
            ) from exc
        raise file_error(f"cannot lock the store at {directory}", exc) from exc


def _replace_data_file(environment: Environment) -> tuple[int, int]:
    directory = environment.path
    data_file, temporary = directory / DATA_FILE, directory / COMPACTING
    try:
        before = data_file.stat().st_size
        last_txnid = environment.commit_id()  # as the lock file says
        figures = environment.stats()
        temporary.unlink(missing_ok=True)  # left by a compaction killed midway
        _write_copy(environment, temporary, compact=True)
        _settle_copy(temporary, figures["records"], last_txnid, map_size=figures["map_size"])
        os.rename(temporary, data_file)
        _flush_directory(directory)
        return before, data_file.stat().st_size
    except OSError as exc:
        _remove_quietly(temporary)
        raise file_error(f"cannot compact the store at {directory}", exc) from exc
    except BaseException:
        _remove_quietly(temporary)
        raise


def _settle_copy(path: Path, records: dict[str, int], last_txnid: int, *, map_size: int) -> None:
    """Check that the compacted copy at ``path`` holds as many records per table as
    the store, and make its current meta page the one ``last_txnid`` picks (see the
    module docstring); flushed."""
    try:
        env = lmdb.open(
            str(path),
            subdir=False,
            lock=False,  # a file nothing else knows of yet
            map_size=map_size,
            max_dbs=len(DB_NAMES),
            lib_version=LIB_VERSION,
            mode=0o600,
        )
    except lmdb.Error as exc:
        raise engine_error(f"cannot open the compacted copy {path}", exc) from exc
    try:
        dbs = {table: env.open_db(name, create=False) for table, name in DB_NAMES.items()}
        with env.begin() as txn:
            copied = {table.name.lower(): txn.stat(db)["entries"] for table, db in dbs.items()}
            found = txn.get(FORMAT_KEY, db=dbs[Table.META])
        if copied != records or found != FORMAT:
            raise BackendError(
                f"the compacted copy {path} holds {copied} records (format {found!r}) where "
                f"the store holds {records}; the store is left as it was"
            )
        if (int(env.info()["last_txnid"]) ^ last_txnid) & 1:
            with env.begin(write=True) as txn:  # one commit that changes nothing
                txn.put(FORMAT_KEY, FORMAT, db=dbs[Table.META])
        env.sync(True)
    except lmdb.Error as exc:
        raise engine_error(f"cannot check the compacted copy {path}", exc) from exc
    finally:
        env.close()


# -- files ----------------------------------------------------------------------------


def _flush_directory(directory: Path) -> None:
    """Flush ``directory`` itself, so that a rename in it survives a power loss."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_quietly(path: Path) -> None:
    """Remove ``path`` if there; a failure here is left unsaid (the one being raised
    says more, and the next compaction removes the file)."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
