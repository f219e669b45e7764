"""Any interleaving of publishes, sink outages and flushes delivers exactly the
published sequence, in order (on both backends of the buffer)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from audit_outbox import AuditPublisher, EventBuffer, InMemorySink
from tests.audit_outbox.conftest import entry
from tests.conftest import BACKENDS, open_backend

STEPS = st.lists(
    st.sampled_from(["publish", "publish", "publish", "down", "up", "flush"]), max_size=40
)


@settings(max_examples=80, deadline=None)
@given(steps=STEPS, backend=st.sampled_from(BACKENDS))
def test_delivery_is_exactly_the_published_sequence(steps: list[str], backend: str) -> None:
    directory = Path(tempfile.mkdtemp(prefix="outbox-"))
    mem = open_backend(backend, directory)
    try:
        sink = InMemorySink(up=True)
        publisher = AuditPublisher(sink, EventBuffer(mem))
        published: list[int] = []

        async def run() -> None:
            for step in steps:
                if step == "publish":
                    published.append(len(published))
                    await publisher.publish(entry(published[-1]))
                elif step == "flush":
                    await publisher.flush_pending()
                else:
                    sink.set_up(step == "up")
                # nothing delivered is ever out of order, or delivered twice
                assert sink.captured_seqs() == published[: len(sink.captured)]
            sink.set_up(True)
            await publisher.flush_pending()

        asyncio.run(run())
        assert sink.captured_seqs() == published
        assert publisher.buffered_len() == 0
        counters = publisher.counters
        assert counters.published + counters.flushed == len(published)
        assert counters.buffered == counters.flushed
    finally:
        mem.close()
        shutil.rmtree(directory, ignore_errors=True)
