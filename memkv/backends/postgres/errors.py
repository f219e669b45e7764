"""PostgreSQL's errors as memkv errors, and server addresses fit to print.

No message memkv writes holds a password: the server is named by `describe_server`,
and the text of a psycopg error is passed through `redact` before it is quoted.
"""

from __future__ import annotations

from typing import Final

import psycopg
from psycopg import conninfo as libpq_conninfo

from memkv.errors import AccessDenied, BackendError, RetriesExhausted, ServerUnavailable

# SQLSTATE classes and codes (PostgreSQL manual, appendix A).
SERIALIZATION_FAILURE: Final = "40001"
DEADLOCK_DETECTED: Final = "40P01"
RETRYABLE: Final = frozenset({SERIALIZATION_FAILURE, DEADLOCK_DETECTED})
_ACCESS_DENIED: Final = frozenset({"28000", "28P01", "3D000", "42501"})
_CONNECTION_CLASS: Final = "08"  # connection exception
_OPERATOR_INTERVENTION: Final = "57"  # admin shutdown, crash shutdown, cannot connect now
_QUERY_CANCELED: Final = "57014"  # statement_timeout: the server is there


def describe_server(conninfo: str) -> str:
    """``user@host:port/dbname`` of a connection string, without its password.

    Parts the string leaves out are shown as libpq would fill them in: from the
    ``PG*`` environment variables, else its defaults."""
    try:
        params = libpq_conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "PostgreSQL (unparsable connection string)"
    defaults = {
        option.keyword.decode(): option.val for option in psycopg.pq.Conninfo.get_defaults()
    }

    def part(name: str, fallback: str) -> str:
        value = params.get(name) or defaults.get(name)
        return value.decode() if isinstance(value, bytes) else str(value or fallback)

    host = part("host", "localhost")
    where = host if host.startswith("/") else f"{host}:{part('port', '5432')}"
    return f"postgresql://{part('user', '?')}@{where}/{part('dbname', part('user', '?'))}"


def password_of(conninfo: str) -> str | None:
    try:
        value = libpq_conninfo.conninfo_to_dict(conninfo).get("password")
    except psycopg.ProgrammingError:
        return None
    return str(value) if value else None


def redact(text: str, password: str | None) -> str:
    """``text`` with every occurrence of ``password`` masked."""
    return text.replace(password, "***") if password else text


def is_connection_error(error: BaseException) -> bool:
    """Whether ``error`` says the connection is gone or the server is not serving,
    rather than that a statement failed."""
    if isinstance(error, psycopg.errors.QueryCanceled):
        return False
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        state = getattr(error, "sqlstate", None)
        return state is None or state.startswith((_CONNECTION_CLASS, _OPERATOR_INTERVENTION))
    return False


def connect_error(server: str, error: psycopg.Error, password: str | None) -> Exception:
    """The memkv error for a failed attempt to connect to ``server``."""
    detail = _first_line(redact(str(error), password))
    state = getattr(error, "sqlstate", None)
    if state in _ACCESS_DENIED or "authentication failed" in detail or "no password" in detail:
        return AccessDenied(f"{server} refused the connection: {detail}")
    hint = ""
    if "Connection refused" in detail or "No such file" in detail:
        hint = " (is the server running, and listening there?)"
    elif "timeout expired" in detail:
        hint = " (no answer in time: a firewall, or the wrong host?)"
    return ServerUnavailable(f"cannot reach {server}: {detail}{hint}", code=state)


def operation_error(
    server: str, doing: str, error: psycopg.Error, password: str | None
) -> Exception:
    """The memkv error for ``error``, raised while ``doing`` something on ``server``."""
    detail = _first_line(redact(str(error), password))
    state = getattr(error, "sqlstate", None)
    if is_connection_error(error):
        return ServerUnavailable(
            f"{doing} on {server} failed: the connection was lost ({detail})", code=state
        )
    if state == _QUERY_CANCELED:
        return BackendError(
            f"{doing} on {server} ran past statement_timeout ({detail})", code=state
        )
    return BackendError(f"{doing} on {server} failed: {detail} (SQLSTATE {state})", code=state)


def commit_lost_error(server: str, error: psycopg.Error, password: str | None) -> Exception:
    """The memkv error for a connection lost while its ``COMMIT`` was in flight."""
    detail = _first_line(redact(str(error), password))
    return ServerUnavailable(
        f"the connection to {server} was lost while committing ({detail}): the "
        "transaction was committed whole or not at all, and this client cannot tell which",
        code=getattr(error, "sqlstate", None),
    )


def retries_error(server: str, runs: int, error: psycopg.Error) -> RetriesExhausted:
    state = getattr(error, "sqlstate", None)
    reason = "a deadlock" if state == DEADLOCK_DETECTED else "a serialisation failure"
    return RetriesExhausted(
        f"a write transaction on {server} failed on {reason} {runs} times in a row "
        f"(SQLSTATE {state}); gave up, nothing of it was committed",
        code=state,
    )


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return "; ".join(lines) if lines else "no detail"
