"""Child processes for the example database tests: ``python workers.py COMMAND ...``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from memkv.testing.hypothesis_db import MemkvExampleDatabase


def saver(path: str, worker: str, rounds: str, ending: str) -> None:
    """Save, delete and move under the worker's own key and a shared one; then end by
    closing the database, or (``ending="exit"``) by just exiting, trusting the exit
    hook to write what is pending."""
    db = MemkvExampleDatabase(path, flush_interval=0.01)
    own = f"own-{worker}".encode()
    for n in range(int(rounds)):
        value = f"{worker}-{n}".encode()
        db.save(b"shared", value)
        db.save(own, value)
        if n % 3 == 0:
            db.delete(own, value)  # gone again
        if n % 5 == 0:
            db.move(b"shared", b"moved", value)  # from shared to moved
    if ending == "close":
        db.close()
    print("done", flush=True)


if __name__ == "__main__":
    {"saver": saver}[sys.argv[1]](*sys.argv[2:])
