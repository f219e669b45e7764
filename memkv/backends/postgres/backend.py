"""The PostgreSQL backend: one memkv store shared by processes on many hosts.

How the backend interface maps onto PostgreSQL (the schema and the statements are in
`memkv.backends.postgres.sql`):

* Connections come from a psycopg_pool pool, in autocommit mode; the backend sends
  ``BEGIN`` and ``COMMIT`` itself.
* A write transaction takes the store's writer lock (an advisory lock) as it begins,
  reads from the server, and keeps what it writes in an overlay
  (`memkv.backends.postgres.overlay`), so a savepoint costs nothing on the server; at
  commit the overlay goes in one statement that also bumps the commit counter,
  pipelined with ``COMMIT``: one round trip.
* A read function runs first on a connection without a transaction: if it sends one
  statement (a point read, a page of a list, a count), that statement is its
  snapshot. If it sends a second, it is run again inside a ``REPEATABLE READ READ
  ONLY`` transaction (a read function may be run again: `Backend.read`).
* A serialisation failure or a deadlock (another session holding rows the writer
  needs, say) runs the whole write again, up to ``max_retries`` more times, then
  raises `RetriesExhausted`. A connection found broken before the commit was sent
  (the server restarted, say) is replaced and the operation run once more; a
  connection lost during the commit raises `ServerUnavailable`, since the commit may
  or may not have happened (it happened whole, or not at all).
* ``flush`` has nothing to do: the server flushes before it confirms a commit, as the
  durability level (``synchronous_commit``) asks.
"""

from __future__ import annotations

import collections
import os
import random
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Final

import psycopg
import psycopg_pool
from psycopg import conninfo as libpq_conninfo

from memkv.backends.base import Backend, EngineSignal, Outcome, ReadTxn, T, Table, WriteTxn
from memkv.backends.postgres import sql
from memkv.backends.postgres.errors import (
    RETRYABLE,
    cause_to_chain,
    commit_lost_error,
    connect_error,
    describe_server,
    is_connection_error,
    operation_error,
    parse_conninfo,
    retries_error,
    secrets_to_mask,
)
from memkv.backends.postgres.overlay import OverlayWriteTxn
from memkv.errors import (
    BackendError,
    NestedTransaction,
    ReadOnlyStore,
    StoreClosed,
    StoreUnavailable,
)
from memkv.options import Durability

Connection = psycopg.Connection[tuple[Any, ...]]

_BACKOFF_START: Final = 0.002  # seconds before the first rerun after a serialisation failure
_BACKOFF_MAX: Final = 0.2
# Pools of stores opened before a fork: a child must neither use nor close them (closing
# would end the parent's sessions), so it keeps them referenced and never touches them.
_inherited_pools: list[psycopg_pool.ConnectionPool[Connection]] = []


class _RecentFirstPool(psycopg_pool.ConnectionPool[Connection]):
    """psycopg_pool hands out the connection idle longest, so a thread querying one
    statement after another cycles through every connection the pool has opened,
    each a server process gone cold meanwhile (measured: a list page 2.4x slower
    than on one connection, after a burst of 16 threads had grown the pool). This
    pool hands out the connection returned last. It turns the pool's queue of idle
    connections (a private attribute) under the pool's lock; if a psycopg_pool
    release renames it, the pool keeps its own order."""

    def _get_ready_connection(self, timeout: float | None) -> Connection | None:
        idle = getattr(self, "_pool", None)
        if isinstance(idle, collections.deque):
            idle.rotate(1)
        return super()._get_ready_connection(timeout)


class _NeedsSnapshot(EngineSignal):
    """A read function sent a second statement outside a snapshot: run it in one.
    (An `EngineSignal`, so that no ``except Exception`` of the function swallows it.)"""


class _EngineFailure(EngineSignal):
    """A statement failed: carried past the functions' own error handling, so that a
    failing server is never taken for a function that raised."""

    def __init__(self, error: psycopg.Error) -> None:
        super().__init__(error)
        self.error = error


