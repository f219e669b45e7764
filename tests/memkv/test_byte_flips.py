"""A byte-flip campaign: one byte of ``data.mdb`` changed at a random offset, in a copy
of a store of 3,000 entries each time, then every entry read, listed and verified in
a child process (`tests.memkv.flip_worker`: a flip in an LMDB page header can crash
LMDB itself, which must not take the test run with it). Seeded.

What must never happen: an entry returned, without an error, whose content differs
from the one stored (the record checksum, `memkv.entry`); an exception that is not a
`memkv.MemkvError`; a read that does not end. Counted and printed besides: the
crashes of LMDB itself (a signal: damaged page headers, which only a check of the
file's pages could refuse), ``get`` answering ``None`` for a stored key (a flipped
key, or a damaged branch page, which ``verify`` reports), and the flips nothing saw
(free space, unused bytes).
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest

import memkv

WORKER = Path(__file__).with_name("flip_worker.py")
ENTRIES = 3_000
CATEGORIES = ("core", "daily", "conversation", "notes")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A store of `ENTRIES` entries (strings of many lengths, some past a page, some
    maps), and the msgpack list of its entries."""
    root = tmp_path_factory.mktemp("flips")
    rng = random.Random(19)
    words = ["memory", "agent", "Lisbon", "review", "release", "été", "数据", "ok"]

    def content(i: int) -> Any:
        if i % 10 == 0:
            return {"n": i, "tags": rng.sample(words, 3), "ratio": i / 7}
        length = 6_000 if i % 97 == 0 else rng.randrange(5, 60)
        return " ".join(rng.choice(words) for _ in range(length))

    def fill(tx: memkv.Transaction) -> None:
        for i in range(ENTRIES):
            session = f"s-{i % 7}" if i % 3 == 0 else None
            tx.store(f"mem/{i:05d}", content(i), CATEGORIES[i % 4], session)

    with memkv.open(root / "store") as memory:
        memory.transact(fill)
        stored = memory.list()
        assert len(stored) == ENTRIES
        assert memory.verify() == []
    expected = root / "expected.msgpack"
    expected.write_bytes(msgspec.msgpack.encode(stored))
    return root / "store", expected


def flip_one(store: Path, expected: Path, copy: Path, rng: random.Random) -> dict[str, Any]:
    """Copy ``store`` to ``copy``, change one byte of its ``data.mdb``, read it all in a
    child; what the child saw last (see `tests.memkv.flip_worker`), with ``crash``
    (the signal's name, if one ended it) and ``offset``."""
    shutil.copytree(store, copy)
    data = copy / "data.mdb"
    offset = rng.randrange(data.stat().st_size)
    with data.open("r+b") as file:
        file.seek(offset)
        byte = file.read(1)[0]
        file.seek(offset)
        file.write(bytes([byte ^ rng.randrange(1, 256)]))
    try:
        done = subprocess.run(
            [sys.executable, str(WORKER), str(copy), str(expected)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        shutil.rmtree(copy)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    seen: dict[str, Any] = json.loads(lines[-1]) if lines else {"phase": "none", "untyped": []}
    seen["offset"] = offset
    seen["crash"] = signal.Signals(-done.returncode).name if done.returncode < 0 else None
    if done.returncode > 0:  # the worker itself failed: a bug of the test, or untyped
        seen["untyped"] = [*seen["untyped"], done.stderr[-2000:]]
    return seen


def outcome(seen: dict[str, Any]) -> str:
    """One word for a flip: what the reads came to."""
    if seen["crash"] is not None:
        return f"crash ({seen['crash']}, after {seen['phase']})"
    if seen["untyped"]:
        return "untyped exception"
    if seen["altered"]:
        return "altered content returned"
    if seen["typed"]:
        return "refused with a typed error"
    if seen["missing"] or seen["list_wrong"]:
        return "entries missing, reported by verify" if seen["problems"] else "entries missing"
    if seen["problems"]:
        return "found by verify only"
    return "nothing seen (free space or unused bytes)"


def run_campaign(pristine: tuple[Path, Path], tmp_path: Path, flips: int) -> Counter[str]:
    store, expected = pristine
    rng = random.Random(1919)
    outcomes: Counter[str] = Counter()
    failures = []
    for number in range(flips):
        seen = flip_one(store, expected, tmp_path / f"flip-{number}", rng)
        outcomes[outcome(seen)] += 1
        if seen["untyped"] or seen["altered"]:
            failures.append(seen)
    print(f"\n{flips} byte flips over {ENTRIES:,} entries:")
    for name, count in outcomes.most_common():
        print(f"  {count:4d}  {name}")
    assert [(seen["offset"], seen["altered"], seen["untyped"]) for seen in failures] == []
    assert sum(outcomes.values()) == flips
    return outcomes


def test_byte_flips_short(pristine: tuple[Path, Path], tmp_path: Path) -> None:
    run_campaign(pristine, tmp_path, 12)


@pytest.mark.slow
def test_byte_flips_campaign(pristine: tuple[Path, Path], tmp_path: Path) -> None:
    run_campaign(pristine, tmp_path, 100)


def test_the_worker_counts_an_altered_record(pristine: tuple[Path, Path], tmp_path: Path) -> None:
    """The campaign's eye: a record replaced by another entry's (checksum intact) is
    counted as an error, and an untouched copy is seen as clean."""
    store, expected = pristine
    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    clean = subprocess.run(
        [sys.executable, str(WORKER), str(copy), str(expected)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(clean.stdout.splitlines()[-1])
    assert seen == {
        "phase": "verified",
        "altered": 0,
        "missing": 0,
        "list_wrong": 0,
        "typed": 0,
        "problems": 0,
        "untyped": [],
    }
    with memkv.open(copy) as memory:
        memory.store("mem/00001", "not what was stored", "notes")  # was "daily"
    changed = subprocess.run(
        [sys.executable, str(WORKER), str(copy), str(expected)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(changed.stdout.splitlines()[-1])
    assert seen["altered"] == 3  # get, list(), list("notes")
    assert seen["list_wrong"] == 2  # list("daily") lacks it, list("notes") has one more
