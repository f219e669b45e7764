"""Recall benchmark: memkv's keyword recall (BM25) beside SQLite FTS5 and rank-bm25 on
the same generated corpus, in the same run; and what keeping the recall index costs a
write.

    .venv/bin/python benchmarks/bench_recall.py           # 100,000 memories, 1,000 queries
    .venv/bin/python benchmarks/bench_recall.py --big     # and 1,000,000 beside FTS5 (long)
    .venv/bin/python benchmarks/bench_recall.py --quick   # a smoke run (5,000 memories)

Writes ``benchmarks/results/recall.md`` (every figure), ``recall-summary.md`` (the
targets), ``recall.json`` and ``recall.png`` (the write-cost ratios against their targets).

The corpus: memories of 12 to 40 words drawn from a Zipf distribution (exponent 1) over
20,000 made-up words, stored at ``mem/0000000``, ``mem/0000001``...; queries of 2 to 5
distinct words from the same distribution. Fixed seeds: every run makes the same corpus
and queries. As in real text, most queries hold a word that most memories contain, so
ranking a query touches much of the corpus.

The systems, each indexing the same text (the key, then the content):

* memkv: ``Memory.recall(query, limit=10)`` on a store filled in transactions of 1,000
  entries, durable (the default);
* SQLite FTS5 (the stdlib sqlite3): ``fts5(key UNINDEXED, body)``, tokenizer unicode61,
  WAL with ``synchronous=FULL``, filled in transactions of 1,000 rows. A query is its
  words, each quoted as an FTS5 string (no query syntax), OR-joined, ranked by
  ``bm25()``: ``ORDER BY rank, rowid LIMIT 10``. The rowid breaks ties by key, as memkv
  does; it also makes SQLite keep only the top 10 as it goes, where ``ORDER BY rank``
  alone has FTS5 sort every match (1.6x slower in a run at 100,000 memories): the
  faster form is the anchor;
* rank-bm25: ``BM25Okapi`` with memkv's k1 and b, on the lowercased ``\\w+`` tokens; the
  top 10 of ``get_scores`` (ties by key). It scores every memory for every query, so it
  answers only the first ``--bm25-queries`` queries, and it is left out of ``--big``.

All three rank by BM25 (k1 = 1.2, b = 0.75) but differ in idf: memkv's
ln(1 + (N - df + 0.5) / (df + 0.5)) is always positive; FTS5 and rank-bm25 take
ln((N - df + 0.5) / (df + 0.5)) and floor it (at 1e-6; at a quarter of the mean idf) for
words in more than half of the memories. The top-10 overlaps show what that changes.

Latency: each query is timed alone, the systems taking turns query by query, after a
warm-up on the first 5% of the queries. Write cost: durable single stores of a 30-word
memory, then 1,000-entry transactions, alternating between the filled store and a store
filled alike but opened without the recall index (`NO_RECALL_INDEX`).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.metadata
import itertools
import platform
import random
import re
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Final

import lmdb
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import memkv
from benchmarks.common import RESULTS, Target, format_time, interleaved, percentiles, plot, workdir

NO_RECALL_INDEX: Final[dict[str, Any]] = {"recall": False}
"""The `memkv.open` keywords of a store that keeps no recall index."""

VOCABULARY: Final = 20_000  # made-up words
ZIPF_EXPONENT: Final = 1.0  # a word's weight is 1 / rank**ZIPF_EXPONENT
MEMORY_WORDS: Final = (12, 40)  # words per memory, inclusive
QUERY_WORDS: Final = (2, 5)  # distinct words per query, inclusive
WRITE_WORDS: Final = 30  # words of a memory stored in the write-cost benchmarks
BATCH: Final = 1_000  # entries (rows) per transaction, filling and in the batch benchmark
LIMIT: Final = 10  # results per query
K1: Final = 1.2  # BM25 parameters: memkv's and FTS5's (rank-bm25 is given them)
B: Final = 0.75
CATEGORY: Final = "note"
BIG: Final = 1_000_000  # memories of the --big run

MEMKV: Final = "memkv"
MEMKV_PLAIN: Final = "memkv, no recall index"
FTS5: Final = "SQLite FTS5"
RANK_BM25: Final = "rank-bm25"

SINGLE_STORE: Final = "durable single store"
BATCH_STORE: Final = "1,000 stores in one transaction (per record)"
TARGETS: Final = {
    SINGLE_STORE: Target(MEMKV, MEMKV_PLAIN, "slowdown", 1.25),
    BATCH_STORE: Target(MEMKV, MEMKV_PLAIN, "slowdown", 3.0),
}

Search = Callable[[str], list[str]]  # a query -> the keys of its top results, best first


# -- the corpus ------------------------------------------------------------------------


def key_of(i: int) -> str:
    return f"mem/{i:07d}"


def made_up_words(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct pronounceable lowercase words (2 to 4 syllables)."""
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    found: dict[str, None] = {}
    while len(found) < count:
        found["".join(rng.choices(syllables, k=rng.randint(2, 4)))] = None
    return list(found)


