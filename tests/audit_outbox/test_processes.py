"""A publishing process killed while events are buffered, and a flush killed half-way:
another process delivers every event, once (re-sends de-duplicated by message id)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.audit_outbox.conftest import NatsServer
from tests.audit_outbox.test_nats import stored_entries
from tests.memkv.helpers import child_env, run_then_kill, run_worker

WORKERS = Path(__file__).with_name("workers.py")


def test_a_killed_publisher_loses_nothing_it_buffered(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    buffer = tmp_path / "buffer"
    nats_server.stop()  # the sink is down: everything goes to the buffer
    acknowledged = run_then_kill(
        "publish", nats_server.url, str(buffer), "300", seconds=1.5, script=WORKERS
    )
    published = [int(seq) for seq in acknowledged]
    assert published == list(range(len(published)))
    assert len(published) > 20
    nats_server.start()
    result = run_worker(
        "flush", nats_server.url, str(buffer), "fast", script=WORKERS, env=child_env()
    )
    assert result.returncode == 0, result.stderr
    stored = [e.seq for e in asyncio.run(stored_entries(nats_server.url))]
    assert stored[: len(published)] == published  # every acknowledged publish, in order
    assert stored == list(range(len(stored)))  # and nothing twice


def test_a_flush_killed_half_way_resends_without_duplicates(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    buffer = tmp_path / "buffer"
    nats_server.stop()
    published = run_then_kill(
        "publish", nats_server.url, str(buffer), "150", seconds=1.5, script=WORKERS
    )
    nats_server.start()
    lines = run_then_kill(
        "flush", nats_server.url, str(buffer), "slow", seconds=0.4, script=WORKERS
    )
    sent_before_kill = [line for line in lines if line.startswith("sent")]
    assert sent_before_kill  # the kill landed during the flush
    result = run_worker(
        "flush", nats_server.url, str(buffer), "fast", script=WORKERS, env=child_env()
    )
    assert result.returncode == 0, result.stderr
    stored = [e.seq for e in asyncio.run(stored_entries(nats_server.url))]
    assert stored == list(range(len(stored)))  # re-sent entries were de-duplicated
    assert len(stored) >= len(published) == 150
    assert len(stored) >= len(sent_before_kill)
