"""What only the PostgreSQL backend has to show: several hosts on one store, a server
that goes away and comes back, retries, errors that say what is wrong (and never the
password), options, and the schema's version. The conformance suite, the stateful
agreement and the domain packages' tests run on it too (``BACKENDS``)."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest

import memkv
from memkv import layout
from memkv.backends.postgres.errors import describe_server
from tests import postgres
from tests.memkv.helpers import child_env, start_worker

HOSTS = 4


@pytest.fixture
def schema(tmp_path: Path) -> str:
    return postgres.schema_for(tmp_path)


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with postgres.open_store(tmp_path, connect_timeout=1) as mem:
        yield mem


def raw(statement: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run SQL on a connection of its own (as another client of the server would)."""
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


# -- several hosts ---------------------------------------------------------------------


def test_four_hosts_store_insert_and_bump_without_losing_anything(
    store: memkv.Memory, schema: str
) -> None:
    rounds, threads = 15, 4
    children = [
        start_worker(
            "host", postgres.dsn(), schema, str(host), str(rounds), str(threads), env=child_env()
        )
        for host in range(HOSTS)
    ]
    wins: list[tuple[str, str]] = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        lines = out.splitlines()
        assert lines[0] == "ready"
        assert lines[-1] == "done", err
        wins += [(line.split()[1], line.split()[2]) for line in lines if line.startswith("won")]

    # every shared key created once, by the one insert that was told it won
    assert sorted(key for key, _ in wins) == sorted(f"shared/{n}" for n in range(rounds))
    for key, winner in wins:
        entry = store.get(key)
        assert entry is not None
        assert entry.content == winner
    # no lost update: one bump per thread per round, of every host
    counter = store.get("counter")
    assert counter is not None
    assert counter.content == HOSTS * threads * rounds
    # exact counts, and indexes that agree with the entries
    for host in range(HOSTS):
        assert store.count(f"host{host}") == threads * rounds
        assert len(store.list(f"host{host}")) == threads * rounds
    assert store.count("shared") == rounds
    assert store.count() == HOSTS * threads * rounds + rounds + 1
    assert store.verify() == []


def test_a_commit_elsewhere_is_seen_at_once_even_through_the_read_cache(tmp_path: Path) -> None:
    with (
        postgres.open_store(tmp_path, cache_size=64) as here,
        postgres.open_store(tmp_path, cache_size=64) as there,
    ):
        here.store("k", "first")
        for _ in range(3):  # admitted to the cache on the second miss, then hit
            entry = there.get("k")
            assert entry is not None
            assert entry.content == "first"
        here.store("k", "second")
        entry = there.get("k")
        assert entry is not None
        assert entry.content == "second"


def test_commit_ids_count_every_committing_transaction_once(store: memkv.Memory) -> None:
    before = store.backend.commit_id()
    store.store("a", 1)
    store.transact(lambda tx: [tx.store("b", 2), tx.store("c", 3)])
    store.transact(lambda tx: tx.get("a"))  # reads only: commits nothing
    with pytest.raises(memkv.Conflict):
        store.insert("a", 9)
    assert store.backend.commit_id() == before + 2


# -- the server goes away --------------------------------------------------------------


def write_pair(tx: memkv.Transaction, key: str, n: int) -> None:
    tx.store(key + "/a", n, category="pairs")
    tx.store(key + "/b", n, category="pairs", session_id="s")


def test_server_stopped_mid_run_fails_clearly_and_recovers_without_reopen(
    store: memkv.Memory,
) -> None:
    """Writers commit pairs of keys (and counts) while the server is stopped as a crash
    would stop it: their calls fail with ServerUnavailable; after a restart nothing
    half-written is visible and the same Memory writes and reads again."""
    cluster = postgres.server()
    acknowledged: list[str] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def write_pairs(writer: int) -> None:
        n = 0
        while not stop.is_set():
            key = f"w{writer}-{n}"
            try:
                store.transact(functools.partial(write_pair, key=key, n=n))
                acknowledged.append(key)
            except memkv.MemkvError as exc:
                failures.append(exc)
                time.sleep(0.05)
            n += 1

    writers = [threading.Thread(target=write_pairs, args=(w,)) for w in range(4)]
    for writer in writers:
        writer.start()
    try:
        time.sleep(0.5)
        cluster.stop(immediate=True)
        time.sleep(1.5)
        down_failures = len(failures)
        with pytest.raises(memkv.ServerUnavailable) as raised:
            store.get("anything")
        assert describe_server(postgres.dsn()) in str(raised.value)
        assert "is the server running" in str(raised.value)
    finally:
        cluster.start()
        time.sleep(0.5)
        stop.set()
        for writer in writers:
            writer.join()

    assert acknowledged, "no write went through before the stop"
    assert down_failures > 0, "no write failed while the server was down"
    assert all(isinstance(exc, memkv.ServerUnavailable) for exc in failures), [
        (type(exc).__name__, str(exc))
        for exc in failures
        if not isinstance(exc, memkv.ServerUnavailable)
    ]
    assert all(postgres.PASSWORD not in str(exc) for exc in failures)
    # whole pairs only, counts that match, and every acknowledged pair there
    entries = {entry.key for entry in store.list("pairs")}
    pairs = Counter(key.rsplit("/", 1)[0] for key in entries)
    assert set(pairs.values()) == {2}
    assert set(acknowledged) <= set(pairs)
    assert store.count("pairs") == len(entries)
    assert store.count(session_id="s") == len(pairs)
    assert store.verify() == []
    # the same object works again
    store.store("after", "restart")
    after = store.get("after")
    assert after is not None
    assert after.content == "restart"


