"""`NatsAuditSink`: audit entries to a NATS JetStream stream (needs ``nats-py``).

An entry counts as delivered only once JetStream acknowledged storing it. Each
message carries the entry's identity as ``Nats-Msg-Id``, so a re-send after a lost
acknowledgement is de-duplicated by the server (within the stream's duplicate
window, two minutes by default). While the connection is down, `emit` fails at once
(the publisher buffers) and the client keeps reconnecting in the background; so does
`connect` when the server is down at first (it returns after the first attempt).

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
        self._client: Any = None  # once connected
        self._connecting: Any = None  # the client while it tries to connect
        self._jetstream: Any = None
        self._connector: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()  # set once the first attempt is over
        self._stream_ready = False
        self._closing = False  # a disconnection now is ours: nothing to warn of

    async def connect(self) -> None:
        """Start connecting, and return once connected or once the first attempt
        failed (at most ``connect_timeout`` seconds): if the server is down, the sink
        keeps trying in the background (every ``reconnect_wait`` seconds, until
        `close`), logging why the first attempt failed, and `emit` fails fast until a
        connection is up. Calling it again while it is trying does nothing more.

        Raises:
            AuditSinkError: the settings cannot work at all (a malformed server URL,
                say); nothing keeps trying.
        """
        from nats.aio.client import Client  # noqa: PLC0415 - optional: the "nats" extra

        if self._client is not None:  # connected: nats-py reconnects by itself
            return
        if self._connector is None or self._connector.done():
            self._first_attempt = asyncio.Event()
            self._connector = asyncio.get_running_loop().create_task(self._connect(Client()))
        attempt = asyncio.ensure_future(self._first_attempt.wait())
        try:
            await asyncio.wait(
                (self._connector, attempt),
                timeout=self.connect_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            attempt.cancel()
        if self._connector.done() and not self._connector.cancelled():
            failure = self._connector.exception()
            if failure is not None:
                self._connector = None
                raise AuditSinkError(
                    f"cannot connect to NATS at {self.servers}: {_reason(failure)}"
                ) from failure

    async def _connect(self, client: Any) -> None:
        """Connect ``client``, retrying for ever while no server answers (nats-py's own
        loop, with unlimited reconnects), then make sure the stream exists."""
        self._connecting = client
        failures = 0

        async def on_error(exc: Exception) -> None:
            nonlocal failures
            if self._client is not None:  # connected once: nats-py reconnects by itself
                log.debug("NATS: %s", _reason(exc))
                return
            failures += 1
            if failures == 1:
                log.warning(
                    "NATS: cannot connect to %s (%s); will keep trying in the background",
                    self.servers,
                    _reason(exc),
                )
            else:
                log.debug("NATS: connection attempt %d failed: %s", failures, _reason(exc))
            self._first_attempt.set()

        async def on_disconnect() -> None:
            if not self._closing:
                log.warning(
                    "NATS: disconnected from %s; audit entries will be buffered", self.servers
                )

        async def on_reconnect() -> None:
            log.info("NATS: reconnected")
            self._stream_ready = False  # a restarted server may have lost the stream

        try:
            await client.connect(
                self.servers,
                connect_timeout=self.connect_timeout,
                max_reconnect_attempts=-1,  # never give up, first connection included
                reconnect_time_wait=self.reconnect_wait,
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
                **self.connect_options,
            )
        finally:
            self._first_attempt.set()
        if failures:
            log.info("NATS: connected to %s after %d failed attempts", self.servers, failures)
        self._client = client
        self._connecting = None
        self._jetstream = client.jetstream()
        await self._ensure_stream()

    async def _ensure_stream(self) -> None:
        from nats.js.errors import NotFoundError  # noqa: PLC0415 - optional dependency

        try:
            try:
                await self._jetstream.stream_info(self.stream)
            except NotFoundError:
                await self._jetstream.add_stream(name=self.stream, subjects=[self.subject])
        except Exception as exc:  # emit tries again
            log.warning("NATS: cannot check or create stream %s: %s", self.stream, _reason(exc))
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
        """Stop connecting or reconnecting, and close the connection."""
        self._closing = True
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # told by connect
                await self._connector
            self._connector = None
        for client in (self._connecting, self._client):
            if client is not None:
                with contextlib.suppress(Exception):  # closing a dead connection may fail
                    await client.close()
        self._connecting = self._client = None
        self._closing = False


def _reason(exc: BaseException) -> str:
    """Why ``exc`` happened, never empty (a TimeoutError's text is)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
