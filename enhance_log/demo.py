"""The enhance_log part of ``memkv demo``."""

from __future__ import annotations

import memkv
from enhance_log.errors import EnhanceLogConflict
from enhance_log.store import MemoryEnhanceLogStore
from enhance_log.types import EnhanceLogEntry, VerdictSummary

TITLE = "enhance_log: one immutable entry per enhance invocation"


def run(memory: memkv.Memory) -> None:
    log = MemoryEnhanceLogStore(memory)
    applied = EnhanceLogEntry(
        issue_id="ISSUE-101",
        blueprint_id="bp-fetch",
        prev_hash="a1" * 8,
        new_hash="b2" * 8,
        intent="retry the fetch step three times",
        rationale="all verifier axes passed",
        verdicts=(VerdictSummary(axis="des", status="pass", detail="schema ok"),),
        status="applied",
        reasons=(),
        ts_ms=1_700_000_000_000,
    )
    rejected = EnhanceLogEntry(
        issue_id="ISSUE-102",
        blueprint_id="bp-fetch",
        prev_hash="b2" * 8,
        new_hash="",
        intent="drop the timeout",
        rationale="the noop axis denied it",
        verdicts=(VerdictSummary(axis="noop", status="deny", detail="no behaviour change"),),
        status="rejected",
        reasons=("noop: no behaviour change",),
        ts_ms=1_700_000_000_000,  # the same millisecond: listed in append order
    )
    log.append(applied)
    log.append(rejected)
    try:
        log.append(applied)
    except EnhanceLogConflict as exc:
        print(f"   append-only: {exc}")
    for entry in log.list_by_blueprint("bp-fetch"):
        print(f"   {entry.issue_id} {entry.status:<8} {entry.intent!r} {list(entry.reasons)}")
    print(f"   get('ISSUE-102').rationale = {log.get('ISSUE-102').rationale!r}")