def test_an_unreachable_server_is_named_with_the_reason(tmp_path: Path) -> None:
    port = postgres.server().port + 1 if postgres.server().port < 65535 else 1
    url = f"postgresql://memkv:secret-pw@127.0.0.1:{port}/db"
    started = time.monotonic()
    with pytest.raises(memkv.ServerUnavailable) as raised:
        memkv.open(url, connect_timeout=2)
    assert time.monotonic() - started < 10
    message = str(raised.value)
    assert f"127.0.0.1:{port}" in message
    assert "Connection refused" in message
    assert "secret-pw" not in message
    assert isinstance(raised.value, memkv.StoreUnavailable)


def test_refused_credentials_say_so_and_never_show_a_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cluster = postgres.server()
    wrong = (
        f"postgresql://{cluster.user}:not-the-{postgres.PASSWORD}@127.0.0.1:{cluster.port}/postgres"
    )
    with pytest.raises(memkv.AccessDenied) as raised:
        memkv.open(wrong, schema="refused")
    message = str(raised.value)
    assert "password authentication failed" in message
    assert cluster.user in message
    # and in normal use: the location, the repr, stats, errors and every log line
    with postgres.open_store(tmp_path) as mem:
        mem.store("k", 1)
        shown = [mem.backend.location, repr(mem), str(mem.backend.stats())]
    with pytest.raises(memkv.StoreClosed) as closed:
        mem.get("k")
    shown += [message, str(closed.value), *(record.getMessage() for record in caplog.records)]
    for text in shown:
        assert postgres.PASSWORD not in text, text


# -- retries ---------------------------------------------------------------------------


def _deadlock_a_write(store: memkv.Memory, schema: str) -> tuple[Any, threading.Thread]:
    """Make the next write of ``store`` deadlock with another session: that session
    holds the row of the store's total count and then waits for the writer lock,
    which the write holds while it waits for that row. Returns the write's outcome
    box and the other session's thread."""
    store.store("seed", 0)
    outcome: dict[str, Any] = {}
    in_function = threading.Event()
    proceed = threading.Event()
    runs: list[int] = []

    def write(tx: memkv.Transaction) -> None:
        runs.append(1)
        if len(runs) == 1:  # first run: hold the writer lock until the other session waits
            in_function.set()
            proceed.wait(10)
        tx.store("deadlocked", "written")

    other = psycopg.connect(postgres.dsn(), autocommit=True)
    other.execute("BEGIN")
    other.execute(
        f"SELECT 1 FROM {schema}.kv WHERE tbl = 1 AND k = %s FOR UPDATE",
        (layout.count_key(layout.USER_SPACE, None, None),),
    )

    def run_write() -> None:
        try:
            outcome["result"] = store.transact(write)
        except memkv.MemkvError as exc:
            outcome["error"] = exc
        outcome["runs"] = len(runs)

    writer = threading.Thread(target=run_write)
    writer.start()
    assert in_function.wait(10)
    oid = raw("SELECT %s::regnamespace::oid::integer", schema)[0][0]

    def wait_for_writer_lock() -> None:
        try:
            other.execute("SELECT pg_advisory_xact_lock(%s, %s)", (0x6D6B7600, oid))
        finally:
            other.execute("ROLLBACK")
            other.close()

    waiter = threading.Thread(target=wait_for_writer_lock)
    waiter.start()
    time.sleep(0.4)  # past the other session's deadlock_timeout: it waits, no cycle yet
    proceed.set()
    writer.join(30)
    waiter.join(30)
    return outcome, writer


