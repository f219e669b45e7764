"""Transfer benchmark: a store of typical agent memories exported as JSON Lines
(`Memory.export_jsonl`) and imported into a fresh store (`Memory.import_jsonl`).

    .venv/bin/python benchmarks/bench_transfer.py            # 1,000,000 entries (minutes)
    .venv/bin/python benchmarks/bench_transfer.py --quick    # a smoke run (5,000 entries)

Writes ``benchmarks/results/transfer.md`` (every figure), ``transfer-summary.md`` (the
goals: each way at most 15 s) and ``transfer.json``.

The store (LMDB), made with fixed seeds: per ten entries, seven conversation turns
(packed keys ``('turn', session, n)``, 4 to 40 words, in one of 2,000 sessions), two
daily notes (``daily/DAY/n``, 8 to 60 words, no session), and one core fact: a map
(subject, predicate, object, confidence), or, for one fact in ten, 64 bytes of an
embedding (written as ``content_msgpack``). It is filled without the recall index
and unsynced (the fill is not what is measured), then reopened as a default store.

Measured, each once: the export to a file (flushed to disk and renamed into place),
then the import of that file into a new store opened with the defaults (durable,
with the recall index), and into one without the recall index (``recall=False``), to
show what that index costs the import. Both imports are then compared with the
source, entry by entry (ids, timestamps, keys, contents: their msgpack encodings).
"""

from __future__ import annotations

import argparse
import functools
import platform
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import lmdb
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import memkv
from benchmarks.common import RESULTS, workdir
from memkv.keys import pack

ENTRIES: Final = 1_000_000
QUICK_ENTRIES: Final = 5_000
SESSIONS: Final = 2_000
FILL_BATCH: Final = 1_000  # entries per transaction while filling the source
COMPARE_PAGE: Final = 10_000
GOAL_SECONDS: Final = 15.0  # each way, at 1,000,000 entries
SYLLABLES: Final = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


# -- the store ----------------------------------------------------------------------------


def made_up_words(count: int, rng: random.Random) -> list[str]:
    found: dict[str, None] = {}
    while len(found) < count:
        found["".join(rng.choices(SYLLABLES, k=rng.randint(1, 4)))] = None
    return list(found)


def memories(count: int, seed: int) -> Iterator[tuple[str, Any, str, str | None]]:
    """(key, content, category, session id) of the store's entries, in a fixed order."""
    rng = random.Random(f"{seed}/memories")
    words = made_up_words(5_000, rng)
    turns = [0] * SESSIONS
    for i in range(count):
        kind = i % 10
        if kind < 7:
            session = rng.randrange(SESSIONS)
            turns[session] += 1
            text = " ".join(rng.choices(words, k=rng.randint(4, 40)))
            yield pack(("turn", session, turns[session])), text, "conversation", f"s-{session:04d}"
        elif kind < 9:
            text = " ".join(rng.choices(words, k=rng.randint(8, 60)))
            yield f"daily/{i // 2_000:04d}/{i:07d}", text, "daily", None
        elif i % 100 == 9:
            yield f"fact/{i:07d}", rng.randbytes(64), "core", None
        else:
            fact = {
                "subject": rng.choice(words),
                "predicate": rng.choice(words),
                "object": " ".join(rng.choices(words, k=3)),
                "confidence": round(rng.random(), 3),
            }
            yield f"fact/{i:07d}", fact, "core", None


def fill(path: Path, count: int, seed: int) -> float:
    """Make the source store; the seconds it took."""
    start = time.perf_counter()
    with memkv.open(path, recall=False, durability="unsynced") as mem:
        batch: list[tuple[str, Any, str, str | None]] = []
        for memory in memories(count, seed):
            batch.append(memory)
            if len(batch) == FILL_BATCH:
                mem.transact(functools.partial(store_rows, batch))
                batch = []
        if batch:
            mem.transact(functools.partial(store_rows, batch))
    return time.perf_counter() - start


def store_rows(rows: list[tuple[str, Any, str, str | None]], tx: memkv.Transaction) -> None:
    for key, content, category, session_id in rows:
        tx.store(key, content, category, session_id)


def pages(mem: memkv.Memory) -> Iterator[list[bytes]]:
    """The store's entries as msgpack, a page at a time, in key order."""
    after: str | None = None
    while True:
        page = mem.list(limit=COMPARE_PAGE, after=after)
        if not page:
            return
        yield [msgspec.msgpack.encode(entry) for entry in page]
        after = page[-1].key


def identical(source: memkv.Memory, copy: memkv.Memory) -> bool:
    """Whether both stores hold the same entries, every field of each."""
    if source.count() != copy.count():
        return False
    return all(mine == theirs for mine, theirs in zip(pages(source), pages(copy), strict=True))


# -- the run ------------------------------------------------------------------------------


