"""memkv on LMDB (py-lmdb), the default backend."""

from memkv.backends.lmdb.backend import LmdbBackend

__all__ = ["LmdbBackend"]
