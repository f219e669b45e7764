"""The end-to-end demo (``memkv demo`` / ``make demo``): an agent's memory on a real
LMDB store, printing what it stores and what it reads back."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import tempfile
from importlib.metadata import entry_points
from pathlib import Path
from typing import Final

import msgspec

import memkv
import memkv.aio
from memkv.keys import pack, render_key

DEMOS_GROUP: Final = "memkv.demos"  # entry points: modules with TITLE and run(memory)


class Preference(msgspec.Struct, frozen=True, kw_only=True):
    topic: str
    value: str
    confidence: float


def run_demo(parent: str | os.PathLike[str] | None = None) -> int:
    """Run the demo on a new store in ``parent`` (a new temporary directory if
    ``None``), so that it runs again on the same ``parent``: see `new_store_directory`."""
    directory = new_store_directory(
        Path(parent) if parent is not None else Path(tempfile.mkdtemp(prefix="memkv-demo-"))
    )
    logging.basicConfig(format="   (log) %(name)s: %(message)s", level=logging.WARNING)
    print(f"== memkv demo: an agent's memory in {directory}\n")
    with memkv.open(directory) as mem:
        _core_memories(mem)
        _session_notes(mem)
        _transactions(mem)
        _group_commit(mem)
        _domain_packages(mem)
    print("\n== reopening the store: everything above is on disk")
    with memkv.open(directory, readonly=True) as mem:
        print(f"   {mem.count()} entries; categories {mem.categories()}; sessions {mem.sessions()}")
        print(f"   consistency check: {mem.verify() or 'indexes agree with entries'}")
        figures = mem.backend.stats()
        print(f"   {figures['size_on_disk']} bytes on disk")
    print(f"\nLook inside: memkv stats {directory}  |  memkv list {directory} --category core")
    return 0


def new_store_directory(parent: Path) -> Path:
    """A new, empty directory for a store: ``parent/store-N``, N the first number not
    taken (``parent`` is created if absent).

    Raises:
        OSError: ``parent`` cannot be created or written.
    """
    parent.mkdir(parents=True, exist_ok=True)
    for number in itertools.count(1):
        directory = parent / f"store-{number}"
        try:
            directory.mkdir(mode=0o700)  # atomic: a demo running beside takes another
        except FileExistsError:
            continue
        return directory
    raise AssertionError("unreachable")


def _core_memories(mem: memkv.Memory) -> None:
    print("-- core memories (upsert with store, create-only with insert)")
    show("stored", mem.store("user/name", "Ada Lovelace", category=memkv.CORE))
    preference = Preference(topic="answers", value="concise", confidence=0.9)
    show("stored", mem.store("user/preference/answers", preference, category=memkv.CORE))
    try:
        mem.insert("user/name", "someone else")
    except memkv.Conflict as exc:
        print(f"   insert refused, as promised: {exc}")
    entry = mem.get("user/preference/answers", type=Preference)
    assert entry is not None
    print(f"   read back as a {type(entry.content).__name__}: {entry.content}")


def _session_notes(mem: memkv.Memory) -> None:
    print("\n-- daily notes and conversation turns, by session")
    for turn, text in enumerate(["Hi! Plan my week?", "Mon: review PRs", "Fri: ship v1"], start=1):
        mem.store(
            pack(("chat", "s-42", turn)), text, category=memkv.CONVERSATION, session_id="s-42"
        )
    mem.store(
        "note/2026-11-23", "Agreed to ship on Friday", category=memkv.DAILY, session_id="s-42"
    )
    for entry in mem.list(session_id="s-42"):
        print(f"   {render_key(entry.key):<32} [{entry.category}] {entry.content}")
    print(f"   count(session s-42) = {mem.count(session_id='s-42')}")
    page = mem.list(memkv.CONVERSATION, limit=2)
    after = mem.list(memkv.CONVERSATION, limit=2, after=page[-1].key)
    first, second = [e.content for e in page], [e.content for e in after]
    print(f"   paging conversation 2 at a time: {first} then {second}")


def _transactions(mem: memkv.Memory) -> None:
    print("\n-- transactions are functions: all or nothing")

    def promote(tx: memkv.Transaction) -> int:
        note = tx.get("note/2026-11-23")
        assert note is not None
        tx.store("fact/ship-date", note.content, category=memkv.CORE)
        tx.forget("note/2026-11-23")
        return tx.count(memkv.CORE)

    print(f"   promoted a daily note to a core fact; core now has {mem.transact(promote)} entries")

    def failing(tx: memkv.Transaction) -> None:
        tx.store("fact/oops", "half-written")
        raise RuntimeError("the agent changed its mind")

    try:
        mem.transact(failing)
    except RuntimeError as exc:
        print(f"   a transaction that raised ({exc}) left nothing: get -> {mem.get('fact/oops')}")


def _group_commit(mem: memkv.Memory) -> None:
    print("\n-- asyncio: 64 sessions writing at once share commits (memkv.aio)")
    amem = memkv.aio.AsyncMemory(mem)

    async def sessions() -> int:
        before = mem.backend.commit_id()
        turns = [amem.store(pack(("turn", n)), n, memkv.CONVERSATION) for n in range(64)]
        await asyncio.gather(*turns)
        return mem.backend.commit_id() - before

    commits = asyncio.run(sessions())
    print(f"   64 durable stores, each awaited until on disk, took {commits} commit(s)")


def _domain_packages(mem: memkv.Memory) -> None:
    """Each package installed beside memkv that registers a demo (the entry points
    of `DEMOS_GROUP`: sop_audit, enhance_log, run_log, job_journal, audit_outbox)
    shows itself on the same store."""
    for entry_point in entry_points(group=DEMOS_GROUP):
        demo = entry_point.load()
        print(f"\n-- {demo.TITLE}")
        demo.run(mem)


def show(action: str, entry: memkv.MemoryEntry[object]) -> None:
    key = render_key(entry.key)
    print(f"   {action} {key} [{entry.category}] id={entry.id[:12]}…: {entry.content}")
