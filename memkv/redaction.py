"""The password of a PostgreSQL connection string, found and masked without parsing.

libpq's parser quotes what it cannot parse, and it is what fails on the strings that
most need masking (an unencoded ``%`` in the password, an unclosed ``[``), so the
password is found here lexically, before any parser sees the string: generously,
as every span that libpq or a careless writer could mean as a password. Masking a
little too much is fine; showing a password is not. It imports nothing of memkv nor
psycopg, so any layer can mask a location before quoting it (`memkv.options`, the
command, the PostgreSQL backend's errors).
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote

import msgspec

MASK: Final = "***"
_SCHEMES: Final = ("postgresql://", "postgres://")
# ``password=`` in a URL's query, or in a ``key=value`` string (quoted or not).
_URL_QUERY_PASSWORD: Final = re.compile(r"([?&]password=)([^&#]*)", re.IGNORECASE)
_KEYWORD_PASSWORD: Final = re.compile(
    r"(?<![\w.])(password\s*=\s*)('(?:[^'\\]|\\.)*(?:'|\Z)|[^\s']*)", re.IGNORECASE
)


class Secrets(msgspec.Struct, frozen=True, kw_only=True):
    """What to mask in a message about one server: ``texts``, its password as each
    could appear, but not inside a longer text of ``keep`` (its host, user and
    database names: see `mask`)."""

    texts: frozenset[str] = frozenset()
    keep: frozenset[str] = frozenset()

    def mask(self, text: str) -> str:
        """``text`` with the password masked (`mask`)."""
        return mask(text, self.texts, self.keep)

    def shown_in(self, text: str) -> bool:
        """Whether the password occurs anywhere in ``text``, inside a word or not."""
        return any(secret in text for secret in self.texts)


def mask_conninfo(conninfo: str) -> str:
    """``conninfo`` with every password in it replaced by ``***``: the one in a URL's
    user part (``user:password@``), ``password=`` in a URL's query and in a
    ``key=value`` string. Never fails; a string with no password is returned as is."""
    if conninfo.startswith(_SCHEMES):
        span = _url_password_span(conninfo)
        if span is not None:
            start, end = span
            conninfo = conninfo[:start] + MASK + conninfo[end:]
        return _URL_QUERY_PASSWORD.sub(lambda match: match.group(1) + MASK, conninfo)
    return _KEYWORD_PASSWORD.sub(lambda match: match.group(1) + MASK, conninfo)


def secrets_of(conninfo: str) -> frozenset[str]:
    """Every text of ``conninfo`` that may be its password: as written and
    percent-decoded, as libpq reads the string and as a careless writer meant it
    (an unencoded ``@`` or ``/`` in the password). Empty if there is no password."""
    found: set[str] = set()
    if conninfo.startswith(_SCHEMES):
        for span in (_url_password_span(conninfo), _url_password_span(conninfo, strict=True)):
            if span is not None:
                found.add(conninfo[span[0] : span[1]])
        found.update(match.group(2) for match in _URL_QUERY_PASSWORD.finditer(conninfo))
    else:
        for match in _KEYWORD_PASSWORD.finditer(conninfo):
            value = match.group(2)
            found.add(value)
            if value.startswith("'"):
                found.add(re.sub(r"\\(.)", r"\1", value.strip("'")))
    found |= {unquote(text) for text in found}
    return frozenset(text for text in found if text and text != MASK)


def mask(text: str, secrets: frozenset[str], keep: frozenset[str] = frozenset()) -> str:
    """``text`` with each of ``secrets`` masked, except inside a longer word or inside
    a longer text of ``keep`` (the host, user and database names, say).

    So a short password that is part of the host name or of a word of the message
    does not garble it (``127`` in ``127.0.0.1``, ``local`` in ``localhost``): such a
    word shows nothing of the password. A word is a run of letters, digits and
    ``_``, checked at each edge of the secret that is one. Longer secrets are masked
    first, so one containing another goes whole."""
    for secret in sorted(secrets, key=len, reverse=True):
        before = r"(?<!\w)" if re.match(r"\w", secret[0]) else ""
        after = r"(?!\w)" if re.match(r"\w", secret[-1]) else ""
        kept = [
            (found.start(), found.end())
            for word in keep
            if len(word) > len(secret)
            for found in re.finditer(re.escape(word), text)
        ]
        pieces: list[str] = []
        last = 0
        for found in re.finditer(before + re.escape(secret) + after, text):
            if any(start <= found.start() and found.end() <= end for start, end in kept):
                continue
            pieces += [text[last : found.start()], MASK]
            last = found.end()
        text = "".join(pieces) + text[last:]
    return text


def has_unencoded_separator(conninfo: str) -> bool:
    """Whether the password of a URL holds an unencoded ``@`` or ``/`` (before the
    last ``@`` ahead of the query), so that libpq would read part of it as the host
    or the database: such a URL cannot mean what its writer meant."""
    return conninfo.startswith(_SCHEMES) and _url_password_span(conninfo) != (
        _url_password_span(conninfo, strict=True)
    )


def _url_password_span(url: str, *, strict: bool = False) -> tuple[int, int] | None:
    """Where the password of ``url``'s user part is, if it has one.

    libpq (``strict``) ends the user part at the first ``@`` or ``/``; otherwise it
    ends at the last ``@`` before the query, which also covers a password holding an
    unencoded ``@`` or ``/``."""
    start = url.index("://") + 3
    if strict:
        stop = len(url)
        for mark in "@/":
            found = url.find(mark, start)
            if found != -1:
                stop = min(stop, found)
        if not url.startswith("@", stop):
            return None
    else:
        query = url.find("?", start)
        stop = url.rfind("@", start, query if query != -1 else len(url))
        if stop == -1:
            return None
    colon = url.find(":", start, stop)
    return None if colon == -1 else (colon + 1, stop)