class Zipf:
    """Words drawn with a probability proportional to 1 / rank**`ZIPF_EXPONENT`, the
    first word ranking 1."""

    def __init__(self, vocabulary: list[str]) -> None:
        self.words = vocabulary
        weights = (1 / rank**ZIPF_EXPONENT for rank in range(1, len(vocabulary) + 1))
        self.cum_weights = list(itertools.accumulate(weights))

    def text(self, rng: random.Random, count: int) -> str:
        """``count`` words (repeats possible), space-separated."""
        return " ".join(rng.choices(self.words, cum_weights=self.cum_weights, k=count))

    def distinct(self, rng: random.Random, count: int) -> str:
        """``count`` distinct words, space-separated."""
        chosen: dict[str, None] = {}
        while len(chosen) < count:
            chosen[rng.choices(self.words, cum_weights=self.cum_weights)[0]] = None
        return " ".join(chosen)


def memories(zipf: Zipf, count: int, seed: int) -> list[str]:
    """The contents of the corpus: memory ``i`` is stored at ``key_of(i)``."""
    rng = random.Random(f"{seed}/memories")
    return [zipf.text(rng, rng.randint(*MEMORY_WORDS)) for _ in range(count)]


def queries(zipf: Zipf, count: int, seed: int) -> list[str]:
    rng = random.Random(f"{seed}/queries")
    return [zipf.distinct(rng, rng.randint(*QUERY_WORDS)) for _ in range(count)]


def spans(count: int) -> Iterator[range]:
    """The numbers of the memories of a corpus of ``count``, `BATCH` at a time."""
    for start in range(0, count, BATCH):
        yield range(start, min(count, start + BATCH))


def indexed_text(i: int, texts: list[str]) -> str:
    """What every system indexes for memory ``i``: its key, then its content."""
    return f"{key_of(i)} {texts[i]}"


def words(text: str) -> list[str]:
    """The anchors' tokens: lowercased ``\\w+`` runs (memkv's tokens, for this corpus)."""
    return re.findall(r"\w+", text.lower())


def query_words(query: str) -> list[str]:
    """The distinct words of a query, in order (memkv scores each term once)."""
    return list(dict.fromkeys(words(query)))


# -- the systems -----------------------------------------------------------------------


def fill_memkv(mem: memkv.Memory, texts: list[str]) -> None:
    """Store the corpus, one transaction per `BATCH` entries."""
    for span in spans(len(texts)):
        mem.transact(functools.partial(store_batch, [(key_of(i), texts[i]) for i in span]))


def store_batch(batch: list[tuple[str, str]], tx: memkv.Transaction) -> None:
    for key, content in batch:
        tx.store(key, content, CATEGORY)


def memkv_search(mem: memkv.Memory) -> Search:
    def search(query: str) -> list[str]:
        return [entry.key for entry in mem.recall(query, limit=LIMIT)]

    return search


def fts5_string(word: str) -> str:
    """``word`` as an FTS5 string: matched as a term, never read as query syntax."""
    return '"' + word.replace('"', '""') + '"'


