"""Keys: validation of user keys and the order-preserving tuple encoding.

Users pass keys as strings. Domain packages build composite keys with `pack`, an
order-preserving tuple encoding in the spirit of FoundationDB's tuple layer, but
producing a *string* so that a packed key is an ordinary memkv key:

* ``pack(a) == pack(b)`` only if ``a == b`` (injective; `unpack` inverts it);
* ``pack(a) < pack(b)`` (as UTF-8 bytes, which is how every backend orders keys)
  exactly when ``a < b`` as tuples, with integers compared numerically;
* ``pack(t)`` is a string prefix of ``pack(u)`` exactly when ``t`` is a prefix of
  ``u``, so a prefix scan over ``pack(("sop", "step", run_id))`` returns that run's
  keys and never those of a run whose id merely starts with the same characters.

Components are ``str`` or ``int`` (not ``bool``). Each component starts with a type
tag. A string ends with ``"\\x00"``; inside it ``"\\x00"`` is written ``"\\x01\\x01"``
and ``"\\x01"`` is written ``"\\x01\\x02"``, so the terminator never occurs inside a
string (unlike FoundationDB's ``\\x00\\xff``, which would make ``("a",)`` a prefix of
``("a\\x00",)``). An integer is its hexadecimal digits behind a length character
(complemented for negative numbers), so that a longer number sorts after a shorter.

`render_key` and `parse_key` are the key notation for people (the ``memkv``
command shows and takes keys in it): a packed key is its tuple, ``('sop', 7)``.
"""

from __future__ import annotations

import ast
import base64
import binascii
from typing import Final

from memkv.errors import InvalidArgument, InvalidCursor, InvalidKey

MAX_KEY_BYTES: Final = 256
"""Longest key, in UTF-8 bytes, on every backend (with room for index prefixes in
LMDB's 511-byte key limit), so that a store can move between backends."""

MAX_NAME_BYTES: Final = 64
"""Longest category or session id, in UTF-8 bytes."""

KeyPart = str | int

_TERMINATOR: Final = "\x00"
_ESCAPE: Final = "\x01"
_ESCAPES: Final = {0: "\x01\x01", 1: "\x01\x02"}  # str.translate table
_UNESCAPES: Final = {"\x01": "\x00", "\x02": "\x01"}
_TAG_NEGATIVE_INT: Final = "\x01"
_TAG_INT: Final = "\x02"
_TAG_STR: Final = "\x03"
_AFTER_TAGS: Final = "\x04"  # sorts after every tag
_MAX_INT_DIGITS: Final = 64  # hexadecimal digits: |n| < 16**64 (256 bits)
_LENGTH_BASE: Final = ord("0")
_COMPLEMENT: Final = str.maketrans("0123456789abcdef", "fedcba9876543210")


def pack(parts: tuple[KeyPart, ...]) -> str:
    """Encode a tuple of strings and integers as an order-preserving key string.

    Raises:
        InvalidKey: a component is neither ``str`` nor ``int``, is a ``bool``, or is
            an integer of more than 256 bits.
    """
    pieces: list[str] = []
    for part in parts:
        if part.__class__ is str or isinstance(part, str):
            if _TERMINATOR in part or _ESCAPE in part:  # rare: skip translate's copy
                pieces += (_TAG_STR, part.translate(_ESCAPES), _TERMINATOR)
            else:
                pieces += (_TAG_STR, part, _TERMINATOR)
        elif isinstance(part, int) and not isinstance(part, bool):
            pieces.append(_pack_int(part))
        else:
            raise InvalidKey(
                f"key component {part!r} in {parts!r} is a {type(part).__name__}; "
                "components must be str or int"
            )
    return "".join(pieces)


def packed_end(parts: tuple[KeyPart, ...]) -> str:
    """A key that sorts after ``pack(parts)`` and every key packed from a longer tuple
    that starts with ``parts``, and before any other key above them: a listing that
    starts after it (``after=``) skips all of them.

    Raises:
        InvalidKey: as `pack`.
    """
    return pack(parts) + _AFTER_TAGS


def _pack_int(number: int) -> str:
    digits = format(abs(number), "x")
    if len(digits) > _MAX_INT_DIGITS:
        raise InvalidKey(f"key component {number} is outside the 256-bit range")
    if number >= 0:
        return _TAG_INT + chr(_LENGTH_BASE + len(digits)) + digits
    length = chr(_LENGTH_BASE + _MAX_INT_DIGITS - len(digits))
    return _TAG_NEGATIVE_INT + length + digits.translate(_COMPLEMENT)


