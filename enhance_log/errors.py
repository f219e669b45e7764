"""Errors of the enhance log: subclasses of memkv's, so `except memkv.Conflict` works."""

from __future__ import annotations

import memkv


class EnhanceLogConflict(memkv.Conflict):
    """``append`` of an ``issue_id`` already in the log; the log is unchanged."""

    def __init__(self, issue_id: str) -> None:
        super().__init__(
            f"issue_id {issue_id!r} is already in the enhance log (append-only)", key=issue_id
        )
        self.issue_id = issue_id


class EnhanceLogNotFound(memkv.NotFound):
    """No entry for the ``issue_id``."""

    def __init__(self, issue_id: str) -> None:
        super().__init__(f"no enhance log entry for issue_id {issue_id!r}")
        self.issue_id = issue_id


class InvalidEnhanceLogEntry(memkv.InvalidArgument):
    """An entry that the log refuses: a bad status, or an empty id."""
