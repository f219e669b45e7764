"""A purge to be killed, for `tests.memkv.test_purge`: ``python purge_worker.py PATH
SESSION BATCH`` opens the store, prints ``ready``, then purges the session in
transactions of BATCH entries, printing ``removed<TAB>N`` (the total so far) once
each batch has returned, durable, and ``done`` at the end; then it waits to be
killed."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import memkv
from memkv.purge import Purge, PurgeFilter
from tests.memkv.workers import say


def purge_session(path: str, session_id: str, batch: str) -> None:
    mem = memkv.open(path)
    say("ready")
    run = Purge(PurgeFilter.of(session_id=session_id), batch_size=int(batch))
    while not run.done:
        run.record(mem.transact(run.batch()))
        say(f"removed\t{run.removed}")
    mem.close()
    say("done")
    threading.Event().wait()  # until killed, as a purge still under way would be


if __name__ == "__main__":
    purge_session(*sys.argv[1:])
