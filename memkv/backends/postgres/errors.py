"""PostgreSQL's errors as memkv errors, and server addresses fit to print.

No message memkv writes holds a password: the server is named by `describe_server`;
a connection string libpq cannot parse is described from a copy with its password
masked (`parse_conninfo`); the text of a psycopg error is masked before it is quoted
(`memkv.redaction`), and the psycopg error is chained as the cause
only if its text (and its own causes') shows no password (`cause_to_chain`).
"""

from __future__ import annotations

import os
from typing import Any, Final

import psycopg
from psycopg import conninfo as libpq_conninfo

from memkv.errors import (
    AccessDenied,
    BackendError,
    RetriesExhausted,
    ServerUnavailable,
    StoreUnavailable,
)
from memkv.redaction import Secrets, has_unencoded_separator, mask_conninfo, secrets_of

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


def parse_conninfo(conninfo: str) -> dict[str, Any]:
    """The parts of a connection string, as libpq reads them.

    Raises:
        StoreUnavailable: libpq cannot parse ``conninfo``, or would read part of
            a URL's password as its host (`has_unencoded_separator`). The message says why,
            taken from parsing a copy with the password masked, so it never quotes
            the password (nor a part of it); no psycopg error is chained.
    """
    masked = mask_conninfo(conninfo)
    if has_unencoded_separator(conninfo):
        raise StoreUnavailable(
            f"not a PostgreSQL connection string ({masked}): the user part holds an "
            "unencoded '@' or '/', so part of the password would be read as the host "
            "(percent-encode them in the password: '@' as %40, '/' as %2F)"
        )
    try:
        return libpq_conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        pass  # raised below, outside this handler: nothing to chain, even implicitly
    try:
        libpq_conninfo.conninfo_to_dict(masked)
    except psycopg.ProgrammingError as exc:
        detail = _first_line(Secrets(texts=secrets_of(conninfo)).mask(str(exc)))
    else:  # the password alone is what libpq cannot read
        detail = (
            "the password cannot be read (in a URL, percent-encode '%' as %25, "
            "'@' as %40, '/' as %2F, ':' as %3A)"
        )
    raise StoreUnavailable(f"not a PostgreSQL connection string ({masked}): {detail}")


def secrets_to_mask(conninfo: str, params: dict[str, Any]) -> Secrets:
    """What to mask in messages about the server of ``conninfo`` (whose parts libpq
    reads as ``params``): its password as written, decoded and as libpq reads it, and
    ``PGPASSWORD``; not inside its host, port, user or database names."""
    texts = set(secrets_of(conninfo))
    for password in (params.get("password"), os.environ.get("PGPASSWORD")):
        if password:
            texts.add(str(password))
    keep = {
        name
        for part in ("host", "hostaddr", "port", "user", "dbname")
        for name in str(params.get(part) or "").split(",")
        if name
    }
    return Secrets(texts=frozenset(texts), keep=frozenset(keep))


def cause_to_chain(error: BaseException, secrets: Secrets) -> BaseException | None:
    """``error``, to chain as the cause of the memkv error raised for it, unless the
    text of ``error`` or of the errors chained to it shows a password anywhere: then
    ``None`` (``raise ... from None``: the traceback leaves it out)."""
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if secrets.shown_in(f"{link}\n{link!r}"):
            return None
        link = link.__cause__ or link.__context__
    return error


def is_connection_error(error: BaseException) -> bool:
    """Whether ``error`` says the connection is gone or the server is not serving,
    rather than that a statement failed."""
    if isinstance(error, psycopg.errors.QueryCanceled):
        return False
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        state = getattr(error, "sqlstate", None)
        return state is None or state.startswith((_CONNECTION_CLASS, _OPERATOR_INTERVENTION))
    return False


def connect_error(server: str, error: psycopg.Error, secrets: Secrets) -> Exception:
    """The memkv error for a failed attempt to connect to ``server``."""
    detail = _first_line(secrets.mask(str(error)))
    state = getattr(error, "sqlstate", None)
    if state in _ACCESS_DENIED or "authentication failed" in detail or "no password" in detail:
        return AccessDenied(f"{server} refused the connection: {detail}")
    hint = ""
    if "Connection refused" in detail or "No such file" in detail:
        hint = " (is the server running, and listening there?)"
    elif "timeout expired" in detail:
        hint = " (no answer in time: a firewall, or the wrong host?)"
    return ServerUnavailable(f"cannot reach {server}: {detail}{hint}", code=state)


def operation_error(server: str, doing: str, error: psycopg.Error, secrets: Secrets) -> Exception:
    """The memkv error for ``error``, raised while ``doing`` something on ``server``."""
    detail = _first_line(secrets.mask(str(error)))
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


def commit_lost_error(server: str, error: psycopg.Error, secrets: Secrets) -> Exception:
    """The memkv error for a connection lost while its ``COMMIT`` was in flight."""
    detail = _first_line(secrets.mask(str(error)))
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
