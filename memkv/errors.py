"""The memkv error hierarchy: every error a user can see derives from `MemkvError`.

Foreign errors (LMDB, msgspec, the operating system) are wrapped with ``raise ... from``
so that the original stays reachable as ``__cause__``; each message names the key or
path that failed.
"""

from __future__ import annotations


class MemkvError(Exception):
    """Root of every error memkv raises."""


class InvalidArgument(MemkvError, ValueError):
    """An argument is malformed: an unknown option, a bad limit, cursor or category."""


class InvalidKey(InvalidArgument):
    """A key is empty, too long, not a string, or not encodable as UTF-8."""


class InvalidCursor(InvalidArgument):
    """A paging cursor is malformed (not one this store handed out)."""


class InvalidContent(InvalidArgument):
    """A content value cannot be encoded (an unsupported type, say)."""


class TypeMismatch(MemkvError, TypeError):
    """A stored content does not decode into the ``type=`` the caller asked for."""

    def __init__(self, message: str, *, key: str) -> None:
        super().__init__(message)
        self.key = key


class Conflict(MemkvError):
    """A create-only write found the key already present; nothing was changed."""

    def __init__(self, message: str, *, key: str) -> None:
        super().__init__(message)
        self.key = key


class NotFound(MemkvError, LookupError):
    """Something that must exist does not."""


class CorruptRecord(MemkvError):
    """A stored record cannot be decoded. Never mistaken for "absent"."""

    def __init__(self, message: str, *, key: str) -> None:
        super().__init__(message)
        self.key = key


class StorageFull(MemkvError):
    """The disk is full, or the store reached its configured ``max_map_size``."""


class StoreUnavailable(MemkvError):
    """The store cannot be opened: its path is not a directory, is not readable, holds
    no memkv store, or holds one in a format this version does not read."""


class StoreClosed(MemkvError):
    """The store was used after ``close()``."""


class NestedTransaction(MemkvError):
    """A write transaction was started inside another on the same thread; use the
    ``tx`` handed to the transaction function instead."""


class TransactionClosed(StoreClosed):
    """A transaction's ``tx``, or a snapshot's view, was used after its function
    returned."""


class ReadOnlyStore(MemkvError):
    """A write was attempted on a store opened with ``readonly=True``."""


class BackendError(MemkvError):
    """The storage engine failed; ``code`` keeps the engine's own error code, if any
    (an errno for LMDB, a SQLSTATE such as ``"40001"`` for PostgreSQL)."""

    def __init__(self, message: str, *, code: int | str | None = None) -> None:
        super().__init__(message)
        self.code = code


class ServerUnavailable(BackendError, StoreUnavailable):
    """A database server cannot be reached, or the connection to it was lost during an
    operation. Nothing half-written is kept; once the server is back, the same store
    object works again (it reconnects by itself)."""


class AccessDenied(StoreUnavailable):
    """The database server refused the credentials or the database named."""


class RetriesExhausted(BackendError):
    """A transaction kept failing on a serialisation failure or a deadlock, and was
    given up after the configured number of runs; nothing of it was committed."""


class Unsupported(MemkvError):
    """The operation does not exist for this kind of store (a file backup of a
    PostgreSQL or in-memory store, say); the message names the route that does."""


class StoreInUse(MemkvError):
    """An operation that needs the store to itself (``memkv.compact``) found it open
    in this process or another; nothing was changed."""
