"""`NatsAuditSink`: audit entries to a NATS JetStream stream (needs ``nats-py``).

An entry counts as delivered only once JetStream acknowledged storing it. Each
message carries the entry's identity as ``Nats-Msg-Id``, so a re-send after a lost
acknowledgement is de-duplicated by the server (within the stream's duplicate
window, two minutes by default). While the connection is down, `emit` fails at once
(the publisher buffers) and the client keeps reconnecting in the background.

Settings come from the arguments, else the environment, else the defaults:

=================  ======================  ========================
setting            environment             default
=================  ======================  ========================
servers            ``NATS_URL``            ``nats://127.0.0.1:4222``
subject            ``AUDIT_NATS_SUBJECT``  ``audit.events``
stream             ``AUDIT_NATS_STREAM``   ``AUDIT``
=================  ======================  ========================
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any, Final

import msgspec

from audit_outbox.sink import AuditSinkError
from audit_outbox.types import AuditEntry

log = logging.getLogger("audit_outbox.nats")

DEFAULT_SERVERS: Final = "nats://127.0.0.1:4222"
DEFAULT_SUBJECT: Final = "audit.events"
DEFAULT_STREAM: Final = "AUDIT"
_encoder = msgspec.json.Encoder()


class NatsAuditSink:
    """Delivers `AuditEntry` as JSON to a JetStream subject; creates the stream if absent."""

    def __init__(
        self,
        servers: str | list[str] | None = None,
        *,
        subject: str | None = None,
        stream: str | None = None,
        ack_timeout: float = 2.0,
        connect_timeout: float = 2.0,
        reconnect_wait: float = 0.5,
        **connect_options: Any,
    ) -> None:
        configured = servers or os.environ.get("NATS_URL") or DEFAULT_SERVERS
        self.servers = configured.split(",") if isinstance(configured, str) else list(configured)
        self.subject = subject or os.environ.get("AUDIT_NATS_SUBJECT") or DEFAULT_SUBJECT
        self.stream = stream or os.environ.get("AUDIT_NATS_STREAM") or DEFAULT_STREAM
        self.ack_timeout = ack_timeout
        self.connect_timeout = connect_timeout
        self.reconnect_wait = reconnect_wait
        self.connect_options = connect_options
        self._client: Any = None
        self._jetstream: Any = None
        self._connector: asyncio.Task[None] | None = None
        self._stream_ready = False

    async def connect(self) -> None:
        """Connect now if the server answers; otherwise keep trying in the background
        (until `close`). `emit` fails fast until a connection is up."""
        if not await self._try_connect() and self._connector is None:
            self._connector = asyncio.get_running_loop().create_task(self._keep_connecting())

    async def _try_connect(self) -> bool:
        import nats  # noqa: PLC0415 - optional dependency: the "nats" extra

        async def on_error(exc: Exception) -> None:
            log.debug("NATS: %s", exc)

        async def on_disconnect() -> None:
            log.warning("NATS: disconnected from %s; audit entries will be buffered", self.servers)

        async def on_reconnect() -> None:
            log.info("NATS: reconnected")
            self._stream_ready = False  # a restarted server may have lost the stream

        connecting = nats.connect(
            self.servers,
            connect_timeout=self.connect_timeout,
            max_reconnect_attempts=-1,  # once connected, reconnect for ever
            reconnect_time_wait=self.reconnect_wait,
            error_cb=on_error,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
            **self.connect_options,
        )
        try:
            # With unlimited reconnects, nats-py's first connect also retries for ever
            # while no server answers: bound it, and retry in the background instead.
            self._client = await asyncio.wait_for(connecting, timeout=2 * self.connect_timeout)
        except Exception as exc:
            log.warning("NATS: cannot connect to %s (%s); will retry", self.servers, exc)
            return False
        self._jetstream = self._client.jetstream()
        await self._ensure_stream()
        return True

    async def _keep_connecting(self) -> None:
        while self._client is None:
            await asyncio.sleep(self.reconnect_wait)
            await self._try_connect()

    async def _ensure_stream(self) -> None:
        from nats.js.errors import NotFoundError  # noqa: PLC0415 - optional dependency

        try:
            await self._jetstream.stream_info(self.stream)
        except NotFoundError:
            await self._jetstream.add_stream(name=self.stream, subjects=[self.subject])
        except Exception as exc:
            log.debug("NATS: cannot check stream %s: %s", self.stream, exc)
            return
        self._stream_ready = True

    @property
    def connected(self) -> bool:
        return self._client is not None and bool(self._client.is_connected)

    async def emit(self, entry: AuditEntry) -> None:
        """Publish ``entry`` and wait for JetStream's acknowledgement.

        Raises:
            AuditSinkError: not connected, no stream, or no acknowledgement in time.
        """
        if not self.connected:
            raise AuditSinkError(f"NATS at {self.servers} is not connected")
        try:
            if not self._stream_ready:
                await self._ensure_stream()
            await self._jetstream.publish(
                self.subject,
                _encoder.encode(entry),
                timeout=self.ack_timeout,
                headers={"Nats-Msg-Id": entry.identity},
            )
        except Exception as exc:
            raise AuditSinkError(f"JetStream did not acknowledge entry {entry.seq}: {exc}") from exc

    async def close(self) -> None:
        """Stop reconnecting and close the connection."""
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
            self._connector = None
        if self._client is not None:
            with contextlib.suppress(Exception):  # closing a dead connection may fail
                await self._client.close()
            self._client = None
