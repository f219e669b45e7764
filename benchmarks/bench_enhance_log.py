"""enhance_log benchmark: memkv's indexed listing beside mlua_swarm's approach, and append
beside a bare Memory.insert, in the same run.

    .venv/bin/python benchmarks/bench_enhance_log.py            # 100k entries, 1k blueprints
    .venv/bin/python benchmarks/bench_enhance_log.py --quick

The original (mlua_swarm's InMemoryEnhanceLogStore) lists a blueprint by filtering every
entry of a hash map and sorting the matches by ts_ms; that is the anchor here, on the
same 100k entries held in a dict. Writes ``benchmarks/results/enhance_log*``.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import memkv
from benchmarks.common import RESULTS, Figures, Target, interleaved, report, workdir
from enhance_log import EnhanceLogEntry, MemoryEnhanceLogStore, VerdictSummary
from enhance_log import operations as log_ops

SMALL_BLUEPRINT_ENTRIES = 20  # what the listing benchmark returns


def make_entry(issue: str, blueprint: str, ts: int) -> EnhanceLogEntry:
    return EnhanceLogEntry(
        issue_id=issue,
        blueprint_id=blueprint,
        prev_hash="ab" * 32,
        new_hash="cd" * 32,
        intent="tighten the retry policy of the fetch step",
        rationale="all four verifier axes passed",
        verdicts=(
            VerdictSummary(axis="des", status="pass", detail="schema ok"),
            VerdictSummary(axis="noop", status="pass", detail="changes behaviour"),
        ),
        status="applied",
        reasons=(),
        ts_ms=ts,
    )


def entries(total: int, blueprints: int, rng: random.Random) -> list[EnhanceLogEntry]:
    """``total`` entries over ``blueprints``: every tenth blueprint has exactly 20, the
    others share the rest; timestamps shuffled (appends do not come in ts order)."""
    small = [f"bp-{b:04d}" for b in range(0, blueprints, 10)]
    large = [f"bp-{b:04d}" for b in range(blueprints) if b % 10]
    owners = [bp for bp in small for _ in range(SMALL_BLUEPRINT_ENTRIES)]
    owners += [large[i % len(large)] for i in range(total - len(owners))]
    rng.shuffle(owners)
    return [make_entry(f"issue-{i:07d}", bp, rng.randrange(10**6)) for i, bp in enumerate(owners)]


def append_all(mem: memkv.Memory, batch: list[EnhanceLogEntry]) -> None:
    """Append a batch in one transaction (to load the log quickly)."""

    def append(tx: memkv.Transaction) -> None:
        for entry in batch:
            log_ops.append(tx, entry)

    mem.transact(append)


def original_list_by_blueprint(
    log: dict[str, EnhanceLogEntry], blueprint: str
) -> list[EnhanceLogEntry]:
    """mlua_swarm's in-memory list_by_blueprint: filter every entry, sort by ts_ms."""
    return sorted((e for e in log.values() if e.blueprint_id == blueprint), key=lambda e: e.ts_ms)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--blueprints", type=int, default=1_000)
    parser.add_argument("--list-calls", type=int, default=300)
    parser.add_argument("--appends", type=int, default=600)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", help="where to put the stores (default: the temp dir)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", default=str(RESULTS))
    args = parser.parse_args()
    if args.quick:
        args.entries, args.blueprints, args.list_calls, args.appends = 10_000, 100, 50, 100
    rng = random.Random(args.seed)
    log_entries = entries(args.entries, args.blueprints, rng)
    figures: Figures = {}
    with workdir(args.dir) as directory:
        mem = memkv.open(directory / "log", durability="unsynced")
        for start in range(0, len(log_entries), 5_000):
            append_all(mem, log_entries[start : start + 5_000])
        mem.close()
        mem = memkv.open(directory / "log")
        log = MemoryEnhanceLogStore(mem)
        original = {e.issue_id: e for e in log_entries}
        small = [f"bp-{b:04d}" for b in range(0, args.blueprints, 10)]
        picks = itertools.cycle(rng.sample(small, len(small)))
        assert log.list_by_blueprint(small[0]) == original_list_by_blueprint(original, small[0])
        assert len(log.list_by_blueprint(small[0])) == SMALL_BLUEPRINT_ENTRIES
        figures["list_by_blueprint, 20 of the log's entries"] = interleaved(
            {
                "memkv": lambda: log.list_by_blueprint(next(picks)),
                "original: mlua_swarm (filter + sort)": lambda: original_list_by_blueprint(
                    original, next(picks)
                ),
            },
            args.list_calls,
        )
        counter = itertools.count()
        figures["append (durable)"] = interleaved(
            {
                "memkv append": lambda: log.append(make_entry(f"new-{next(counter)}", "bp-new", 5)),
                "Memory.insert": lambda: mem.insert(
                    f"bare-{next(counter)}", make_entry("x", "bp", 5), category="bare"
                ),
            },
            args.appends,
        )
        mem.close()
        fast = memkv.open(directory / "log", durability="unsynced")
        fast_log = MemoryEnhanceLogStore(fast)
        figures["append (durability unsynced: no flush)"] = interleaved(
            {
                "memkv append": lambda: fast_log.append(
                    make_entry(f"u-{next(counter)}", "bp-u", 5)
                ),
                "Memory.insert": lambda: fast.insert(
                    f"u-bare-{next(counter)}", make_entry("x", "bp", 5), category="bare"
                ),
            },
            args.appends * 5,
        )
        fast.close()
    targets = {
        "list_by_blueprint, 20 of the log's entries": Target(
            "memkv", "original: mlua_swarm (filter + sort)", "speedup", 100.0
        ),
        "append (durable)": Target("memkv append", "Memory.insert", "slowdown", 1.5),
        "append (durability unsynced: no flush)": Target(
            "memkv append", "Memory.insert", "slowdown", 1.5
        ),
    }
    command = "python benchmarks/bench_enhance_log.py" + (" --quick" if args.quick else "")
    notes = (
        f"{args.entries:,} entries over {args.blueprints:,} blueprints; every tenth blueprint "
        f"has {SMALL_BLUEPRINT_ENTRIES} entries. An append writes the entry and two index "
        "entries in one transaction."
    )
    report("enhance_log", command, figures, targets, Path(args.output), notes=notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