class Fts5:
    """SQLite FTS5, durable like memkv's default (WAL, ``synchronous=FULL``)."""

    SEARCH = "SELECT key, body FROM memories WHERE memories MATCH ? ORDER BY rank, rowid LIMIT ?"

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(
            "CREATE VIRTUAL TABLE memories USING fts5(key UNINDEXED, body, tokenize='unicode61')"
        )

    def fill(self, texts: list[str]) -> None:
        """Insert the corpus (rowid ``i`` for memory ``i``), `BATCH` rows per transaction."""
        for span in spans(len(texts)):
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT INTO memories (rowid, key, body) VALUES (?, ?, ?)",
                [(i, key_of(i), indexed_text(i, texts)) for i in span],
            )
            self.db.execute("COMMIT")

    def search(self, query: str) -> list[str]:
        match = " OR ".join(fts5_string(word) for word in query_words(query))
        return [key for key, _ in self.db.execute(self.SEARCH, (match, LIMIT))]

    def close(self) -> None:
        self.db.close()


class RankBm25:
    """rank-bm25's ``BM25Okapi`` over the whole corpus, held in memory."""

    def __init__(self, texts: list[str]) -> None:
        from rank_bm25 import BM25Okapi

        self.model = BM25Okapi(
            [words(indexed_text(i, texts)) for i in range(len(texts))], k1=K1, b=B
        )

    def search(self, query: str) -> list[str]:
        import numpy

        scores = self.model.get_scores(query_words(query))
        best = numpy.argsort(-scores, kind="stable")[:LIMIT]  # stable: ties by key
        return [key_of(int(i)) for i in best if scores[i] > 0]


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@dataclass
class Systems:
    """The systems filled with one corpus, and the seconds each took to build."""

    indexed: memkv.Memory
    fts5: Fts5
    rank_bm25: RankBm25 | None = None
    plain: memkv.Memory | None = None  # memkv without the recall index
    build_seconds: dict[str, float] = field(default_factory=dict)

    def close(self) -> None:
        self.indexed.close()
        self.fts5.close()
        if self.plain is not None:
            self.plain.close()


def build(directory: Path, texts: list[str], *, plain: bool, bm25: bool) -> Systems:
    """Fill memkv and FTS5 (and, if asked, memkv without the index and rank-bm25)."""
    directory.mkdir(parents=True, exist_ok=True)
    mem = memkv.open(directory / "memkv")
    fts5 = Fts5(directory / "fts5.db")
    systems = Systems(mem, fts5)
    print(f"filling memkv with {len(texts):,} memories ...", flush=True)
    systems.build_seconds[MEMKV] = seconds(lambda: fill_memkv(mem, texts))
    if plain:
        print("filling memkv without the recall index ...", flush=True)
        unindexed = systems.plain = memkv.open(directory / "memkv-plain", **NO_RECALL_INDEX)
        systems.build_seconds[MEMKV_PLAIN] = seconds(lambda: fill_memkv(unindexed, texts))
    print("filling SQLite FTS5 ...", flush=True)
    systems.build_seconds[FTS5] = seconds(lambda: fts5.fill(texts))
    if bm25:
        systems.rank_bm25 = build_rank_bm25(texts, systems.build_seconds)
    return systems


def build_rank_bm25(texts: list[str], build_seconds: dict[str, float]) -> RankBm25 | None:
    """rank-bm25's model of the corpus (its build time into ``build_seconds``), or
    ``None`` if the package is not installed."""
    if find_spec("rank_bm25") is None:
        print("rank-bm25 is not installed (pip install -e '.[bench]'): skipped", file=sys.stderr)
        return None
    print("building rank-bm25's model ...", flush=True)
    start = time.perf_counter()
    model = RankBm25(texts)
    build_seconds[RANK_BM25] = time.perf_counter() - start
    return model


# -- the measurements ------------------------------------------------------------------


class Timing(msgspec.Struct, frozen=True, kw_only=True):
    """Percentiles of one system's samples, in milliseconds."""

    samples: int
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float

    @classmethod
    def of(cls, times: list[float]) -> Timing:
        stats = percentiles(times)
        return cls(
            samples=len(times),
            mean_ms=statistics.fmean(times) * 1e3,
            p50_ms=stats["p50"] * 1e3,
            p90_ms=stats["p90"] * 1e3,
            p99_ms=stats["p99"] * 1e3,
        )


