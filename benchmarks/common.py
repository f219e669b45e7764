"""What every benchmark script shares: timing, percentiles, and the report (a markdown
table of every system, a summary of the targets, the figures as JSON, and a plot)."""

from __future__ import annotations

import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lmdb
import msgspec

RESULTS = Path(__file__).with_name("results")

Figures = dict[str, dict[str, list[float]]]  # benchmark -> system -> seconds per op


@dataclass(frozen=True)
class Target:
    """A goal for one benchmark: ``subject`` against ``anchor``, both measured in the
    same run. ``speedup``: anchor time / subject time, at least ``goal``;
    ``slowdown``: subject time / anchor time, at most ``goal``."""

    subject: str
    anchor: str
    form: str  # "speedup" or "slowdown"
    goal: float

    def ratio(self, subject_time: float, anchor_time: float) -> float:
        if self.form == "speedup":
            return anchor_time / subject_time
        return subject_time / anchor_time

    def met(self, ratio: float) -> bool:
        return ratio >= self.goal if self.form == "speedup" else ratio <= self.goal

    @property
    def sense(self) -> str:
        return ">=" if self.form == "speedup" else "<="


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    if len(ordered) < 2:
        ordered = ordered * 2
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": statistics.median(ordered), "p90": cut[89], "p99": cut[98], "n": len(samples)}


def timed(
    fn: Callable[[], object],
    samples: int,
    per_sample: int = 1,
    before: Callable[[], object] | None = None,
) -> list[float]:
    """Seconds per operation, one figure per sample of ``per_sample`` calls;
    ``before``: run ahead of each sample, untimed."""
    out = []
    clock = time.perf_counter
    for _ in range(samples):
        if before is not None:
            before()
        start = clock()
        for _ in range(per_sample):
            fn()
        out.append((clock() - start) / per_sample)
    return out


def interleaved(
    contenders: dict[str, Callable[[], object]],
    samples: int,
    rounds: int = 5,
    per_sample: int = 1,
    before: dict[str, Callable[[], object]] | None = None,
) -> dict[str, list[float]]:
    """Run the contenders in turn, ``rounds`` times, after a warm-up, so that drift in
    the machine (page cache, disk) falls on all of them alike; ``before``: per
    contender, what runs ahead of each of its samples, untimed."""
    results: dict[str, list[float]] = {name: [] for name in contenders}
    setups = before or {}
    for name, fn in contenders.items():
        timed(fn, max(1, samples // 20), per_sample, setups.get(name))
    for _ in range(rounds):
        for name, fn in contenders.items():
            results[name] += timed(fn, max(1, samples // rounds), per_sample, setups.get(name))
    return results


@contextmanager
def workdir(base: str | None) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="memkv-bench-", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def format_time(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e9:.0f} ns"


def report(
    name: str,
    command: str,
    figures: Figures,
    targets: dict[str, Target],
    output: Path,
    notes: str = "",
) -> dict[str, Any]:
    """Write ``NAME.md`` (every system), ``NAME-summary.md`` (the targets),
    ``NAME.json`` and ``NAME.png`` into ``output``; print the tables."""
    output.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {
        "command": command,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "lmdb": lmdb.__version__,
            "msgspec": msgspec.__version__,
        },
        "benchmarks": {},
    }
    lines = [
        f"Command: `{command}`",
        "",
        "| benchmark | system | p50 | p90 | p99 | ratio to target's subject |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for bench, by_system in figures.items():
        stats = {system: percentiles(samples) for system, samples in by_system.items()}
        target = targets.get(bench)
        entry: dict[str, Any] = {"stats": stats}
        if target is not None:
            ratio = target.ratio(stats[target.subject]["p50"], stats[target.anchor]["p50"])
            entry |= {
                "target": f"{target.subject} vs {target.anchor}: {target.form} "
                f"{target.sense} {target.goal}",
                "ratio": ratio,
                "met": target.met(ratio),
            }
        summary["benchmarks"][bench] = entry
        for system, s in stats.items():
            ratio_text = ""
            if target is not None and system != target.subject:
                ratio_text = (
                    f"{target.ratio(stats[target.subject]['p50'], s['p50']):.2f}x ({target.form})"
                )
            lines.append(
                f"| {bench} | {system} | {format_time(s['p50'])} | {format_time(s['p90'])} | "
                f"{format_time(s['p99'])} | {ratio_text} |"
            )
    if notes:
        lines += ["", notes]
    full = "\n".join(lines)
    brief = summary_table(summary, targets)
    (output / f"{name}.md").write_text(full + "\n")
    (output / f"{name}-summary.md").write_text(brief + "\n")
    (output / f"{name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(
        summary, targets, output / f"{name}.png", title=f"{name}: ratios against anchors, same run"
    )
    print("\n" + full + "\n\n" + brief)
    return summary


def summary_table(summary: dict[str, Any], targets: dict[str, Target]) -> str:
    lines = [
        "| benchmark | subject p50 | anchor p50 | ratio | target | met |",
        "|---|---:|---:|---:|---:|:-:|",
    ]
    for bench, target in targets.items():
        entry = summary["benchmarks"][bench]
        stats = entry["stats"]
        lines.append(
            f"| {bench} | {format_time(stats[target.subject]['p50'])} ({target.subject}) | "
            f"{format_time(stats[target.anchor]['p50'])} ({target.anchor}) | "
            f"{entry['ratio']:.2f}x ({target.form}) | {target.sense} {target.goal}x | "
            f"{'yes' if entry['met'] else '**no**'} |"
        )
    return "\n".join(lines)


def plot(summary: dict[str, Any], targets: dict[str, Target], path: Path, title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)
        return
    names = list(targets)
    ratios = [summary["benchmarks"][n]["ratio"] for n in names]
    fig, ax = plt.subplots(figsize=(10, 0.8 * len(names) + 1.6))
    colors = ["tab:green" if summary["benchmarks"][n]["met"] else "tab:red" for n in names]
    positions = list(range(len(names)))
    ax.barh(positions, ratios, color=colors)
    for y, name in zip(positions, names, strict=True):
        target = targets[name]
        ax.plot([target.goal, target.goal], [y - 0.4, y + 0.4], color="black", linewidth=2)
        ax.text(target.goal, y + 0.3, f" target {target.sense} {target.goal}", fontsize=7)
    labels = [
        f"{n}\n{targets[n].subject} vs {targets[n].anchor} ({targets[n].form})" for n in names
    ]
    ax.set_yticks(positions, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("ratio (log scale): speedup = anchor time / subject time; slowdown = the inverse")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