def unpack(key: str) -> tuple[KeyPart, ...]:
    """Decode a key made by `pack` back into its tuple.

    Raises:
        InvalidKey: ``key`` is not the output of `pack` (not even a str).
    """
    if not isinstance(key, str):
        raise InvalidKey(f"a packed key is a str, not {type(key).__name__}: {key!r:.80}")
    parts: list[KeyPart] = []
    position = 0
    while position < len(key):
        tag = key[position]
        if tag == _TAG_STR:
            part, position = _unpack_str(key, position + 1)
            parts.append(part)
        elif tag in (_TAG_INT, _TAG_NEGATIVE_INT):
            number, position = _unpack_int(key, position + 1, negative=tag == _TAG_NEGATIVE_INT)
            parts.append(number)
        else:
            raise InvalidKey(f"{key!r} is not a packed key (bad tag at offset {position})")
    return tuple(parts)


def _unpack_str(key: str, position: int) -> tuple[str, int]:
    end = key.find(_TERMINATOR, position)
    if end < 0:
        raise InvalidKey(f"{key!r} is not a packed key (unterminated string)")
    escaped = key[position:end]
    if _ESCAPE not in escaped:
        return escaped, end + 1
    chars: list[str] = []
    start = 0
    while (escape := escaped.find(_ESCAPE, start)) >= 0:
        unescaped = _UNESCAPES.get(escaped[escape + 1 : escape + 2])
        if unescaped is None:
            raise InvalidKey(f"{key!r} is not a packed key (bad escape)")
        chars += (escaped[start:escape], unescaped)
        start = escape + 2
    chars.append(escaped[start:])
    return "".join(chars), end + 1


def _unpack_int(key: str, position: int, *, negative: bool) -> tuple[int, int]:
    if position >= len(key):
        raise InvalidKey(f"{key!r} is not a packed key (truncated integer)")
    length = ord(key[position]) - _LENGTH_BASE
    if negative:
        length = _MAX_INT_DIGITS - length
    digits = key[position + 1 : position + 1 + length]
    if not 1 <= length <= _MAX_INT_DIGITS or len(digits) != length:
        raise InvalidKey(f"{key!r} is not a packed key (bad integer length)")
    if negative:
        digits = digits.translate(_COMPLEMENT)
    canonical = length == 1 or digits[0] != "0"
    if not canonical or digits.strip("0123456789abcdef"):
        raise InvalidKey(f"{key!r} is not a packed key (bad integer digits)")
    number = int(digits, 16)
    if negative and number == 0:
        raise InvalidKey(f"{key!r} is not a packed key (negative zero)")
    return (-number if negative else number), position + 1 + length


def quote_key(key: str) -> str:
    """``key`` as error messages name it: its tuple if `pack` made it, else the
    quoted string (``'user/name'``). Either form is the key notation of `parse_key`,
    and neither holds a raw control character."""
    parts = packed_parts(key)
    return repr(key) if parts is None else repr(parts)


_TUPLE_OPENING: Final = "("
_QUOTES: Final = ("'", '"')
_QUOTED_FIRST: Final = (_TUPLE_OPENING, *_QUOTES, "-")  # a bare key never starts so


def packed_parts(key: str) -> tuple[KeyPart, ...] | None:
    """The tuple ``key`` was packed from, or ``None`` if `pack` did not make it."""
    if key[:1] not in (_TAG_STR, _TAG_INT, _TAG_NEGATIVE_INT):
        return None
    try:
        parts = unpack(key)
    except InvalidKey:
        return None
    return parts if pack(parts) == key else None  # unpack is strict; this proves it


def render_key(key: str) -> str:
    """``key`` in the key notation, which `parse_key` reads back exactly.

    * a packed key (`pack`'s output) is its tuple as a Python literal:
      ``('sop', 'step', 'run-7', 2)``;
    * a key of printable characters (`str.isprintable`) that does not start with
      ``(``, a quote or ``-`` and neither starts nor ends with a space is itself:
      ``user/name``;
    * any other key is a Python string literal: ``"('a', 1)"``, ``'\\x1b[2J'``.

    Every character `str.isprintable` rejects (control characters, bidi overrides,
    line separators) appears escaped, so the result is safe to print.
    """
    parts = packed_parts(key)
    if parts is not None:
        return repr(parts)
    bare = key.isprintable() and key[:1] not in ("", *_QUOTED_FIRST) and key == key.strip(" ")
    return key if bare else repr(key)


def parse_key(text: str) -> str:
    """The key that ``text`` names in the key notation of `render_key`.

    Text starting with ``(`` is a tuple literal of strings and integers, which is
    packed; text starting with a quote is a Python string literal; any other text is
    the key itself, character for character. The key is not validated (see
    `encode_key`).

    Raises:
        InvalidKey: a literal is malformed, or a tuple is empty or holds anything
            but strings and integers (of at most 256 bits).
    """
    if text[:1] == _TUPLE_OPENING:
        parts = _literal(text)
        if not isinstance(parts, tuple):
            raise InvalidKey(
                f"{text!r:.80} is not a tuple (a tuple of one part is written ('part',))"
            )
        if not parts:
            raise InvalidKey("the empty tuple () is not a key")
        return pack(parts)
    if text[:1] in _QUOTES:
        key = _literal(text)
        if not isinstance(key, str):
            raise InvalidKey(f"{text!r:.80} is not a string literal")
        return key
    return text


