"""Example database benchmark: `MemkvExampleDatabase` beside hypothesis's own
`DirectoryBasedExampleDatabase` on the same work, in the same run.

    .venv/bin/python benchmarks/bench_hypothesis_db.py            # 10k keys, 3 values each
    .venv/bin/python benchmarks/bench_hypothesis_db.py --quick

The work, per round and database (each round on fresh directories, the databases
taking turns): save 3 values under each of 10,000 keys (keys of 20 bytes, some with
".secondary" as hypothesis makes them; values of 20 to 400 random bytes), then fetch
every key. memkv's time includes writing everything to its store (`close`), so
nothing is left pending when the clock stops. Figures: seconds per key (3 saves and
a fetch), per save, per fetch.

Writes ``benchmarks/results/hypothesis_db.md``, ``-summary.md``, ``.json``, ``.png``.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from pathlib import Path

from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, Target, report, workdir
from memkv.testing.hypothesis_db import MemkvExampleDatabase

MEMKV = "MemkvExampleDatabase"
DIRECTORY = "DirectoryBasedExampleDatabase"


def workload(keys: int, values_per_key: int, seed: int) -> list[tuple[bytes, list[bytes]]]:
    rng = random.Random(seed)
    work = []
    for i in range(keys):
        key = hashlib.sha384(str(i).encode()).digest()[:20] + (b".secondary" if i % 4 == 0 else b"")
        values = [rng.randbytes(rng.randrange(20, 400)) for _ in range(values_per_key)]
        work.append((key, values))
    return work


def run(database: ExampleDatabase, work: list[tuple[bytes, list[bytes]]]) -> tuple[float, float]:
    """Seconds for all the saves (and, for memkv, writing them out), and for all the
    fetches."""
    clock = time.perf_counter
    started = clock()
    for key, values in work:
        for value in values:
            database.save(key, value)
    if isinstance(database, MemkvExampleDatabase):
        database.close()  # everything on disk before the clock stops
    saved = clock()
    found = 0
    for key, _ in work:
        found += len(list(database.fetch(key)))
    fetched = clock()
    expected = sum(len(values) for _, values in work)
    assert found == expected, f"{type(database).__name__} fetched {found} of {expected}"
    if isinstance(database, MemkvExampleDatabase):
        database.close()
    return saved - started, fetched - saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--values", type=int, default=3, help="values per key")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", help="where to put the databases (default: the temp dir)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--output", default=str(RESULTS), help="where to write the results")
    args = parser.parse_args()
    if args.quick:
        args.keys, args.rounds = 1_000, 2
    work = workload(args.keys, args.values, seed=1)
    per_key: dict[str, list[float]] = {MEMKV: [], DIRECTORY: []}
    per_save: dict[str, list[float]] = {MEMKV: [], DIRECTORY: []}
    per_fetch: dict[str, list[float]] = {MEMKV: [], DIRECTORY: []}
    saves = args.keys * args.values
    with workdir(args.dir) as directory:
        for round_number in range(args.rounds):
            databases: dict[str, ExampleDatabase] = {
                MEMKV: MemkvExampleDatabase(directory / f"memkv-{round_number}"),
                DIRECTORY: DirectoryBasedExampleDatabase(directory / f"files-{round_number}"),
            }
            for name, database in databases.items():
                save_time, fetch_time = run(database, work)
                per_key[name].append((save_time + fetch_time) / args.keys)
                per_save[name].append(save_time / saves)
                per_fetch[name].append(fetch_time / args.keys)
            print(f"round {round_number + 1}/{args.rounds} done", flush=True)
    name = f"{args.keys:,} keys x {args.values} values"
    figures = {
        f"save + fetch, per key ({name})": per_key,
        "save, per value": per_save,
        "fetch, per key": per_fetch,
    }
    targets = {f"save + fetch, per key ({name})": Target(MEMKV, DIRECTORY, "speedup", 5.0)}
    command = "python benchmarks/bench_hypothesis_db.py" + (" --quick" if args.quick else "")
    report(
        "hypothesis_db",
        command,
        figures,
        targets,
        Path(args.output),
        notes=f"Each figure: the median of {args.rounds} rounds on fresh directories.",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