class _Reader:
    """`ReadTxn` on a connection: alone (``single``: one statement allowed), in a
    read-only snapshot, or in a write transaction holding the writer lock."""

    __slots__ = ("_conn", "_sent", "_single", "_snapshot_id", "_statements")

    def __init__(self, conn: Connection, statements: sql.Statements, *, single: bool) -> None:
        self._conn = conn
        self._statements = statements
        self._single = single
        self._sent = False
        self._snapshot_id: int | None = None

    def _fetch(self, statement: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        if self._single:
            if self._sent:
                raise _NeedsSnapshot
            self._sent = True
        return _execute(self._conn, statement, params, binary=True).fetchall()

    @property
    def snapshot_id(self) -> int:
        if self._snapshot_id is None:
            [(last_commit,)] = self._fetch(self._statements.last_commit, ())
            self._snapshot_id = int(last_commit)
        return self._snapshot_id

    def get(self, table: Table, key: bytes) -> bytes | None:
        rows = self._fetch(self._statements.get, (int(table), key))
        return rows[0][0] if rows else None

    def scan(
        self,
        table: Table,
        start: bytes,
        stop: bytes | None,
        *,
        reverse: bool = False,
        limit: int | None = None,
        keys_only: bool = False,
    ) -> list[tuple[bytes, bytes]]:
        statement = self._statements.scans[stop is not None, reverse, keys_only]
        params = (int(table), start, limit) if stop is None else (int(table), start, stop, limit)
        rows = self._fetch(statement, params)
        if keys_only:
            return [(row[0], b"") for row in rows]
        return rows


class _WriteTxn(OverlayWriteTxn):
    """A write transaction: reads go to the server (under the writer lock, so they see
    the latest commit); writes wait in the overlay until commit."""

    __slots__ = ()

    @property
    def txn_id(self) -> int:
        return self.snapshot_id + 1  # no other writer can commit meanwhile


class PostgresBackend(Backend):
    """A memkv store in a schema of a PostgreSQL database (see the module docstring).

    ``conninfo`` is a libpq connection string or ``postgresql://`` URL; what it leaves
    out comes from the ``PG*`` environment variables, as for every libpq client.
    """

    name = "postgres"
    local_reads = False  # every read is a round trip to the server

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str = "memkv",
        durability: Durability = Durability.DURABLE,
        readonly: bool = False,
        pool_size: int = 8,
        connect_timeout: float = 5.0,
        statement_timeout: float = 30.0,
        max_retries: int = 5,
    ) -> None:
        self.readonly = readonly
        given = parse_conninfo(conninfo)  # raises StoreUnavailable, the password masked
        self._secrets = secrets_to_mask(conninfo, given)
        self.server = describe_server(conninfo)
        self.schema = schema
        self.location = f"{self.server} (schema {schema})"
        self._max_retries = max_retries
        self._pool_size = pool_size
        self._timeout = connect_timeout
        self._conninfo = _with_session_settings(
            conninfo, given, durability, statement_timeout, connect_timeout
        )
        self._closed = False
        self._writers: set[int] = set()  # threads inside a write transaction
        self._outside_pool: weakref.WeakSet[Connection] = weakref.WeakSet()
        with self._connect_directly() as conn:
            try:
                self._statements = sql.setup(conn, schema, create=not readonly)
            except LookupError as exc:
                raise StoreUnavailable(
                    f"{exc} at {self.server} (and readonly=True creates none)"
                ) from None
            except ValueError as exc:
                raise StoreUnavailable(f"{exc} at {self.server}") from None
            except psycopg.Error as exc:
                raise self._error("creating the store", exc) from self._cause(exc)
        self._pid = os.getpid()
        self._pool = self._new_pool()

    # -- connections ---------------------------------------------------------------

    def _connect_directly(self) -> Connection:
        """A connection outside the pool; raises what is wrong if there is none."""
        try:
            return psycopg.connect(self._conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise connect_error(self.server, exc, self._secrets) from None

    def _new_pool(self) -> psycopg_pool.ConnectionPool[Connection]:
        pool = _RecentFirstPool(
            self._conninfo,
            kwargs={"autocommit": True},
            min_size=1,
            max_size=self._pool_size,
            timeout=self._timeout,
            name=f"memkv {self.schema}",
            num_workers=1,
            open=False,
        )
        pool.open(wait=False)
        return pool

    def _checkout(self) -> Connection:
        if self._closed:
            raise StoreClosed(f"the store at {self.location} is closed")
        if os.getpid() != self._pid:  # forked: the parent's connections are not ours
            _inherited_pools.append(self._pool)
            self._pid = os.getpid()
            self._pool = self._new_pool()
        try:
            return self._pool.getconn()
        except psycopg_pool.PoolTimeout:
            return self._connect_past_the_pool()
        except psycopg_pool.PoolClosed:
            raise StoreClosed(f"the store at {self.location} is closed") from None

    def _connect_past_the_pool(self) -> Connection:
        """No pooled connection came within the timeout. If every connection the pool
        may open is in use, say so; else the pool is still reconnecting (the server
        was down): a direct attempt says what is wrong, or, the server being back,
        serves this one operation (`_check_in` closes it)."""
        stats = self._pool.get_stats()
        if stats.get("pool_size", 0) >= self._pool_size and not stats.get("pool_available"):
            raise BackendError(
                f"no free connection to {self.server} within {self._timeout} s: all "
                f"{self._pool_size} of the pool are in use (raise pool_size?)"
            )
        conn = self._connect_directly()  # raises ServerUnavailable or AccessDenied
        self._outside_pool.add(conn)
        return conn

    def _check_in(self, conn: Connection) -> None:
        if conn in self._outside_pool:
            self._outside_pool.discard(conn)
            conn.close()
        else:
            self._pool.putconn(conn)

    def _run(self, doing: str, attempt: Callable[[Connection], T]) -> T:
        """``attempt(conn)`` on a pooled connection; once more on a fresh one if the
        connection turns out broken before anything was committed (a connection
        lost during a commit is `_commit`'s to report)."""
        for tries in (1, 2):
            conn = self._checkout()
            try:
                return attempt(conn)
            except _EngineFailure as failure:
                error = failure.error
            finally:
                self._check_in(conn)
            if tries == 1 and is_connection_error(error):
                self._pool.check()  # replace the other broken connections too
                continue
            raise self._error(doing, error) from self._cause(error)
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, doing: str, error: psycopg.Error) -> Exception:
        return operation_error(self.server, doing, error, self._secrets)

    def _cause(self, error: psycopg.Error) -> BaseException | None:
        """``error`` to chain, or ``None`` if its text shows the password."""
        return cause_to_chain(error, self._secrets)

    # -- reads -------------------------------------------------------------------------

    def read(self, fn: Callable[[ReadTxn], T], *, several_reads: bool = False) -> T:
        statements = self._statements

        def attempt(conn: Connection) -> T:
            if not several_reads:
                try:
                    return fn(_Reader(conn, statements, single=True))
                except _NeedsSnapshot:
                    pass
            _execute(conn, statements.begin_snapshot)
            try:
                result = fn(_Reader(conn, statements, single=False))
            except BaseException:
                _roll_back(conn)
                raise
            _execute(conn, "COMMIT")
            return result

        return self._run("reading", attempt)

    def point_reader(self, table: Table) -> Callable[[bytes], bytes | None]:
        statements = self._statements

        def read_one(key: bytes) -> bytes | None:
            return self._run(
                "reading", lambda conn: _Reader(conn, statements, single=True).get(table, key)
            )

        return read_one

    def commit_id(self) -> int:
        statements = self._statements
        return self._run(
            "reading the commit id",
            lambda conn: _Reader(conn, statements, single=True).snapshot_id,
        )

    # -- writes --------------------------------------------------------------------------

    def check_writable(self) -> None:
        if self._closed:
            raise StoreClosed(f"the store at {self.location} is closed")
        if self.readonly:
            raise ReadOnlyStore(f"the store at {self.location} was opened read-only")
        if threading.get_ident() in self._writers:
            raise NestedTransaction(
                "a write transaction is already open on this thread; use its tx"
            )

    def write_group(self, fns: list[Callable[[WriteTxn], Any]]) -> tuple[list[Outcome], int]:
        self.check_writable()
        thread = threading.get_ident()
        self._writers.add(thread)
        try:
            return self._write_with_retries(fns)
        finally:
            self._writers.discard(thread)

    def _write_with_retries(
        self, fns: list[Callable[[WriteTxn], Any]]
    ) -> tuple[list[Outcome], int]:
        delay = _BACKOFF_START
        for run in range(1, self._max_retries + 2):
            try:
                return self._run("writing", lambda conn: self._write_once(conn, fns))
            except BackendError as exc:
                if exc.code not in RETRYABLE:
                    raise
                if run > self._max_retries:
                    cause = exc.__cause__
                    assert isinstance(cause, psycopg.Error)
                    raise retries_error(self.server, run, cause) from cause
            time.sleep(random.uniform(0, delay))
            delay = min(delay * 2, _BACKOFF_MAX)
        raise AssertionError("unreachable")  # pragma: no cover

    def _write_once(
        self, conn: Connection, fns: list[Callable[[WriteTxn], Any]]
    ) -> tuple[list[Outcome], int]:
        txn = _WriteTxn(_Reader(conn, self._statements, single=False))
        try:
            _execute(conn, self._statements.begin_write)
            outcomes: list[Outcome] = []
            for fn in fns:
                savepoint = txn.savepoint()
                try:
                    outcomes.append((True, fn(txn)))
                except Exception as exc:
                    txn.roll_back_to(savepoint)
                    outcomes.append((False, exc))
            changes = txn.changes()
        except BaseException:
            _roll_back(conn)
            raise
        if not any(changes):
            _roll_back(conn)
            return outcomes, 0
        return outcomes, self._commit(conn, changes)

    def _commit(self, conn: Connection, changes: tuple[dict[bytes, bytes | None], ...]) -> int:
        gone_tables, gone_keys, put_tables, put_keys, put_values = [], [], [], [], []
        for table, table_changes in zip(Table, changes, strict=True):
            for key, value in table_changes.items():
                if value is None:
                    gone_tables.append(int(table))
                    gone_keys.append(key)
                else:
                    put_tables.append(int(table))
                    put_keys.append(key)
                    put_values.append(value)
        params = (gone_tables, gone_keys, put_tables, put_keys, put_values)
        try:
            with conn.pipeline():
                cursor = conn.execute(self._statements.commit_changes, params, binary=True)
                conn.execute("COMMIT")
            row = cursor.fetchone()
        except psycopg.Error as exc:
            if is_connection_error(exc):
                raise commit_lost_error(self.server, exc, self._secrets) from self._cause(exc)
            _roll_back(conn)
            raise _EngineFailure(exc) from exc
        assert row is not None
        return int(row[0])

    def flush(self, txn_id: int) -> None:
        """Nothing to do: the server confirmed the commit at the durability level."""

    # -- the rest -----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        statement = self._statements.stats

        def read_stats(conn: Connection) -> tuple[Any, ...]:
            row = _execute(conn, statement).fetchone()
            assert row is not None
            return tuple(row)

        last_commit, size, counts, version = self._run("reading statistics", read_stats)
        counts = counts or {}
        return {
            "backend": self.name,
            "location": self.location,
            "server_version": version,
            "schema_version": sql.SCHEMA_VERSION,
            "size_on_disk": int(size),
            "records": {table.name.lower(): int(counts.get(str(int(table)), 0)) for table in Table},
            "last_commit": int(last_commit),
        }

    def health_check(self) -> bool:
        if self._closed:
            return False
        try:
            self.commit_id()
        except BackendError:
            return False
        return True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if os.getpid() == self._pid:
            self._pool.close()

    @property
    def closed(self) -> bool:
        return self._closed


