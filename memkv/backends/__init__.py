"""Backends: ordered byte-key stores with transactions (see `memkv.backends.base`)."""

from memkv.backends.base import Backend, ReadTxn, Table, WriteTxn
from memkv.backends.inmemory import InMemoryBackend
from memkv.backends.lmdb import LmdbBackend

__all__ = ["Backend", "InMemoryBackend", "LmdbBackend", "ReadTxn", "Table", "WriteTxn"]
