"""Properties of the tuple encoding in memkv.keys, and key validation."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import memkv
from memkv.keys import (
    MAX_KEY_BYTES,
    check_name,
    encode_key,
    key_after,
    pack,
    packed_parts,
    parse_key,
    prefix_end,
    quote_key,
    render_key,
    unpack,
)

# Strings that stress the encoding: the terminator, the escape, tag characters,
# underscores (the originals' separator), non-ASCII; and integers across the range.
awkward_text = st.text(
    alphabet=st.sampled_from(
        ["\x00", "\x01", "\x02", "\x03", "\xff", "_", "a", "b", "é", "字", "\U0001f600"]
    )
    | st.characters(codec="utf-8"),
    max_size=12,
)
integers = st.integers(min_value=-(16**64) + 1, max_value=16**64 - 1) | st.integers(-300, 300)
parts = st.one_of(awkward_text, integers)
tuples = st.lists(parts, max_size=5).map(tuple)


def sort_key(value: tuple[str | int, ...]) -> tuple[tuple[int, str | int], ...]:
    """Tuple order with integers before strings (the encoding's type order)."""
    return tuple((0, part) if isinstance(part, int) else (1, part) for part in value)


@given(tuples)
@example(("run", "a\x00"))
@example((-1, 0, 1))
def test_unpack_inverts_pack(value: tuple[str | int, ...]) -> None:
    assert unpack(pack(value)) == value


@given(tuples, tuples)
@example(("run-1",), ("run-10",))
@example(("a",), ("a\x00",))
@example(("a", 1), ("a\x00",))
@example((15,), (16,))
@example((-16,), (-15,))
def test_pack_is_injective_and_preserves_order(
    a: tuple[str | int, ...], b: tuple[str | int, ...]
) -> None:
    packed_a, packed_b = pack(a).encode(), pack(b).encode()
    assert (packed_a == packed_b) == (a == b)
    assert (packed_a < packed_b) == (sort_key(a) < sort_key(b))


@given(tuples, tuples)
@example(("sop", "step", "run"), ("sop", "step", "run_2", 1))
@example(("sop", "step", "run"), ("sop", "step", "run\x00", 1))
@example(("sop", "step", "run"), ("sop", "step", "run", 1))
def test_prefix_scan_matches_only_true_extensions(
    prefix: tuple[str | int, ...], other: tuple[str | int, ...]
) -> None:
    is_extension = other[: len(prefix)] == prefix
    assert pack(other).startswith(pack(prefix)) == is_extension
    # and as a byte range, the way a backend scans it
    start = pack(prefix).encode()
    stop = prefix_end(start)
    inside = start <= pack(other).encode() and (stop is None or pack(other).encode() < stop)
    assert inside == is_extension


def test_prefix_scan_of_a_run_id_that_prefixes_another() -> None:
    with memkv.open(":memory:") as mem:
        for run_id in ("run", "run_1", "run-1", "run\x00x", "runé"):
            for step in (1, 2, 10):
                mem.store(pack(("sop", "step", run_id, step)), step)
        steps = mem.list(prefix=pack(("sop", "step", "run")))
        assert [unpack(entry.key) for entry in steps] == [
            ("sop", "step", "run", 1),
            ("sop", "step", "run", 2),
            ("sop", "step", "run", 10),
        ]


@given(st.binary(max_size=8))
def test_prefix_end_bounds_exactly_the_extensions(prefix: bytes) -> None:
    stop = prefix_end(prefix)
    for suffix in (b"", b"\x00", b"\xff", b"\xff\xff"):
        assert stop is None or prefix + suffix < stop
    if stop is not None:
        assert not stop.startswith(prefix)
        assert key_after(prefix) > prefix


@pytest.mark.parametrize("bad", [True, 1.5, None, b"x", ("nested",)])
def test_pack_rejects_other_component_types(bad: object) -> None:
    with pytest.raises(memkv.InvalidKey, match="components must be str or int"):
        pack(("ok", bad))  # type: ignore[arg-type]


def test_pack_rejects_integers_beyond_256_bits() -> None:
    with pytest.raises(memkv.InvalidKey, match="256-bit"):
        pack((16**64,))


@pytest.mark.parametrize(
    "not_packed",
    [
        "plain-key",
        "\x03unterminated",
        "\x02",
        "\x021",
        "\x0220",
        "\x0220a",
        "\x01of",
        "\x02x0",
        "\x03a\x01\x03\x00",
    ],
)
def test_unpack_rejects_what_pack_never_makes(not_packed: str) -> None:
    with pytest.raises(memkv.InvalidKey, match="not a packed key"):
        unpack(not_packed)


@pytest.mark.parametrize("not_a_str", [None, b"\x03a\x00", {"a": 1}, 7])
def test_unpack_of_what_is_not_a_str(not_a_str: object) -> None:
    """It used to raise TypeError or KeyError."""
    with pytest.raises(memkv.InvalidKey, match="packed key is a str"):
        unpack(not_a_str)  # type: ignore[arg-type]


def test_describe_renders_packed_keys_as_tuples_and_others_as_is() -> None:
    for key in (pack(("sop", "run", 7)), "user/name", "\x03broken", "('a', 1)"):
        assert parse_key(quote_key(key)) == key
        assert quote_key(key).isprintable()
    assert quote_key(pack(("sop", "run", 7))) == "('sop', 'run', 7)"
    assert quote_key("user/name") == "'user/name'"


# Keys of every kind: arbitrary text (surrogates too), what pack makes, and plain
# text that merely looks like the notation (a tuple, a quoted string, an option).
plain_keys = st.text(st.characters(codec=None), max_size=20) | awkward_text
notation_lookalikes = st.tuples(
    st.sampled_from(["(", "'", '"', "-", " ", "()", "('a', 1)", "'x'"]), plain_keys
).map("".join) | tuples.map(repr)
any_keys = plain_keys | notation_lookalikes | tuples.map(pack)


@given(any_keys)
@example("('turn', 's-1', 0)")
@example(pack(("turn", "s-1", 0)))
@example("\x1b[2J")
@example("")
@example("\x03broken")
@example("user/name ")
def test_parse_key_reads_back_exactly_what_render_key_shows(key: str) -> None:
    shown = render_key(key)
    assert parse_key(shown) == key
    assert shown.isprintable()  # escaped: safe to print


@given(tuples.filter(bool))
@example(("turn", "s-1", 0))
@example(("a\x00\x1b", -(16**64) + 1))
def test_packed_keys_are_shown_and_taken_as_their_tuples(parts: tuple[str | int, ...]) -> None:
    assert packed_parts(pack(parts)) == parts
    assert render_key(pack(parts)) == repr(parts)
    assert parse_key(repr(parts)) == pack(parts)


def test_the_notation_keeps_plain_keys_apart_from_packed_ones() -> None:
    assert render_key("user/name") == "user/name"
    assert packed_parts("user/name") is None
    assert packed_parts("\x03broken") is None
    assert render_key(pack(("turn", "s-1", 0))) == "('turn', 's-1', 0)"
    assert render_key("('turn', 's-1', 0)") == "\"('turn', 's-1', 0)\""
    assert parse_key("\"('turn', 's-1', 0)\"") == "('turn', 's-1', 0)"
    assert render_key("\x1b[2J") == "'\\x1b[2J'"
    assert render_key("-x") == "'-x'"
    assert parse_key("-x") == "-x"  # bare text is always the key itself
    assert parse_key("(-5, 0x10, 'a' 'b')") == pack((-5, 16, "ab"))  # any literal spelling


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("(", "malformed"),
        ("()", "empty tuple"),
        ("('a')", "is not a tuple"),
        ("(True,)", "bool"),
        ("(1.5,)", "float"),
        ("((1,),)", "tuple"),
        ("(2**300,)", "only string and integer literals"),
        (f"({16**64},)", "256-bit"),
        ("'a'.upper()", "only string and integer literals"),
        ("'unterminated", "malformed"),
        ("b'x' 'y'", None),  # bare text: the key itself, not a literal
        ("(" * 300, "malformed"),
    ],
)
def test_parse_key_rejects_malformed_literals(text: str, reason: str | None) -> None:
    if reason is None:
        assert parse_key(text) == text
        return
    with pytest.raises(memkv.InvalidKey, match=reason):
        parse_key(text)


def test_encode_key_limit_is_in_utf8_bytes() -> None:
    assert encode_key("a" * MAX_KEY_BYTES) == b"a" * MAX_KEY_BYTES
    with pytest.raises(memkv.InvalidKey, match=f"{MAX_KEY_BYTES + 1} bytes"):
        encode_key("a" * (MAX_KEY_BYTES + 1))
    with pytest.raises(memkv.InvalidKey, match="bytes in UTF-8"):
        encode_key("字" * (MAX_KEY_BYTES // 3 + 1))


def test_check_name_accepts_repeated_names_and_rejects_bad_ones() -> None:
    assert check_name("core", "category") == "core"
    assert check_name("core", "category") == "core"  # served from the checked set
    for bad in ("", "x" * 65, "a\x00b", 5, "\ud800"):
        with pytest.raises(memkv.InvalidArgument, match="category"):
            check_name(bad, "category")
