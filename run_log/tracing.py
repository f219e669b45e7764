"""OpenTelemetry spans, named as autopilot names them (``run_log.save``, ...), if
``opentelemetry-api`` is installed; otherwise a shared no-op, at no cost."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

try:
    from opentelemetry import trace
except ImportError:  # pragma: no cover - depends on the environment
    trace = None  # type: ignore[assignment]

_NO_SPAN = contextlib.nullcontext()


def _no_span(
    name: str, attributes: dict[str, Any] | None = None
) -> contextlib.AbstractContextManager[Any]:
    return _NO_SPAN


def _make_span() -> Callable[..., contextlib.AbstractContextManager[Any]]:
    if trace is None:
        return _no_span
    tracer = trace.get_tracer("run_log")
    # With the API alone (no SDK provider configured), spans would record nothing but
    # still cost microseconds per call: skip them until a real provider is set. The
    # API keeps the provider set by set_tracer_provider in _TRACER_PROVIDER (None
    # until then); get_tracer_provider() says the same, slower (it reads os.environ).
    no_op = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
    get_provider = trace.get_tracer_provider

    def start(
        name: str, attributes: dict[str, Any] | None = None
    ) -> contextlib.AbstractContextManager[Any]:
        if getattr(trace, "_TRACER_PROVIDER", False) is None or isinstance(get_provider(), no_op):
            return _NO_SPAN
        return tracer.start_as_current_span(name, attributes=attributes)

    return start


span = _make_span()
"""``with span("run_log.save", {"workflow_id": ...}):`` around each operation."""
