"""No PostgreSQL password in any error, repr, traceback or output of the command, for
every kind of malformed URL; and masking that does not garble the host or user names
a short password is part of (`memkv.redaction`)."""

from __future__ import annotations

import re
import traceback

import psycopg
import pytest

import memkv
from memkv.backends.postgres.errors import cause_to_chain, secrets_to_mask
from memkv.cli import main
from memkv.redaction import MASK, Secrets, mask, mask_conninfo, secrets_of
from tests import postgres

# Distinctive passwords: each core (`_cores`) is a text no message has by chance.
MALFORMED = [
    pytest.param("postgresql://alice:Kq7%zzVexhorn@127.0.0.1:1/db", id="unencoded-percent"),
    pytest.param("postgresql://alice:Kq7Vexhorn%@127.0.0.1:1/db", id="trailing-percent"),
    pytest.param("postgresql://alice:Kq7Vexhorn@[::1/db", id="unclosed-bracket"),
    pytest.param("postgresql://alice:Kq7%Vexhorn@[::1/db", id="percent-and-bracket"),
    pytest.param("postgresql://alice:Kq7Vexhorn@127.0.0.1:99999/db", id="port-too-big"),
    pytest.param("postgresql://alice:Kq7Vexhorn@127.0.0.1:abc/db", id="port-not-a-number"),
    pytest.param("postgresql://alice:Kq7Vexhorn@127.0.0.1:-5/db", id="port-negative"),
    pytest.param("postgresql://alice:Kq7Vexhorn@127.0.0.1:1/db?bogus=1", id="unknown-parameter"),
    pytest.param("postgresql://alice:Kq7Vexhorn@127.0.0.1:1/db?sslmode=nah", id="bad-sslmode"),
    pytest.param("postgresql://alice:Kq7Vex@horn@127.0.0.1:1/db", id="unencoded-at"),
    pytest.param("postgresql://alice:Kq7Vex/horn@127.0.0.1:1/db", id="unencoded-slash"),
    pytest.param("postgresql://alice@127.0.0.1:1/db?password=Kq7%zzVexhorn", id="query-percent"),
    pytest.param("postgresql://alice@[::1/db?password=Kq7Vexhorn", id="query-and-bracket"),
    pytest.param("postgres://alice:Kq7Vexhorn@127.0.0.1:1/d\0b", id="nul-character"),
    pytest.param("postgresql://alice:Kq7Vexhorn@127.0.0.1:1/db", id="refused-connection"),
]
CORES = ("Kq7", "Vexhorn", "Vex", "horn")


def _shown_anywhere(error: BaseException) -> str:
    """All the text of ``error`` a person could see: message, repr and the whole
    formatted traceback, with its causes and contexts."""
    return "\n".join([str(error), repr(error), *traceback.format_exception(error)])


def _assert_hidden(text: str) -> None:
    for core in CORES:
        assert core not in text


@pytest.mark.parametrize("url", MALFORMED)
def test_no_malformed_url_shows_its_password_in_an_error(url: str) -> None:
    with pytest.raises(memkv.MemkvError) as raised:
        memkv.open(url, connect_timeout=2)
    _assert_hidden(_shown_anywhere(raised.value))
    assert "alice" in str(raised.value) or "\\x00" in str(raised.value)  # still says where


@pytest.mark.parametrize("url", MALFORMED)
@pytest.mark.parametrize(
    "command",
    [["stats"], ["verify"], ["verify", "--repair"], ["list"], ["purge", "--yes", "--prefix", "x"]],
    ids=" ".join,
)
def test_no_malformed_url_shows_its_password_in_the_command(
    url: str, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command[0], url, *command[1:]]) != 0
    printed = capsys.readouterr()
    assert printed.err.startswith("memkv: error: ")
    _assert_hidden(printed.out + printed.err)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://alice:Kq7%zzVexhorn@127.0.0.1:1/db", "the password cannot be read"),
        ("postgresql://alice:Kq7Vexhorn@[::1/db", 'matching "]"'),
        ("postgresql://alice:Kq7Vexhorn@127.0.0.1:1/db?bogus=1", '"bogus"'),
        ("postgresql://alice:Kq7Vexhorn@127.0.0.1:99999/db", '"99999"'),
    ],
)
def test_a_malformed_url_is_refused_saying_what_is_wrong(url: str, reason: str) -> None:
    with pytest.raises(memkv.StoreUnavailable) as raised:
        memkv.open(url, connect_timeout=2)
    assert reason in str(raised.value)
    assert raised.value.__cause__ is None