class RecallRun(msgspec.Struct, frozen=True, kw_only=True):
    """Recall on one corpus: build times, latency per query, agreement with memkv."""

    memories: int
    build_seconds: dict[str, float]
    latency: dict[str, Timing]  # per query, by system
    memkv_over_fts5: dict[str, float]  # latency ratios: {"p50": ..., "p99": ...}
    top10_overlap: dict[str, float]  # by anchor: mean |memkv's top 10 ∩ its top 10| / 10


def time_queries(
    searches: dict[str, Search], queries: list[str]
) -> tuple[dict[str, list[float]], dict[str, list[list[str]]]]:
    """Seconds per query and the keys found, by system; the systems take turns query by
    query, after a warm-up on the first 5% of the queries."""
    for query in queries[: max(1, len(queries) // 20)]:
        for search in searches.values():
            search(query)
    times: dict[str, list[float]] = {name: [] for name in searches}
    found: dict[str, list[list[str]]] = {name: [] for name in searches}
    clock = time.perf_counter
    for query in queries:
        for name, search in searches.items():
            start = clock()
            keys = search(query)
            times[name].append(clock() - start)
            found[name].append(keys)
    return times, found


def overlap(ours: list[list[str]], theirs: list[list[str]]) -> float:
    """The mean share of a top 10 that both lists hold, over the queries ``theirs``
    answered (its first ones): |ours ∩ theirs| / 10, or over the longer list when both
    are shorter; 1 when both are empty."""
    shares = [
        len(set(a) & set(b)) / max(len(a), len(b)) if a or b else 1.0
        for a, b in zip(ours[: len(theirs)], theirs, strict=True)
    ]
    return statistics.fmean(shares)


def measure_recall(systems: Systems, queries: list[str], bm25_queries: int) -> RecallRun:
    """The queries on memkv and FTS5, and the first ``bm25_queries`` on rank-bm25 (if
    built): their latency and how far each anchor's top 10 agrees with memkv's."""
    print(f"recall: {len(queries):,} queries, memkv and FTS5 taking turns ...", flush=True)
    times, found = time_queries(
        {MEMKV: memkv_search(systems.indexed), FTS5: systems.fts5.search}, queries
    )
    if systems.rank_bm25 is not None:
        print(f"recall: rank-bm25 on the first {bm25_queries:,} queries ...", flush=True)
        bm25_times, bm25_found = time_queries(
            {RANK_BM25: systems.rank_bm25.search}, queries[:bm25_queries]
        )
        times |= bm25_times
        found |= bm25_found
    latency = {name: Timing.of(samples) for name, samples in times.items()}
    return RecallRun(
        memories=systems.indexed.count(),
        build_seconds=systems.build_seconds,
        latency=latency,
        memkv_over_fts5={
            "p50": latency[MEMKV].p50_ms / latency[FTS5].p50_ms,
            "p99": latency[MEMKV].p99_ms / latency[FTS5].p99_ms,
        },
        top10_overlap={
            name: overlap(found[MEMKV], keys) for name, keys in found.items() if name != MEMKV
        },
    )


class WriteCost(msgspec.Struct, frozen=True, kw_only=True):
    """One write benchmark, memkv with the recall index against memkv without it."""

    with_index: Timing
    without_index: Timing
    ratio: float  # p50 with / p50 without
    mean_ratio: float  # mean with / mean without: segments are made now and then
    goal: float
    met: bool  # by both ratios


def write_cost(name: str, times: dict[str, list[float]]) -> WriteCost:
    target = TARGETS[name]
    with_index, without_index = Timing.of(times[MEMKV]), Timing.of(times[MEMKV_PLAIN])
    ratio = target.ratio(with_index.p50_ms, without_index.p50_ms)
    mean_ratio = target.ratio(with_index.mean_ms, without_index.mean_ms)
    return WriteCost(
        with_index=with_index,
        without_index=without_index,
        ratio=ratio,
        mean_ratio=mean_ratio,
        goal=target.goal,
        met=target.met(ratio) and target.met(mean_ratio),
    )


def calls_per_contender(samples: int) -> int:
    """How many times `interleaved` calls each contender for ``samples`` samples of one
    call: its warm-up, then the samples."""
    return max(1, samples // 20) + samples


def single_store_times(
    stores: dict[str, memkv.Memory], texts: list[str], samples: int
) -> dict[str, list[float]]:
    """Seconds per durable ``store`` of a new key, the stores alternating store by
    store; each stores ``texts`` in turn (one per call)."""

    def storer(mem: memkv.Memory) -> Callable[[], object]:
        pending = enumerate(texts)

        def store() -> None:
            i, text = next(pending)
            mem.store(f"single/{i:07d}", text, CATEGORY)

        return store

    return interleaved({name: storer(mem) for name, mem in stores.items()}, samples, samples)


def batch_times(
    stores: dict[str, memkv.Memory], texts: list[str], samples: int
) -> dict[str, list[float]]:
    """Seconds per record of a durable transaction storing `BATCH` new keys, the stores
    alternating batch by batch; each stores ``texts`` in turn (`BATCH` per call)."""
    prepared = [
        [(f"batch/{n:04d}/{i:04d}", texts[n * BATCH + i]) for i in range(BATCH)]
        for n in range(len(texts) // BATCH)
    ]

    def writer(mem: memkv.Memory) -> Callable[[], object]:
        pending = iter(prepared)
        return lambda: mem.transact(functools.partial(store_batch, next(pending)))

    per_batch = interleaved({name: writer(mem) for name, mem in stores.items()}, samples, samples)
    return {name: [t / BATCH for t in times] for name, times in per_batch.items()}


def measure_writes(
    systems: Systems, zipf: Zipf, seed: int, singles: int, batch_count: int
) -> dict[str, WriteCost]:
    """The write costs, into the filled stores (with and without the recall index):
    both store the same new memories of `WRITE_WORDS` words, in the same order."""
    assert systems.plain is not None
    stores = {MEMKV: systems.indexed, MEMKV_PLAIN: systems.plain}
    rng = random.Random(f"{seed}/writes")
    single_texts = [zipf.text(rng, WRITE_WORDS) for _ in range(calls_per_contender(singles))]
    batch_texts = [
        zipf.text(rng, WRITE_WORDS) for _ in range(calls_per_contender(batch_count) * BATCH)
    ]
    print(f"write cost: {singles} single stores each, alternating ...", flush=True)
    single = write_cost(SINGLE_STORE, single_store_times(stores, single_texts, singles))
    print(f"write cost: {batch_count} batches of {BATCH:,} each, alternating ...", flush=True)
    batch = write_cost(BATCH_STORE, batch_times(stores, batch_texts, batch_count))
    return {SINGLE_STORE: single, BATCH_STORE: batch}


# -- the report ------------------------------------------------------------------------


class Workload(msgspec.Struct, frozen=True, kw_only=True):
    """What was run: the corpus, the queries and the write benchmarks."""

    memories: int
    queries: int
    rank_bm25_queries: int  # the first ones: rank-bm25 answers no more
    vocabulary: int
    zipf_exponent: float
    memory_words: tuple[int, int]
    query_words: tuple[int, int]
    batch: int
    limit: int
    seed: int
    single_stores: int  # per store, in the write cost
    write_batches: int


class Results(msgspec.Struct, frozen=True, kw_only=True):
    """The contents of ``recall.json``."""

    command: str
    machine: dict[str, str]
    workload: Workload
    recall: list[RecallRun]  # the default corpus, then the --big one
    write_cost: dict[str, WriteCost]


def machine() -> dict[str, str]:
    versions = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "lmdb": lmdb.__version__,
        "msgspec": msgspec.__version__,
        "sqlite": sqlite3.sqlite_version,
    }
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        versions["rank-bm25"] = importlib.metadata.version("rank-bm25")
    return versions


def ms(value: float) -> str:
    return format_time(value / 1e3)


def duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds >= 1 else format_time(seconds)


def recall_table(results: Results) -> list[str]:
    lines = [
        "| memories | system | build | recall p50 | p90 | p99 | queries "
        "| memkv / this (p50, p99) | top-10 overlap with memkv |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in results.recall:
        for name in (MEMKV, MEMKV_PLAIN, FTS5, RANK_BM25):
            if name not in run.build_seconds:
                continue
            build_cell = duration(run.build_seconds[name])
            timing = run.latency.get(name)
            if timing is None:  # memkv without the index: built for the write cost only
                lines.append(f"| {run.memories:,} | {name} | {build_cell} | | | | | | |")
                continue
            ratio = overlap_cell = ""
            if name != MEMKV:
                mine = run.latency[MEMKV]
                ratio = f"{mine.p50_ms / timing.p50_ms:.2f}x, {mine.p99_ms / timing.p99_ms:.2f}x"
                overlap_cell = f"{run.top10_overlap[name]:.3f}"
            lines.append(
                f"| {run.memories:,} | {name} | {build_cell} | {ms(timing.p50_ms)} | "
                f"{ms(timing.p90_ms)} | {ms(timing.p99_ms)} | {timing.samples:,} | {ratio} | "
                f"{overlap_cell} |"
            )
    return lines


def write_table(results: Results) -> list[str]:
    lines = [
        "| benchmark | with index p50 | without p50 | with index mean | without mean "
        "| with index p99 | without p99 | samples each | ratio (p50) | ratio (mean) "
        "| target | met (both ratios) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|",
    ]
    for name, cost in results.write_cost.items():
        lines.append(
            f"| {name} | {ms(cost.with_index.p50_ms)} | {ms(cost.without_index.p50_ms)} | "
            f"{ms(cost.with_index.mean_ms)} | {ms(cost.without_index.mean_ms)} | "
            f"{ms(cost.with_index.p99_ms)} | {ms(cost.without_index.p99_ms)} | "
            f"{cost.with_index.samples:,} | {cost.ratio:.2f}x | {cost.mean_ratio:.2f}x | "
            f"<= {cost.goal}x | {'yes' if cost.met else '**no**'} |"
        )
    return lines


def full_report(results: Results) -> str:
    """``recall.md``: every figure, and what was run."""
    work = results.workload
    return "\n".join(
        [
            f"Command: `{results.command}`",
            "",
            f"{work.memories:,} memories of {work.memory_words[0]}-{work.memory_words[1]} "
            f"words (Zipf, exponent {work.zipf_exponent:g}, over {work.vocabulary:,} made-up "
            f"words); {work.queries:,} queries of {work.query_words[0]}-{work.query_words[1]} "
            f"distinct words; top {work.limit}; seed {work.seed}. Recall latency per query; "
            f"build: filling each system ({work.batch:,} entries per transaction; rank-bm25: "
            "tokenising and its model). rank-bm25 scores every memory for every query: it "
            f"answered only the first {work.rank_bm25_queries:,} queries, and its overlap is "
            "over those.",
            "",
            *recall_table(results),
            "",
            "Write cost: durable writes into the filled store, with the recall index and "
            "without it, alternating.",
            "",
            *write_table(results),
        ]
    )


def summary_report(results: Results) -> str:
    """``recall-summary.md``: the targets, and memkv's recall latency beside FTS5's."""
    lines = [
        "| benchmark | subject p50 | anchor p50 | ratio | target | met |",
        "|---|---:|---:|---:|---:|:-:|",
    ]
    for name, cost in results.write_cost.items():
        lines.append(
            f"| {name} | {ms(cost.with_index.p50_ms)} ({MEMKV}) | "
            f"{ms(cost.without_index.p50_ms)} ({MEMKV_PLAIN}) | {cost.ratio:.2f}x (time ratio; "
            f"{cost.mean_ratio:.2f}x of the means) | <= {cost.goal}x | "
            f"{'yes' if cost.met else '**no**'} |"
        )
    for run in results.recall:
        ratio = run.memkv_over_fts5["p50"]
        lines.append(
            f"| recall, {run.memories:,} memories (per query) | "
            f"{ms(run.latency[MEMKV].p50_ms)} ({MEMKV}) | {ms(run.latency[FTS5].p50_ms)} "
            f"({FTS5}) | {ratio:.2f}x (time ratio) | <= 1.0x (goal 0.5x) | "
            f"{'yes' if ratio <= 1.0 else '**no**'} |"
        )
        agreement = run.top10_overlap[FTS5]
        lines.append(
            f"| top-10 overlap with {FTS5}, {run.memories:,} memories | {agreement:.3f} | | | "
            f">= 0.95 | {'yes' if agreement >= 0.95 else '**no**'} (idf differs: see above) |"
        )
    return "\n".join(lines)


def write_report(output: Path, results: Results) -> None:
    """Write ``recall.md``, ``recall-summary.md``, ``recall.json`` and ``recall.png``
    into ``output``; print the tables."""
    output.mkdir(parents=True, exist_ok=True)
    full, summary = full_report(results), summary_report(results)
    (output / "recall.md").write_text(full + "\n")
    (output / "recall-summary.md").write_text(summary + "\n")
    encoded = msgspec.json.format(msgspec.json.encode(results), indent=2)
    (output / "recall.json").write_bytes(encoded + b"\n")
    ratios = {
        name: {"ratio": cost.ratio, "met": cost.met} for name, cost in results.write_cost.items()
    }
    plot(
        {"benchmarks": ratios},
        TARGETS,
        output / "recall.png",
        title="recall: write cost of the recall index, same run",
    )
    print("\n" + full + "\n\n" + summary)


# -- the run ---------------------------------------------------------------------------


def run_default(
    directory: Path, zipf: Zipf, asked: list[str], args: argparse.Namespace
) -> tuple[RecallRun, dict[str, WriteCost]]:
    """Recall on the ``--docs`` corpus, then the write costs into its stores."""
    texts = memories(zipf, args.docs, args.seed)
    systems = build(directory, texts, plain=True, bm25=args.bm25_queries > 0)
    try:
        run = measure_recall(systems, asked, args.bm25_queries)
        writes = measure_writes(systems, zipf, args.seed, args.single_stores, args.batches)
    finally:
        systems.close()
    return run, writes


def run_big(directory: Path, zipf: Zipf, asked: list[str], size: int, seed: int) -> RecallRun:
    """Recall on a corpus of ``size`` memories, memkv beside FTS5 only."""
    texts = memories(zipf, size, seed)
    systems = build(directory, texts, plain=False, bm25=False)
    try:
        return measure_recall(systems, asked, 0)
    finally:
        systems.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=100_000, help="memories (default 100k)")
    parser.add_argument("--queries", type=int, default=1000, help="(default 1,000)")
    parser.add_argument(
        "--bm25-queries", type=int, default=200, help="the first ones, for rank-bm25 (default 200)"
    )
    parser.add_argument("--single-stores", type=int, default=1000, help="per store")
    parser.add_argument("--batches", type=int, default=20, help="1,000-entry batches per store")
    parser.add_argument("--big", action="store_true", help=f"also recall at {BIG:,} memories")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", help="where to put the stores (default: the temp dir)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--output", default=str(RESULTS), help="where to write the results")
    args = parser.parse_args()
    big = BIG
    if args.quick:
        args.docs, args.queries, args.bm25_queries = 5_000, 100, 50
        args.single_stores, args.batches, big = 40, 4, 20_000
    zipf = Zipf(made_up_words(VOCABULARY, random.Random(f"{args.seed}/words")))
    asked = queries(zipf, args.queries, args.seed)
    with workdir(args.dir) as directory:
        run, writes = run_default(directory / "default", zipf, asked, args)
        runs = [run]
        if args.big:
            runs.append(run_big(directory / "big", zipf, asked, big, args.seed))
    workload = Workload(
        memories=args.docs,
        queries=args.queries,
        rank_bm25_queries=min(args.bm25_queries, args.queries),
        vocabulary=VOCABULARY,
        zipf_exponent=ZIPF_EXPONENT,
        memory_words=MEMORY_WORDS,
        query_words=QUERY_WORDS,
        batch=BATCH,
        limit=LIMIT,
        seed=args.seed,
        single_stores=args.single_stores,
        write_batches=args.batches,
    )
    command = " ".join(["python benchmarks/bench_recall.py", *sys.argv[1:]])
    results = Results(
        command=command, machine=machine(), workload=workload, recall=runs, write_cost=writes
    )
    write_report(Path(args.output), results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
