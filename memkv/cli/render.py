"""What the ``memkv`` command prints: entries and values as text safe for a terminal,
and as JSON.

Stored text is untrusted (an LLM may have written it): a control character or an
ANSI escape sequence printed raw could rewrite the user's screen. So every
character that `str.isprintable` rejects (C0 and C1 controls, DEL, bidi overrides
and other format characters, line separators, surrogates) is printed as a Python
escape (``\\x1b``, ``\\u202e``), in text and in JSON alike. Keys are shown in the
key notation of `memkv.keys.render_key`, which escapes the same characters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import msgspec

import memkv
from memkv.keys import packed_parts, render_key
from memkv.redaction import mask_conninfo
from memkv.transfer import json_printable

_json: Final = msgspec.json.Encoder()
_NAMED_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
ELLIPSIS: Final = "…"


def location(path: str) -> str:
    """The store ``path`` as the command prints it: escaped, and with the password of
    a PostgreSQL URL masked (``postgresql://user:***@host/db``)."""
    return escape(mask_conninfo(path) if memkv.is_postgres_url(path) else path)


def escape(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with each unprintable character written as its Python escape
    (newlines kept as they are with ``keep_newlines``). Printable text is returned
    unchanged; a backslash is not escaped, so the result is for people to read."""
    if text.isprintable():
        return text
    return "".join(
        char
        if char.isprintable() or (keep_newlines and char == "\n")
        else _NAMED_ESCAPES.get(char) or _escape_code(ord(char))
        for char in text
    )


def _escape_code(code: int) -> str:
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def content_text(content: Any) -> str:
    """Content as text: a string as it is, anything else as compact JSON."""
    return content if isinstance(content, str) else _json.encode(content).decode()


def shortened(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the last an ellipsis if it was cut."""
    return text if len(text) <= width else text[: width - 1] + ELLIPSIS


def indented(text: str, indent: int) -> str:
    """``text`` with each line after the first indented by ``indent`` spaces."""
    return text.replace("\n", "\n" + " " * indent)


def entry_record(entry: memkv.MemoryEntry[Any]) -> dict[str, Any]:
    """An entry as JSON-ready data: its fields (``session_id`` and ``expires_at``
    ``None`` if it has none), with ``key`` the exact key, plus ``key_text`` (the key in
    the key notation) and ``parts`` (the tuple of a packed key, as a list; ``None`` for
    other keys)."""
    record: dict[str, Any] = msgspec.to_builtins(entry)
    parts = packed_parts(entry.key)
    return {
        "id": record.pop("id"),
        "key": record.pop("key"),
        "key_text": render_key(entry.key),
        "parts": None if parts is None else list(parts),
        **record,
        "session_id": entry.session_id,  # present even if None, for a steady schema
        "expires_at": record.get("expires_at"),
    }


def json_text(value: Any) -> str:
    """``value`` as one line of JSON, with the characters of `escape` escaped as
    ``\\uXXXX`` (the encoder escapes only those below U+0020)."""
    return json_printable(_json.encode(value).decode())


def when(timestamp: datetime) -> str:
    """A timestamp to the second, for a table."""
    return timestamp.strftime("%Y-%m-%d %H:%M:%S")


def size(size: int) -> str:
    """A byte count in B, KiB, MiB, GiB or TiB."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
