"""The publisher's counters: readable in-process, and exported through
``prometheus_client`` with aa-runtime's metric names when it is installed."""

from __future__ import annotations

from typing import Any, Final

try:
    import prometheus_client
except ImportError:  # pragma: no cover - depends on the environment
    prometheus_client = None  # type: ignore[assignment]

# aa-runtime's names (``aa_audit_published_total``, ...): prometheus_client adds "_total".
METRIC_NAMES: Final = {
    "published": ("aa_audit_published", "Audit events delivered to the sink on publish"),
    "publish_errors": ("aa_audit_publish_errors", "Publishes the sink did not take"),
    "buffered": ("aa_audit_buffered", "Audit events written to the local buffer"),
    "flushed": ("aa_audit_flushed", "Buffered audit events delivered by a flush"),
    "dropped": ("aa_audit_dropped", "Audit events dropped: buffer full, or unbufferable"),
}

_exported: dict[str, Any] = {}


def _prometheus_counter(field: str) -> Any:
    """The process-wide Prometheus counter of ``field`` (created once, in the default
    registry), or ``None`` without prometheus_client."""
    if prometheus_client is None:
        return None
    if field not in _exported:
        name, documentation = METRIC_NAMES[field]
        _exported[field] = prometheus_client.Counter(name, documentation)
    return _exported[field]


class PublisherCounters:
    """What one publisher has done, since it was made. ``add`` also bumps the
    process-wide Prometheus counter of the same name."""

    __slots__ = ("buffered", "dropped", "flushed", "publish_errors", "published")

    def __init__(self) -> None:
        self.published = 0
        self.publish_errors = 0
        self.buffered = 0
        self.flushed = 0
        self.dropped = 0

    def add(self, field: str, amount: int = 1) -> None:
        if amount <= 0:
            return
        setattr(self, field, getattr(self, field) + amount)
        counter = _prometheus_counter(field)
        if counter is not None:
            counter.inc(amount)

    def as_dict(self) -> dict[str, int]:
        return {field: getattr(self, field) for field in METRIC_NAMES}

    def __repr__(self) -> str:
        return f"PublisherCounters({self.as_dict()})"
