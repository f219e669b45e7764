"""Child processes for the multi-process tests: ``python workers.py COMMAND PATH ...``.

Each prints what it has done, one line per acknowledged operation, flushing at once,
so that a parent that kills it knows exactly what was acknowledged.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import random
import sys
import threading
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import memkv

_say_lock = threading.Lock()


def say(*parts: object) -> None:
    """Print one line at once (writers on several threads share stdout)."""
    line = " ".join(map(str, parts)) + "\n"
    with _say_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


CRASH_WORDS = ("apple", "banana", "cherry", "fig", "東京", "タワー", "北京", "서울", "김치")
CRASH_UPDATED = "updated: the apple moved to 東京タワー"


def crash_text(key: str) -> str:
    """Text of one to six `CRASH_WORDS`, the same for the same key."""
    rng = random.Random(key)
    return " ".join(rng.choices(CRASH_WORDS, k=rng.randint(1, 6)))


def crash_writer(path: str, durability: str, cycle: str) -> None:
    """Write forever (until killed): single stores of text, small transactions of maps
    holding text, upserts and forgets; print ``key<TAB>content`` (content as JSON)
    after each write returns."""
    mem = memkv.open(path, durability=durability)
    say("ready")
    n = 0
    while True:
        key = f"{cycle}-{n:06d}"
        if n % 5 == 4:
            keys = [f"{key}-t{i}" for i in range(3)]
            for k, content in store_batch(mem, keys):
                say(f"{k}\t{json_text(content)}")
        else:
            text = crash_text(key)
            mem.store(key, text, category="single", session_id=f"s{n % 3}")
            say(f"{key}\t{json_text(text)}")
        if n % 7 == 6:  # an upsert that moves category
            mem.store(key, CRASH_UPDATED, category="updated")
            say(f"{key}\t{json_text(CRASH_UPDATED)}")
        n += 1


def json_text(content: object) -> str:
    import msgspec

    return msgspec.json.encode(content).decode()


def store_batch(mem: memkv.Memory, keys: list[str]) -> list[tuple[str, object]]:
    contents: list[tuple[str, object]] = [
        (key, {"text": crash_text(key), "tags": [crash_text(key + "/tag")]}) for key in keys
    ]

    def batch(tx: memkv.Transaction) -> None:
        for key, content in contents:
            tx.store(key, content, "batch", "s")

    mem.transact(batch)
    return contents


def writer(path: str, prefix: str, count: str) -> None:
    """Store ``count`` keys, and try to insert shared keys (one process wins each)."""
    with memkv.open(path) as mem:
        won = 0
        for i in range(int(count)):
            mem.store(f"{prefix}/{i:05d}", {"by": prefix, "i": i}, category=prefix)
            try:
                mem.insert(f"shared/{i % 50:03d}", prefix, category="shared")
                won += 1
            except memkv.Conflict:
                pass
        say(f"won\t{won}")


def store(path: str, key: str, content: str) -> None:
    with memkv.open(path) as mem:
        mem.store(key, content)
        say("stored")


def dump(path: str) -> None:
    """Print every entry as JSON lines (for read-back checks)."""
    with memkv.open(path, readonly=True) as mem:
        for entry in mem.list():
            say(memkv_json(entry))


def memkv_json(entry: memkv.MemoryEntry[object]) -> str:
    import msgspec

    return msgspec.json.encode(entry).decode()


def hold_reader(path: str) -> None:
    """Open a read transaction and wait inside it (to be killed there)."""
    mem = memkv.open(path)

    def wait(_txn: object) -> None:
        say("reading")
        sys.stdin.readline()

    mem.backend.read(wait)


def hold_open(path: str) -> None:
    """Keep the store open (so that LMDB does not reset its lock file) until stdin ends."""
    with memkv.open(path):
        say("open")
        sys.stdin.readline()


def grow(path: str, megabytes: str) -> None:
    """Write ``megabytes`` MB in 1 MB transactions (the map must grow)."""
    with memkv.open(path, map_size=1 << 20, durability="unsynced") as mem:
        blob = b"x" * 100_000
        for mb in range(int(megabytes)):
            store_megabyte(mem, mb, blob)
        say("map", mem.backend.stats()["map_size"])


def grow_forever(path: str) -> None:
    """Store 50 kB entries forever (until killed) on a 1 MiB map, so that the map
    keeps growing while other processes open the store."""
    with memkv.open(path, map_size=1 << 20, durability="unsynced") as mem:
        blob = "x" * 50_000
        for n in itertools.count():
            mem.store(f"grown/{n % 1000:04d}", blob)
            if n == 0:
                say("ready")


def hold_reader_slots(path: str) -> None:
    """Take every reader slot of the store (LMDB's own read transactions, one slot
    each) and wait holding them (to be killed there); print how many."""
    import lmdb

    env = lmdb.open(path, max_dbs=3, max_readers=256, lib_version=0)
    txns = []
    with contextlib.suppress(lmdb.ReadersFullError):
        while True:
            txns.append(env.begin())
    say("holding", len(txns))
    sys.stdin.readline()


def fill_to_file_size_limit(path: str) -> None:
    """Under a file size limit (RLIMIT_FSIZE) just above the store's data file, store
    200 kB entries until the store refuses; print what was refused and what was
    read; then lift the limit (space freed) and store again."""
    import resource

    with memkv.open(path, map_size=1 << 20) as mem:
        mem.store("before", "kept")
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        limit = (Path(path) / "data.mdb").stat().st_size + 3 * 200_000 + 50_000
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
        try:
            for n in range(50):
                mem.store(f"big/{n}", "y" * 200_000)
        except memkv.MemkvError as exc:
            say("refused", type(exc).__name__, exc)
        before = mem.get("before")
        say("read", before and before.content, mem.count())
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        mem.store("after", "stored")
        after = mem.get("after")
        say("stored", after and after.content)


def store_megabyte(mem: memkv.Memory, mb: int, blob: bytes) -> None:
    """Ten 100 kB entries under ``grow/MB/``, in one transaction."""

    def write(tx: memkv.Transaction) -> None:
        for i in range(10):
            tx.store(f"grow/{mb:04d}/{i}", blob)

    mem.transact(write)


def stores(path: str, durability: str, count: str) -> None:
    """``count`` single stores (traced by strace in the durability tests)."""
    with memkv.open(path, durability=durability) as mem:
        say("begin")
        for i in range(int(count)):
            mem.store(f"traced/{i}", i)
        say("end")


class Refused(Exception):
    """Raised by the group writers' failing transaction functions, after writing."""


