"""Child processes for the multi-process `MemkvStore` tests: ``python store_workers.py
COMMAND PATH ...``. Each prints one line per step it has finished, flushing at once."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from memkv.langgraph import MemkvStore
from tests.langgraph import facts_agent


def say(*parts: object) -> None:
    sys.stdout.write(" ".join(map(str, parts)) + "\n")
    sys.stdout.flush()


def writer_value(writer: str, number: int) -> dict[str, object]:
    """What ``writer`` puts as its item ``number`` (the parent checks it back)."""
    return {"writer": writer, "i": number, "parity": number % 2}


def put_and_search(path: str, writer: str, count: str) -> None:
    """Print ``ready``, wait for a line on stdin, then put ``count`` items in the
    namespace ``("procs", writer)`` and as many in ``("shared",)``, searching both
    after each put: each search must find exactly what this process has put so far.
    Print ``done`` at the end (an assertion error fails the process)."""
    with MemkvStore.from_path(path) as store:
        say("ready")
        sys.stdin.readline()
        own = ("procs", writer)
        for number in range(int(count)):
            value = writer_value(writer, number)
            store.put(own, f"item-{number:05d}", value)
            store.put(("shared",), f"{writer}-{number:05d}", value)
            even = store.search(own, filter={"parity": 0}, limit=10**6)
            assert len(even) == number // 2 + 1, (number, len(even))
            mine = store.search(("shared",), filter={"writer": writer}, limit=10**6)
            assert len(mine) == number + 1, (number, len(mine))
            newest = store.search(own, limit=1)
            assert newest[0].key == f"item-{number:05d}", newest
        say("done")


def run_agent(path: str, user_id: str, message: str) -> None:
    """One run of `tests.langgraph.facts_agent` on the store at ``path``: print its
    reply."""
    say(facts_agent.run(path, user_id, message))


COMMANDS: dict[str, Callable[..., None]] = {
    "put-and-search": put_and_search,
    "run-agent": run_agent,
}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
