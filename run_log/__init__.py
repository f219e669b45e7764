"""run_log: durable, queryable workflow run history, on memkv.

>>> import run_log
>>> log = run_log.create_run_log("memory")
>>> log.get_stats("nightly")
{'total': 0, 'successful': 0}
"""

from run_log.log import (
    BACKENDS,
    MemoryRunLog,
    RunLog,
    create_run_log,
    default_path,
    get_run_log_service,
    reset_run_log_service,
)
from run_log.types import RunStatus, WorkflowRun, WorkflowStats

__all__ = [
    "BACKENDS",
    "MemoryRunLog",
    "RunLog",
    "RunStatus",
    "WorkflowRun",
    "WorkflowStats",
    "create_run_log",
    "default_path",
    "get_run_log_service",
    "reset_run_log_service",
]