def group_write(tx: memkv.Transaction, key: str, writer: int, n: int) -> str:
    """One writer's transaction: a store; every third, a second key in another
    category; every eleventh, a failure after writing (nothing of it must remain)."""
    tx.store(key, key, category=f"w{writer % 4}", session_id=f"s{writer % 3}")
    if n % 3 == 2:
        tx.store(key + "-b", key, category="pairs")
    if n % 11 == 10:
        raise Refused(key)
    return key


def group_writers(path: str, mode: str, cycle: str, writers: str) -> None:
    """``writers`` concurrent writers (asyncio tasks, or threads) on one store, until
    killed; each prints ``ok<TAB>key`` once its write returned (durable), or
    ``refused<TAB>key`` once its failing transaction returned its error."""
    if mode == "async":
        import asyncio

        asyncio.run(_async_group_writers(path, cycle, int(writers)))
    else:
        _thread_group_writers(path, cycle, int(writers))


def _report(key: str, write: Callable[[], object]) -> None:
    try:
        write()
    except Refused:
        say(f"refused\t{key}")
    else:
        say(f"ok\t{key}")


async def _async_group_writers(path: str, cycle: str, writers: int) -> None:
    import asyncio

    import memkv.aio

    amem = memkv.aio.open(path)
    say("ready")

    async def write_forever(writer: int) -> None:
        for n in itertools.count():
            key = f"{cycle}-w{writer:03d}-{n:06d}"
            try:
                await amem.transact(functools.partial(group_write, key=key, writer=writer, n=n))
            except Refused:
                say(f"refused\t{key}")
            else:
                say(f"ok\t{key}")

    await asyncio.gather(*(write_forever(w) for w in range(writers)))


def _thread_group_writers(path: str, cycle: str, writers: int) -> None:
    mem = memkv.open(path)
    say("ready")

    def write_forever(writer: int) -> None:
        for n in itertools.count():
            key = f"{cycle}-w{writer:03d}-{n:06d}"
            write = functools.partial(group_write, key=key, writer=writer, n=n)
            _report(key, functools.partial(mem.transact, write))

    threads = [threading.Thread(target=write_forever, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def host(dsn: str, schema: str, host_id: str, rounds: str, threads: str) -> None:
    """One of several hosts sharing a PostgreSQL store: ``threads`` threads, each
    ``rounds`` times storing a key of its own, inserting the shared key of the round
    (one insert of all hosts wins, the others conflict) and bumping the shared
    counter. Prints ``won KEY BY`` for each insert it won, then ``done``."""
    mem = memkv.open(dsn, schema=schema)
    say("ready")

    def bump(tx: memkv.Transaction) -> None:
        current = tx.get("counter")
        tx.store("counter", (current.content if current else 0) + 1, category="counters")

    def work(thread: int) -> None:
        me = f"{host_id}-{thread}"
        for n in range(int(rounds)):
            mem.store(f"own/{me}/{n}", n, category=f"host{host_id}")
            try:
                mem.insert(f"shared/{n}", me, category="shared")
                say("won", f"shared/{n}", me)
            except memkv.Conflict:
                pass
            mem.transact(bump)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(int(threads))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    mem.close()
    say("done")


COMMANDS: dict[str, Callable[..., None]] = {
    "host": host,
    "group-writers": group_writers,
    "crash-writer": crash_writer,
    "writer": writer,
    "store": store,
    "dump": dump,
    "hold-reader": hold_reader,
    "hold-open": hold_open,
    "grow": grow,
    "grow-forever": grow_forever,
    "hold-reader-slots": hold_reader_slots,
    "fill-to-file-size-limit": fill_to_file_size_limit,
    "stores": stores,
}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
