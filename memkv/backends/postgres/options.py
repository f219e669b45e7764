"""Options of a PostgreSQL store: the common ones, the schema, the pool and the
server's timeouts. Importing this module needs no psycopg."""

from __future__ import annotations

from typing import Annotated

from memkv.options import Options, constraint

# PostgreSQL's own bound on its timeouts: 2**31 - 1 milliseconds, about 24.8 days.
_MAX_SECONDS = 2_147_483
_SECONDS_PLUS = constraint(f"a number of seconds > 0 and <= {_MAX_SECONDS}", gt=0, le=_MAX_SECONDS)


class PostgresOptions(Options, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Options of `memkv.open` for a ``postgresql://`` URL."""

    # A cache hit must first ask the server for its commit id: a round trip, as dear
    # as reading the entry itself, so the cache is off unless asked for.
    cache_size: Annotated[int, constraint("an integer >= 0", ge=0)] = 0
    schema: Annotated[
        str,
        constraint(
            "a plain PostgreSQL name: lower-case letters, digits and '_', not starting "
            "with a digit, at most 63 characters",
            pattern=r"^[a-z_][a-z0-9_]{0,62}\Z",  # \Z: $ would allow a final newline
        ),
    ] = "memkv"  # the schema that holds the store (one store per schema)
    pool_size: Annotated[int, constraint("an integer >= 1", ge=1)] = 8  # most connections
    # open at once (psycopg_pool)
    connect_timeout: Annotated[float, _SECONDS_PLUS] = 5.0  # seconds to connect, or to
    # wait for a free connection
    statement_timeout: Annotated[
        float,
        constraint(
            f"a number of seconds >= 0 and <= {_MAX_SECONDS} (0: no limit)",
            ge=0,
            le=_MAX_SECONDS,
        ),
    ] = 30.0  # seconds a statement may run (0: no limit)
    max_retries: Annotated[int, constraint("an integer >= 0", ge=0)] = 5  # runs of a
    # transaction after a serialisation failure