def _literal(text: str) -> object:
    """The value of a Python literal (no names, calls or operators), or `InvalidKey`."""
    try:
        return ast.literal_eval(text)
    except SyntaxError as exc:
        reason = exc.msg
    except (ValueError, TypeError):
        reason = "only string and integer literals may appear"
    except (MemoryError, RecursionError):
        reason = "nested too deeply"
    raise InvalidKey(f"{text!r:.80} is not a key: a malformed tuple or string literal ({reason})")


def encode_cursor(parts: tuple[KeyPart, ...]) -> str:
    """An opaque, URL-safe paging cursor for the position ``parts`` (see `decode_cursor`)."""
    return base64.urlsafe_b64encode(pack(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: object, shape: tuple[type, ...]) -> tuple[KeyPart, ...]:
    """The position in a cursor made by `encode_cursor`, checked against ``shape``
    (the type of each part).

    Raises:
        InvalidCursor: ``cursor`` is not a string this encoding made, or its parts
            do not have the types of ``shape``; the message names the cursor.
    """
    if not isinstance(cursor, str):
        raise InvalidCursor(f"cursor must be a str, not {type(cursor).__name__}: {cursor!r:.80}")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = unpack(base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8"))
    except (InvalidKey, ValueError, binascii.Error) as exc:  # UnicodeError is a ValueError
        raise InvalidCursor(
            f"cursor {cursor!r:.80} is malformed (not one handed out here)"
        ) from exc
    if len(parts) != len(shape) or not all(
        type(part) is kind for part, kind in zip(parts, shape, strict=True)
    ):
        raise InvalidCursor(f"cursor {cursor!r:.80} does not mark a position of this listing")
    return parts


def encode_key(key: object) -> bytes:
    """Validate a user key and return its UTF-8 bytes.

    Raises:
        InvalidKey: ``key`` is not a ``str``, is empty, holds a lone surrogate, or is
            longer than `MAX_KEY_BYTES` in UTF-8.
    """
    if key.__class__ is str:  # the usual case, in the fewest steps (every get takes it)
        try:
            raw = key.encode()
        except UnicodeEncodeError:
            raw = b""  # `_checked_key` says why
        if 0 < len(raw) <= MAX_KEY_BYTES:
            return raw
    return _checked_key(key)


def _checked_key(key: object) -> bytes:
    """`encode_key` of anything but a plain, valid ``str``: a ``str`` subclass, or the
    error that says what is wrong."""
    if not isinstance(key, str):
        raise InvalidKey(f"key must be a str, not {type(key).__name__}: {key!r:.80}")
    if not key:
        raise InvalidKey("key must not be empty")
    try:
        raw = key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidKey(f"key {key!r:.80} is not encodable as UTF-8: {exc.reason}") from exc
    if len(raw) > MAX_KEY_BYTES:
        raise InvalidKey(
            f"key {key!r:.80} is {len(raw)} bytes in UTF-8; the maximum is {MAX_KEY_BYTES}"
        )
    return raw


_valid_names: set[str] = set()  # names already checked (bounded, see check_name)
_VALID_NAMES_KEPT: Final = 4096


def check_name(value: object, what: str) -> str:
    """Validate a category or session id: a non-empty ``str`` of at most
    `MAX_NAME_BYTES` UTF-8 bytes without NUL characters.

    Raises:
        InvalidArgument: naming ``what`` ("category", "session_id") and the value.
    """
    if value.__class__ is str and value in _valid_names:
        return value
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a str, not {type(value).__name__}: {value!r:.80}")
    if not value:
        raise InvalidArgument(f"{what} must not be empty")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidArgument(f"{what} {value!r:.80} is not encodable as UTF-8") from exc
    if size > MAX_NAME_BYTES or _TERMINATOR in value:
        raise InvalidArgument(
            f"{what} {value!r:.80} must be at most {MAX_NAME_BYTES} UTF-8 bytes, without NUL"
        )
    if value.__class__ is str:
        if len(_valid_names) >= _VALID_NAMES_KEPT:
            _valid_names.clear()
        _valid_names.add(value)
    return value


def prefix_end(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix``
    (``None``: no bound, the prefix is empty or all ``0xff``)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def key_after(key: bytes) -> bytes:
    """The smallest byte string greater than ``key``."""
    return key + b"\x00"
