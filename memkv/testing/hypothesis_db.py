"""`MemkvExampleDatabase`: hypothesis's example database in a memkv store.

    from hypothesis import settings
    from memkv.testing.hypothesis_db import MemkvExampleDatabase

    settings.register_profile("memkv", database=MemkvExampleDatabase(".hypothesis/memkv"))

Hypothesis keeps, per test, a set of byte strings (the examples that failed, and
some it learnt from). Here each (key, value) pair is one memory entry, under
``pack(("hypothesis", name, key id, value digest))`` in category ``hypothesis.NAME``,
its content an `Example` (the key and the value themselves). One store serves any
number of processes at once (pytest-xdist workers, several machines' worth of runs
on one host): LMDB serialises their writes.

Writes are written behind: `save`, `delete` and `move` take effect at once for this
process (its `fetch` sees them, its listeners hear them) and reach the store in
batches, one transaction each, at most ``flush_interval`` seconds later, at `flush`,
at `close`, and when the interpreter exits. Hypothesis's contract allows it (the
database is a cache that may drop entries), and a test run saves and deletes
hundreds of values while it shrinks. The store's durability defaults to
``unsynced``, like hypothesis's own directory database: a crash of the process loses
at most the last ``flush_interval``; an OS crash may lose more.

Change listening (`add_listener`) hears this process's changes at once and other
processes' within a fraction of a second: while a listener is registered in the
store, writers also journal their changes in a `memkv.SequenceLog`, which listeners
poll.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Final, Literal

import msgspec
from hypothesis.database import ExampleDatabase, ListenerEventT

import memkv
from memkv import forking
from memkv.keys import check_name, pack
from memkv.options import Durability, check_location
from memkv.seqlog import SequenceLog

log = logging.getLogger("memkv.testing.hypothesis_db")

ROOT: Final = "hypothesis"
LISTENERS_ROOT: Final = "hypothesis.listeners"
MAX_PLAIN_KEY: Final = 80  # longer keys are named by a digest (keys are at most 256 bytes)
MAX_BATCH: Final = 256  # changes per transaction (LMDB slows in big ones)
LISTENER_TTL: Final = 30.0  # seconds a listener's registration lasts without a heartbeat
POLL_INTERVAL: Final = 0.1  # seconds between a listener's looks at the journal
JOURNAL_KEEP: Final = 10_000  # changes kept in the journal


class Example(msgspec.Struct, frozen=True, kw_only=True):
    """What is stored per (key, value): both, as hypothesis gave them."""

    key: bytes
    value: bytes


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """A journalled change, for the listeners of other databases and processes."""

    kind: Literal["save", "delete"]
    key: bytes
    value: bytes
    origin: str  # the database object that made it


class _Op(msgspec.Struct, frozen=True):
    """A change not yet in the store: the pair ends up present or absent."""

    present: bool
    key: bytes
    value: bytes
    version: int


def key_id(key: bytes) -> str:
    """The part of an entry key naming a hypothesis key (hex, or a digest if long)."""
    if len(key) <= MAX_PLAIN_KEY:
        return key.hex()
    return "sha256-" + hashlib.sha256(key).hexdigest()


def value_id(value: bytes) -> str:
    return hashlib.blake2b(value, digest_size=16).hexdigest()


class MemkvExampleDatabase(ExampleDatabase, forking.ChildForkHook):
    """A hypothesis example database at ``path`` (a memkv store directory, created if
    absent), holding the examples under ``name`` (one store may hold several
    databases). See the module docstring for when writes reach the store.

    Raises:
        memkv.InvalidArgument: ``path`` is not a path or is empty (see `memkv.open`),
            a bad ``name`` or option.
        memkv.StoreUnavailable: (when first used) ``path`` cannot hold a store.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        name: str = "examples",
        durability: Durability | str = Durability.UNSYNCED,
        flush_interval: float = 0.05,
    ) -> None:
        super().__init__()
        check_name(name, "example database name")
        if not flush_interval >= 0:
            raise memkv.InvalidArgument(f"flush_interval must be >= 0, not {flush_interval!r}")
        self.path = Path(os.path.expanduser(check_location(path)))  # "" is not "."
        self.name = name
        self.durability = Durability(durability)
        self.flush_interval = flush_interval
        self.category = f"{ROOT}.{name}"
        check_name(self.category, "example database category")
        self._memory: memkv.Memory | None = None
        self._reset()
        _databases.add(self)
        forking.register(self)

    def _reset(self) -> None:
        """Start empty (at creation, and in a forked child: the parent's pending
        changes are the parent's to write, and its threads are not the child's)."""
        self._lock = threading.Lock()  # the pending changes and the overlay
        self._wake = threading.Condition(self._lock)
        self._commit_lock = threading.Lock()  # batches commit one at a time, in order
        self._origin = uuid.uuid4().hex
        self._pending: list[_Op] = []
        self._overlay: dict[bytes, dict[bytes, _Op]] = {}  # key -> value -> latest op
        self._version = 0
        self._flusher: threading.Thread | None = None
        self._listener: threading.Thread | None = None
        self._stop_listener = threading.Event()
        self._closing = False

    def __repr__(self) -> str:
        return f"MemkvExampleDatabase({str(self.path)!r}, name={self.name!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, MemkvExampleDatabase)
            and self.path == other.path
            and self.name == other.name
        )

    def __hash__(self) -> int:
        return hash((self.path, self.name))

    # -- the store -----------------------------------------------------------------------

    @property
    def memory(self) -> memkv.Memory:
        """The store, opened on first use (and again after `close`)."""
        memory = self._memory
        if memory is None or memory.closed:
            memory = self._memory = memkv.open(self.path, durability=self.durability)
        return memory

    def _entry_key(self, key: bytes, value: bytes) -> str:
        return pack((ROOT, self.name, key_id(key), value_id(value)))

    def _journal(self, memory: memkv.Memory) -> SequenceLog[Change]:
        return SequenceLog(memory, self.category, Change)

    # -- hypothesis's interface -----------------------------------------------------------

    def fetch(self, key: bytes) -> Iterable[bytes]:
        """The values saved under ``key`` (in no particular order)."""
        key = bytes(key)
        # The overlay first, then the store: a flush commits a change and only then
        # drops it from the overlay, so a value absent from this copy of the overlay
        # had no change waiting, and the store read after it is up to date for it.
        # (Read the other way round, a flush landing between the two reads would
        # hide its changes from both: values saved or deleted just before would
        # be missing or come back.)
        with self._lock:
            pending = dict(self._overlay.get(key, {}))
        entries = self.memory.list(prefix=pack((ROOT, self.name, key_id(key))), type=Example)
        stored = [entry.content.value for entry in entries if entry.content.key == key]
        if not pending:
            return stored
        values = [value for value in stored if pending.get(value) is None]
        values += [value for value, op in pending.items() if op.present]
        return values

    def save(self, key: bytes, value: bytes) -> None:
        """Add ``value`` to ``key``'s values; saving it twice keeps one."""
        self._change([(True, bytes(key), bytes(value))])

    def delete(self, key: bytes, value: bytes) -> None:
        """Remove ``value`` from ``key``'s values, if it is there."""
        self._change([(False, bytes(key), bytes(value))])

    def move(self, src: bytes, dest: bytes, value: bytes) -> None:
        """Remove ``value`` from ``src`` and add it to ``dest`` (even if it was not in
        ``src``), in one transaction."""
        src, dest, value = bytes(src), bytes(dest), bytes(value)
        if src == dest:
            self.save(src, value)
        else:
            self._change([(False, src, value), (True, dest, value)])

    def _change(self, changes: list[tuple[bool, bytes, bytes]]) -> None:
        events: list[ListenerEventT] = []
        listening = bool(self._listeners)
        with self._lock:
            for present, key, value in changes:
                if self._present(key, value, listening) == present:
                    continue  # saved twice, or deleting what is not there
                self._version += 1
                op = _Op(present, key, value, self._version)
                self._overlay.setdefault(key, {})[value] = op
                self._pending.append(op)
                if listening:
                    events.append(_event("save" if present else "delete", key, value))
            if self._pending:
                self._start_flusher()
                if len(self._pending) >= MAX_BATCH:
                    self._wake.notify()
        for event in events:
            self._broadcast_change(event)

    def _present(self, key: bytes, value: bytes, look: bool) -> bool | None:
        """With the lock held: is the pair there, as this process sees it? Without
        ``look``, the store is not asked (``None``: not known); writing a change
        that changes nothing is harmless, and only listeners need to know."""
        op = self._overlay.get(key, {}).get(value)
        if op is not None:
            return op.present
        if not look:
            return None
        entry = self.memory.get(self._entry_key(key, value))  # untyped: the fast path
        if entry is None:
            return False
        stored = entry.content  # a dict; another pair here would be a digest collision
        return (
            isinstance(stored, dict) and stored.get("key") == key and stored.get("value") == value
        )

    # -- writing behind ------------------------------------------------------------------------

    def _start_flusher(self) -> None:
        """With the lock held."""
        if self._flusher is None:
            self._flusher = threading.Thread(
                target=self._flush_loop, name="memkv-hypothesis-flush", daemon=True
            )
            self._flusher.start()
        elif self.flush_interval == 0:
            self._wake.notify()

    def _flush_loop(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._closing:
                    self._wake.wait()
                if not self._pending:
                    return
                if self.flush_interval and len(self._pending) < MAX_BATCH and not self._closing:
                    self._wake.wait(self.flush_interval)  # let a few more join the batch
            self.flush()

    def flush(self) -> None:
        """Write every pending change to the store now. A change that cannot be
        written (the disk is full, say) is logged and dropped: this is a cache."""
        with self._commit_lock:
            while True:
                with self._lock:
                    batch = self._pending[:MAX_BATCH]
                    del self._pending[:MAX_BATCH]
                if not batch:
                    return
                try:
                    self.memory.transact(functools.partial(self._write, batch=batch))
                except memkv.MemkvError as exc:
                    log.warning("%s: %d example change(s) not written: %s", self, len(batch), exc)
                with self._lock:
                    for op in batch:  # the store has them now, unless changed since
                        values = self._overlay.get(op.key)
                        if values is not None and values.get(op.value) is op:
                            del values[op.value]
                            if not values:
                                del self._overlay[op.key]

    def _write(self, tx: memkv.Transaction, batch: list[_Op]) -> None:
        journal = self._journal_for(tx)
        for op in batch:
            entry_key = self._entry_key(op.key, op.value)
            if op.present:
                tx.store(entry_key, Example(key=op.key, value=op.value), self.category)
            else:
                tx.forget(entry_key)
            if journal is not None:
                kind: Literal["save", "delete"] = "save" if op.present else "delete"
                change = Change(kind=kind, key=op.key, value=op.value, origin=self._origin)
                seq = journal.append_in(tx, change)
                if seq % 1000 == 0 and seq >= JOURNAL_KEEP:
                    journal.trim_through_in(tx, seq - JOURNAL_KEEP, limit=2000)

    def _journal_for(self, tx: memkv.Transaction) -> SequenceLog[Change] | None:
        """The journal, if some process listens (a registration not yet stale)."""
        registered = tx.get(self._listeners_key())
        if registered is None:
            return None
        now = time.time()
        if not any(now - beat < LISTENER_TTL for beat in registered.content.values()):
            return None
        return self._journal(self.memory)

    # -- listening -------------------------------------------------------------------------------

    def _listeners_key(self) -> str:
        return pack((LISTENERS_ROOT, self.name))

    def _register(self, listening: bool) -> int:
        """Register this database as listening (again: a heartbeat), or not; return
        the number of the next change to be journalled."""

        def update(tx: memkv.Transaction) -> int:
            found = tx.get(self._listeners_key())
            beats: dict[str, float] = dict(found.content) if found is not None else {}
            now = time.time()
            beats = {o: beat for o, beat in beats.items() if now - beat < LISTENER_TTL}
            if listening:
                beats[self._origin] = now
            else:
                beats.pop(self._origin, None)
            tx.store(self._listeners_key(), beats, LISTENERS_ROOT)
            return self._journal(self.memory).next_seq_of(tx)

        return self.memory.transact(update)

    def _start_listening(self) -> None:
        self.flush()  # changes made before listening are not journalled
        start = self._register(listening=True)
        self._stop_listener.clear()
        self._listener = threading.Thread(
            target=self._listen_loop, args=(start,), name="memkv-hypothesis-listen", daemon=True
        )
        self._listener.start()

    def _stop_listening(self) -> None:
        self._stop_listener.set()
        if self._listener is not None:
            self._listener.join()
            self._listener = None
        self._register(listening=False)

    def _listen_loop(self, since: int) -> None:
        journal = self._journal(self.memory)
        beat = time.monotonic()
        while not self._stop_listener.wait(POLL_INTERVAL):
            try:
                for record in journal.read(since):
                    since = record.seq + 1
                    change = record.record
                    if change.origin != self._origin:  # ours were heard as they were made
                        self._broadcast_change(_event(change.kind, change.key, change.value))
                if time.monotonic() - beat > LISTENER_TTL / 3:
                    self._register(listening=True)
                    beat = time.monotonic()
            except memkv.MemkvError as exc:  # keep listening; the store may come back
                log.warning("%s: cannot read the change journal: %s", self, exc)

    # -- closing ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Write what is pending and close the store (a later call reopens it)."""
        with self._lock:
            self._closing = True
            self._wake.notify()
            flusher, self._flusher = self._flusher, None
        if flusher is not None and flusher is not threading.current_thread():
            flusher.join()
        self.flush()
        with self._lock:
            self._closing = False
        if self._listeners:
            self.clear_listeners()
        if self._memory is not None:
            self._memory.close()
            self._memory = None

    def __enter__(self) -> MemkvExampleDatabase:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def after_fork_in_child(self) -> None:
        """The child starts empty: see `_reset`."""
        self._listeners.clear()
        self._reset()


def _event(kind: Literal["save", "delete"], key: bytes, value: bytes) -> ListenerEventT:
    if kind == "save":
        return ("save", (key, value))
    return ("delete", (key, value))


def examples_by_key(memory: memkv.Memory, name: str = "examples") -> dict[bytes, list[int]]:
    """Every hypothesis key in ``memory``'s database ``name``, with the sizes of its
    values (for ``memkv hypothesis``)."""
    found: dict[bytes, list[int]] = {}
    for entry in memory.list(f"{ROOT}.{name}", type=Example):
        found.setdefault(entry.content.key, []).append(len(entry.content.value))
    return found


def describe_key(key: bytes) -> str:
    """A hypothesis key for people: hex, keeping a readable suffix (".secondary")."""
    cut = len(key)
    while cut > 0 and 0x20 < key[cut - 1] < 0x7F:
        cut -= 1
    suffix = key[cut:].decode("ascii")
    if cut == len(key) or "." not in suffix:
        return key.hex() if cut else suffix
    dot = suffix.index(".")
    return key[: cut + dot].hex() + suffix[dot:]


_databases: weakref.WeakSet[MemkvExampleDatabase] = weakref.WeakSet()


def _close_all() -> None:
    for database in list(_databases):
        try:
            database.close()
        except Exception:  # at exit: one database must not keep the others unwritten
            log.exception("%s: could not write its pending examples at exit", database)


atexit.register(_close_all)
