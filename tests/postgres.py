"""The PostgreSQL server of the test session: a throwaway cluster on a loopback port,
started on first use and destroyed when the session ends (`stop_server`).

With ``MEMKV_TEST_POSTGRES_DSN`` set, the tests use that server instead (each store
in a schema of its own, named after the test's directory).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Any

import pytest

import memkv
from tests.postgres_cluster import ThrowawayCluster, server_binaries

_cluster: ThrowawayCluster | None = None
PASSWORD = "pw-" + secrets.token_hex(8)


def server() -> ThrowawayCluster:
    """The session's cluster, started on first use."""
    global _cluster  # noqa: PLW0603 - one server per test session
    if _cluster is None:
        if server_binaries() is None and os.environ.get("CI") != "true":
            pytest.skip("PostgreSQL is not installed (make test installs it)")
        # A password the tests can look for: no message or log line may show it.
        _cluster = ThrowawayCluster(password=PASSWORD).start()
    return _cluster


def dsn() -> str:
    return os.environ.get("MEMKV_TEST_POSTGRES_DSN") or server().dsn


def schema_for(directory: Path) -> str:
    """A schema name of its own for each test directory (the same on reopen)."""
    return "t_" + hashlib.blake2b(str(directory).encode(), digest_size=10).hexdigest()


def open_store(directory: Path, **options: Any) -> memkv.Memory:
    return memkv.open(dsn(), schema=schema_for(directory), **options)


def stop_server() -> None:
    global _cluster  # noqa: PLW0603
    if _cluster is not None:
        _cluster.destroy()
        _cluster = None
