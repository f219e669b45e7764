"""sop_audit: durable audit trail of SOP workflow runs, on memkv.

>>> import memkv, sop_audit
>>> logger = sop_audit.SopAuditLogger(memkv.open(":memory:"))
>>> logger.list_runs()
[]
"""

from sop_audit.logger import SopAuditLogger
from sop_audit.types import (
    SopAuditEvent,
    SopAuditEventKind,
    SopEvent,
    SopRun,
    SopRunPage,
    SopRunStatus,
    SopStepResult,
    SopStepStatus,
    SopTriggerSource,
    StaleSweepReport,
    now_iso8601,
)

__all__ = [
    "SopAuditEvent",
    "SopAuditEventKind",
    "SopAuditLogger",
    "SopEvent",
    "SopRun",
    "SopRunPage",
    "SopRunStatus",
    "SopStepResult",
    "SopStepStatus",
    "SopTriggerSource",
    "StaleSweepReport",
    "now_iso8601",
]