class Figures(msgspec.Struct, frozen=True, kw_only=True):
    """The contents of ``transfer.json``."""

    command: str
    machine: dict[str, str]
    entries: int
    seed: int
    file_bytes: int
    source_bytes: int  # the source store's data file
    fill_seconds: float  # not a goal: the source's making
    export_seconds: float
    import_seconds: float  # into a default store (with the recall index)
    import_no_recall_seconds: float  # into a store made with recall=False
    import_batch: int
    identical: bool  # both copies, entry by entry
    goal_seconds: float
    export_met: bool
    import_met: bool


def seconds(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run(directory: Path, count: int, seed: int, command: str) -> Figures:
    source_path, file = directory / "source", directory / "export.jsonl"
    print(f"filling the source store with {count:,} entries ...", flush=True)
    fill_seconds = fill(source_path, count, seed)
    with memkv.open(source_path) as source:
        print("exporting ...", flush=True)
        export_seconds, exported = seconds(lambda: source.export_jsonl(file))
        assert exported == count, exported
        timings: dict[str, float] = {}
        same = True
        for name, options in (("default", {}), ("no recall", {"recall": False})):
            print(f"importing into a new store ({name}) ...", flush=True)
            with memkv.open(directory / name, **options) as copy:  # type: ignore[arg-type]
                timings[name], report = seconds(lambda copy=copy: copy.import_jsonl(file))
                assert report.imported == count, report
                print("comparing ...", flush=True)
                same = same and identical(source, copy)
        source_bytes = (source_path / "data.mdb").stat().st_size
    import_seconds, no_recall_seconds = timings["default"], timings["no recall"]
    return Figures(
        command=command,
        machine={
            "python": platform.python_version(),
            "platform": platform.platform(),
            "lmdb": lmdb.__version__,
            "msgspec": msgspec.__version__,
        },
        entries=count,
        seed=seed,
        file_bytes=file.stat().st_size,
        source_bytes=source_bytes,
        fill_seconds=fill_seconds,
        export_seconds=export_seconds,
        import_seconds=import_seconds,
        import_no_recall_seconds=no_recall_seconds,
        import_batch=memkv.transfer.IMPORT_BATCH,
        identical=same,
        goal_seconds=GOAL_SECONDS,
        export_met=export_seconds <= GOAL_SECONDS,
        import_met=import_seconds <= GOAL_SECONDS,
    )


def per_entry(total: float, count: int) -> str:
    return f"{total / count * 1e6:.1f} µs"


def full_report(figures: Figures) -> str:
    count = figures.entries
    rows = [
        ("export to a file", figures.export_seconds),
        ("import into a new default store (recall index)", figures.import_seconds),
        ("import into a new store with recall=False", figures.import_no_recall_seconds),
        ("(filling the source: recall=False, unsynced)", figures.fill_seconds),
    ]
    return "\n".join(
        [
            f"Command: `{figures.command}`",
            "",
            f"{count:,} entries (seed {figures.seed}): conversation turns, daily notes and "
            "core facts (see the script's docstring); the JSON Lines file is "
            f"{figures.file_bytes / 2**20:,.0f} MiB, the source's data file "
            f"{figures.source_bytes / 2**20:,.0f} MiB. Imports write "
            f"{figures.import_batch} entries per transaction. Both copies identical to the "
            f"source, entry by entry: {'yes' if figures.identical else '**no**'}.",
            "",
            "| step | time | per entry |",
            "|---|---:|---:|",
            *(f"| {name} | {total:.1f} s | {per_entry(total, count)} |" for name, total in rows),
        ]
    )


def summary_report(figures: Figures) -> str:
    lines = [
        f"| benchmark ({figures.entries:,} entries) | time | goal | met |",
        "|---|---:|---:|:-:|",
    ]
    for name, total, met in (
        ("export", figures.export_seconds, figures.export_met),
        ("import (default store)", figures.import_seconds, figures.import_met),
    ):
        lines.append(
            f"| {name} | {total:.1f} s | <= {figures.goal_seconds:g} s | "
            f"{'yes' if met else '**no**'} |"
        )
    lines.append(f"| import (recall=False) | {figures.import_no_recall_seconds:.1f} s | | |")
    return "\n".join(lines)


def write_report(output: Path, figures: Figures) -> None:
    output.mkdir(parents=True, exist_ok=True)
    full, summary = full_report(figures), summary_report(figures)
    (output / "transfer.md").write_text(full + "\n")
    (output / "transfer-summary.md").write_text(summary + "\n")
    encoded = msgspec.json.format(msgspec.json.encode(figures), indent=2)
    (output / "transfer.json").write_bytes(encoded + b"\n")
    print("\n" + full + "\n\n" + summary)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=ENTRIES, help="(default 1,000,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", help="where to put the stores (default: the temp dir)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ENTRIES:,} entries")
    parser.add_argument("--output", default=str(RESULTS), help="where to write the results")
    args = parser.parse_args()
    count = QUICK_ENTRIES if args.quick else args.entries
    command = " ".join(["python benchmarks/bench_transfer.py", *sys.argv[1:]])
    with workdir(args.dir) as directory:
        figures = run(directory, count, args.seed, command)
    write_report(Path(args.output), figures)
    return 0 if figures.identical else 1


if __name__ == "__main__":
    sys.exit(main())