def _execute(
    conn: Connection, statement: str, params: tuple[Any, ...] | None = None, *, binary: bool = False
) -> psycopg.Cursor[tuple[Any, ...]]:
    """``conn.execute``, a failure carried as `_EngineFailure`."""
    try:
        return conn.execute(statement, params, binary=binary)
    except psycopg.Error as exc:
        raise _EngineFailure(exc) from exc


def _roll_back(conn: Connection) -> None:
    """End a transaction that failed; a connection that cannot is closed (the pool
    then replaces it)."""
    try:
        conn.execute("ROLLBACK")
    except psycopg.Error:
        conn.close()


def _with_session_settings(
    conninfo: str,
    given: dict[str, Any],
    durability: Durability,
    statement_timeout: float,
    connect_timeout: float,
) -> str:
    """``conninfo`` (whose parts are ``given``) with memkv's session settings added
    to its ``options``."""
    milliseconds = round(statement_timeout * 1000)
    settings = {
        "synchronous_commit": durability.postgres_synchronous_commit,
        "statement_timeout": milliseconds,
        # A client that stalls inside a transaction would hold the writer lock.
        "idle_in_transaction_session_timeout": milliseconds,
    }
    ours = " ".join(f"-c {name}={value}" for name, value in settings.items())
    options = f"{given.get('options') or ''} {ours}".strip()
    return libpq_conninfo.make_conninfo(
        conninfo,
        options=options,
        connect_timeout=max(2, round(connect_timeout)),  # libpq counts whole seconds, >= 2
        application_name=str(given.get("application_name") or "memkv"),
    )
