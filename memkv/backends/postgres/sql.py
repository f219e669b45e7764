"""The PostgreSQL schema of a memkv store and the statements the backend sends.

A store lives in a schema of its own (``memkv`` unless `memkv.open` is told
otherwise) as two tables:

* ``kv (tbl smallint, k bytea, v bytea, primary key (tbl, k))``: the three tables of
  `memkv.backends.base.Table`, told apart by ``tbl``. ``bytea`` compares as unsigned
  bytes, shorter first on a common prefix: the order LMDB keeps, so a store reads the
  same on both and range scans walk the primary key in either direction.
* ``store_info``, one row: the schema version and ``last_commit``, the commit counter
  that every committing write transaction increases by exactly one (the read cache
  and the group commit rely on it, as on LMDB's transaction id).

Writers of one store take a transaction-level advisory lock keyed by the schema's
oid, so write transactions run one after another across every host: under it a
``READ COMMITTED`` transaction reads the latest commit and nothing else can change
underneath it, which makes it serialisable (counts, create-only inserts and sequence
numbers are read-modify-write). Readers never take it.
"""

from __future__ import annotations

from typing import Final

import msgspec
import psycopg
from psycopg import sql

SCHEMA_VERSION: Final = 1
_LOCK_CLASS: Final = 0x6D6B7600  # first key of memkv's advisory locks ("mkv\0")
_TABLES: Final = ("kv", "store_info")

# Statements that take no parameters are sent in the simple protocol, several at once.
_SETUP_LOCK: Final = sql.SQL("SELECT pg_advisory_xact_lock({cls}, hashtext({name}))")
_CREATE: Final = sql.SQL(
    """
    CREATE SCHEMA IF NOT EXISTS {schema};
    CREATE TABLE IF NOT EXISTS {schema}.store_info (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        schema_version integer NOT NULL,
        last_commit bigint NOT NULL
    );
    CREATE TABLE IF NOT EXISTS {schema}.kv (
        tbl smallint NOT NULL,
        k bytea NOT NULL,
        v bytea NOT NULL,
        PRIMARY KEY (tbl, k)
    );
    INSERT INTO {schema}.store_info (schema_version, last_commit)
        VALUES ({version}, 0) ON CONFLICT DO NOTHING
    """
)
_FOREIGN_TABLES: Final = sql.SQL(
    "SELECT tablename FROM pg_tables WHERE schemaname = {name} AND tablename <> ALL({ours})"
)
_VERSION: Final = sql.SQL(
    "SELECT schema_version, {name}::regnamespace::oid::integer FROM {schema}.store_info"
)
_SCHEMA_EXISTS: Final = sql.SQL("SELECT to_regclass({info}) IS NOT NULL")


class Statements(msgspec.Struct, frozen=True, kw_only=True):
    """The statements of one store, rendered once for its schema."""

    begin_write: str  # BEGIN + the writer lock: one round trip
    begin_snapshot: str
    get: str
    scans: dict[tuple[bool, bool, bool], str]  # (bounded, reverse, keys_only) -> SELECT
    commit_changes: str  # deletes, upserts and the commit counter, in one statement
    last_commit: str
    stats: str


def setup(conn: psycopg.Connection[tuple[object, ...]], schema: str, *, create: bool) -> Statements:
    """Create the store in ``schema`` if absent (and ``create``), check its version,
    and render its statements. ``conn`` is in autocommit mode.

    Raises:
        LookupError: no store in ``schema`` (and not ``create``).
        ValueError: ``schema`` holds other tables, or a store of another version.
    """
    name = sql.Literal(schema)
    ident = sql.Identifier(schema)
    info = sql.Literal(f"{schema}.store_info")
    with conn.transaction():
        if create:
            conn.execute(_SETUP_LOCK.format(cls=_LOCK_CLASS, name=name))
        foreign = conn.execute(_FOREIGN_TABLES.format(name=name, ours=sql.Literal(list(_TABLES))))
        found = sorted(str(row[0]) for row in foreign.fetchall())
        if found:
            raise ValueError(
                f"schema {schema!r} holds tables memkv did not make: {', '.join(found)}"
            )
        exists = conn.execute(_SCHEMA_EXISTS.format(info=info)).fetchone()
        if not (exists and exists[0]):
            if not create:
                raise LookupError(f"no memkv store in schema {schema!r}")
            conn.execute(_CREATE.format(schema=ident, version=SCHEMA_VERSION))
        row = conn.execute(_VERSION.format(name=name, schema=ident)).fetchone()
    if row is None:
        raise ValueError(f"schema {schema!r} has an empty store_info table")
    version, schema_oid = int(str(row[0])), int(str(row[1]))
    if version != SCHEMA_VERSION:
        raise ValueError(
            f"the store in schema {schema!r} has schema version {version}; "
            f"this memkv reads version {SCHEMA_VERSION}"
        )
    return _render(conn, ident, schema_oid)


def _render(
    conn: psycopg.Connection[tuple[object, ...]], schema: sql.Identifier, oid: int
) -> Statements:
    kv = sql.SQL("{}.kv").format(schema)
    info = sql.SQL("{}.store_info").format(schema)

    def text(statement: sql.Composable) -> str:
        return statement.as_string(conn)

    scans = {}
    for bounded in (False, True):
        for reverse in (False, True):
            for keys_only in (False, True):
                scans[bounded, reverse, keys_only] = text(
                    sql.SQL(
                        "SELECT k{value} FROM {kv} WHERE tbl = %s AND k >= %s{stop}"
                        " ORDER BY k{order} LIMIT %s"
                    ).format(
                        value=sql.SQL("" if keys_only else ", v"),
                        kv=kv,
                        stop=sql.SQL(" AND k < %s" if bounded else ""),
                        order=sql.SQL(" DESC" if reverse else ""),
                    )
                )
    return Statements(
        begin_write=text(
            sql.SQL("BEGIN; SELECT pg_advisory_xact_lock({cls}, {oid})").format(
                cls=_LOCK_CLASS, oid=oid
            )
        ),
        begin_snapshot="BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        get=text(sql.SQL("SELECT v FROM {kv} WHERE tbl = %s AND k = %s").format(kv=kv)),
        scans=scans,
        commit_changes=text(
            sql.SQL(
                """
                WITH removed AS (
                    DELETE FROM {kv} AS kv
                    USING unnest(%s::smallint[], %s::bytea[]) AS gone (tbl, k)
                    WHERE kv.tbl = gone.tbl AND kv.k = gone.k
                ), written AS (
                    INSERT INTO {kv} (tbl, k, v)
                    SELECT * FROM unnest(%s::smallint[], %s::bytea[], %s::bytea[])
                    ON CONFLICT (tbl, k) DO UPDATE SET v = excluded.v
                )
                UPDATE {info} SET last_commit = last_commit + 1 RETURNING last_commit
                """
            ).format(kv=kv, info=info)
        ),
        last_commit=text(sql.SQL("SELECT last_commit FROM {info}").format(info=info)),
        stats=text(
            sql.SQL(
                "SELECT (SELECT last_commit FROM {info}), pg_total_relation_size({kv_name}),"
                " (SELECT json_object_agg(tbl, n) FROM"
                " (SELECT tbl, count(*) AS n FROM {kv} GROUP BY tbl) AS counted),"
                " current_setting('server_version')"
            ).format(info=info, kv=kv, kv_name=sql.Literal(text(kv)))
        ),
    )
