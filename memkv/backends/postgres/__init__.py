"""memkv on PostgreSQL (the ``memkv[postgres]`` extra: psycopg 3 and psycopg_pool).

`memkv.backends.postgres.backend.PostgresBackend` needs psycopg; its options
(`memkv.backends.postgres.options`) do not, so `memkv.open` can check them first.
"""