def test_verify_names_a_postgres_store_without_its_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with memkv.open(postgres.dsn()) as mem:  # the default schema, as the command opens
        mem.store("cli/v", 1)
    assert main(["verify", postgres.dsn()]) == 0
    printed = capsys.readouterr().out
    assert f"{mask_conninfo(postgres.dsn())}: consistent" in printed
    assert postgres.PASSWORD not in printed


def test_a_short_password_does_not_garble_the_host_it_is_part_of() -> None:
    """The refusal quotes libpq's text, which names the host: ``127`` (the password)
    is masked on its own, not inside ``127.0.0.1``."""
    with pytest.raises(memkv.ServerUnavailable) as raised:
        memkv.open("postgresql://local:127@127.0.0.1:1/db", connect_timeout=2)
    message = str(raised.value)
    assert '"127.0.0.1", port 1 failed' in message
    assert MASK not in message


@pytest.mark.parametrize(
    ("text", "password", "keep", "masked"),
    [
        ('at "127.0.0.1" with 127', "127", {"127.0.0.1"}, 'at "127.0.0.1" with ***'),
        ("user local on localhost", "local", set(), "user *** on localhost"),
        ("user alice on alicehost", "alicehost", {"alice"}, "user alice on ***"),
        ("user al (pw al)", "al", {"al"}, "user *** (pw ***)"),  # equal: masked
        ("login x-pw-1 y", "pw-1", set(), "login x-*** y"),  # no word edge at '-'
        ("long Kq7Vexhorn short Kq7", "Kq7", set(), "long Kq7Vexhorn short ***"),
    ],
)
def test_masking_leaves_words_the_password_is_only_part_of(
    text: str, password: str, keep: set[str], masked: str
) -> None:
    assert mask(text, frozenset({password}), frozenset(keep)) == masked


@pytest.mark.parametrize(
    ("conninfo", "masked", "secrets"),
    [
        ("postgresql://a:b%zzc@h/d", "postgresql://a:***@h/d", {"b%zzc"}),
        ("postgresql://a:p%40ss@h/d", "postgresql://a:***@h/d", {"p%40ss", "p@ss"}),
        ("postgresql://a:x@y@h/d", "postgresql://a:***@h/d", {"x@y", "x"}),
        ("postgresql://a:x/y@h/d", "postgresql://a:***@h/d", {"x/y"}),
        (
            "postgresql://a@h/d?sslmode=off&password=q%zz",
            "postgresql://a@h/d?sslmode=off&password=***",
            {"q%zz"},
        ),
        ("postgres://a@h/d", "postgres://a@h/d", set()),
        (r"host=h password='it\'s' user=a", "host=h password=*** user=a", {"it's"}),
        ("host=h password=abc user=a", "host=h password=*** user=a", {"abc"}),
        ("host=h password='unclosed", "host=h password=***", {"'unclosed", "unclosed"}),
    ],
)
def test_the_password_is_found_without_parsing(
    conninfo: str, masked: str, secrets: set[str]
) -> None:
    assert mask_conninfo(conninfo) == masked
    assert secrets <= set(secrets_of(conninfo))


def test_a_psycopg_error_showing_the_password_is_not_chained() -> None:
    secrets = secrets_to_mask("postgresql://a:Kq7Vexhorn@h/d", {"host": "h", "user": "a"})
    leaking = psycopg.OperationalError('bad "Kq7Vexhorn"')
    assert cause_to_chain(leaking, secrets) is None
    outer = psycopg.OperationalError("outer")
    outer.__cause__ = leaking
    assert cause_to_chain(outer, secrets) is None  # its cause shows it
    clean = psycopg.OperationalError("server closed the connection")
    assert cause_to_chain(clean, secrets) is clean


def test_pgpassword_is_masked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "Kq7Vexhorn")
    secrets = secrets_to_mask("postgresql://a@h/d", {"host": "h"})
    assert secrets.mask('auth "Kq7Vexhorn" failed') == 'auth "***" failed'
    assert secrets == Secrets(texts=frozenset({"Kq7Vexhorn"}), keep=frozenset({"h"}))
    assert not re.search("Kq7", secrets.mask("Kq7Vexhorn"))