def test_a_deadlocked_write_is_run_again_and_commits(tmp_path: Path, schema: str) -> None:
    with postgres.open_store(tmp_path) as store:
        outcome, _ = _deadlock_a_write(store, schema)
        assert "error" not in outcome, outcome
        assert outcome["runs"] == 2
        entry = store.get("deadlocked")
        assert entry is not None
        assert entry.content == "written"
        assert store.verify() == []


def test_retries_are_bounded_then_a_clear_error(tmp_path: Path, schema: str) -> None:
    with postgres.open_store(tmp_path, max_retries=0) as store:
        outcome, _ = _deadlock_a_write(store, schema)
        error = outcome["error"]
        assert isinstance(error, memkv.RetriesExhausted)
        assert error.code == "40P01"
        assert "deadlock" in str(error)
        assert "1 times" in str(error)
        assert store.get("deadlocked") is None
        assert store.count() == 1
        assert store.verify() == []


# -- the schema --------------------------------------------------------------------------


def test_the_schema_is_created_once_and_versioned(tmp_path: Path, schema: str) -> None:
    with postgres.open_store(tmp_path) as mem:
        mem.store("k", 1)
    with postgres.open_store(tmp_path) as mem:  # opened again: the same store
        assert mem.count() == 1
    assert raw(f"SELECT schema_version FROM {schema}.store_info") == [(1,)]
    raw(f"UPDATE {schema}.store_info SET schema_version = 2")
    with pytest.raises(memkv.StoreUnavailable, match="schema version 2"):
        postgres.open_store(tmp_path)


def test_a_schema_with_other_tables_is_not_taken(tmp_path: Path, schema: str) -> None:
    raw(f"CREATE SCHEMA {schema}")
    raw(f"CREATE TABLE {schema}.orders (id integer)")
    with pytest.raises(memkv.StoreUnavailable, match="orders"):
        postgres.open_store(tmp_path)


def test_readonly_opens_only_an_existing_store(tmp_path: Path, schema: str) -> None:
    with pytest.raises(memkv.StoreUnavailable, match=f"no memkv store in schema '{schema}'"):
        postgres.open_store(tmp_path, readonly=True)
    assert raw("SELECT 1 FROM pg_namespace WHERE nspname = %s", schema) == []


def test_first_opens_racing_from_many_threads_make_one_store(tmp_path: Path) -> None:
    opened: list[memkv.Memory] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            opened.append(postgres.open_store(tmp_path))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    opened[0].store("k", 1)
    assert all(mem.count() == 1 for mem in opened)
    for mem in opened:
        mem.close()


# -- options -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"map_size": 1 << 20}, "applies to LMDB"),
        ({"schema": "Bad-Name"}, "not a plain PostgreSQL name"),
        ({"schema": "memkv\n"}, "not a plain PostgreSQL name"),
        ({"statement_timeout": float("inf")}, "statement_timeout"),
        ({"pool_size": 0}, "pool_size"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"max_retries": -1}, "max_retries"),
    ],
)
def test_bad_options_are_named(options: dict[str, Any], needle: str) -> None:
    with pytest.raises(memkv.InvalidArgument, match=needle):
        memkv.open("postgresql://nobody@127.0.0.1:1/none", **options)


def test_postgres_options_are_refused_for_lmdb(tmp_path: Path) -> None:
    with pytest.raises(memkv.InvalidArgument, match="PostgreSQL stores only"):
        memkv.open(tmp_path / "store", schema="memkv")


def test_the_pool_hands_out_the_connection_returned_last(store: memkv.Memory) -> None:
    """A lone thread after a burst reuses one warm connection rather than cycling
    through every connection the burst opened (see `_RecentFirstPool`)."""
    backend: Any = store.backend
    burst = [backend._checkout() for _ in range(4)]
    for conn in burst:
        backend._pool.putconn(conn)
    for _ in range(3):
        conn = backend._checkout()
        backend._pool.putconn(conn)
        assert conn is burst[-1]


def test_memkv_stats_reads_a_postgres_store_without_showing_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from memkv.cli import main

    with memkv.open(postgres.dsn()) as mem:  # the default schema, as the command opens
        mem.store("cli/k", 1, category="cli")
        total = mem.count()
    assert main(["stats", postgres.dsn()]) == 0
    printed = capsys.readouterr().out
    assert f"entries      {total}" in printed
    assert "cli " in printed
    assert postgres.PASSWORD not in printed
