"""memkv on PostgreSQL (the ``memkv[postgres]`` extra: psycopg 3 and psycopg_pool)."""

from memkv.backends.postgres.backend import PostgresBackend

__all__ = ["PostgresBackend"]
