"""A real nats-server with JetStream on a loopback port, for the sink's tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import memkv
from audit_outbox import AuditEntry, AuditEventType, EventBuffer

AGENT = uuid.UUID(int=1)
SESSION = uuid.UUID(int=2)


def entry(seq: int, **changes: object) -> AuditEntry:
    """aa-runtime's test entry: distinct per seq."""
    made = AuditEntry(
        seq=seq,
        timestamp=seq,
        event_type=AuditEventType.TOOL_CALL_INTERCEPTED,
        agent_id=AGENT,
        session_id=SESSION,
        payload=f'{{"seq":{seq}}}',
    )
    return made.evolve(**changes) if changes else made


def nats_server_binary() -> str | None:
    return shutil.which("nats-server") or shutil.which("nats-server", path="/usr/sbin:/usr/bin")


class NatsServer:
    """``nats-server -js`` on 127.0.0.1, with a store directory that survives restarts."""

    def __init__(self, binary: str, store: Path) -> None:
        self.binary = binary
        self.store = store
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None
        self.process = subprocess.Popen(
            [self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"nats-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    binary = nats_server_binary()
    if binary is None:
        pytest.skip("nats-server is not installed (the README's test command installs it)")
    server = NatsServer(binary, tmp_path / "jetstream")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def buffer(backend_name: str, tmp_path: Path) -> Iterator[EventBuffer]:
    from tests.conftest import open_backend

    mem: memkv.Memory = open_backend(backend_name, tmp_path)
    yield EventBuffer(mem)
    mem.close()
