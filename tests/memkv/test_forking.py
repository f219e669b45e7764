"""memkv.forking: every registered object's hooks run at a fork, one failing hook
does not keep the others from running, and registering keeps nothing alive."""

from __future__ import annotations

import gc
import os
import sys
import weakref
from collections.abc import Callable

import pytest

from memkv import forking


class Recorder:
    def __init__(self, fail_in_parent: bool = False) -> None:
        self.calls: list[str] = []
        self.fail_in_parent = fail_in_parent
        forking.register(self)

    def before_fork(self) -> None:
        self.calls.append("before")

    def after_fork_in_parent(self) -> None:
        self.calls.append("parent")
        if self.fail_in_parent:
            raise RuntimeError("parent hook failed")

    def after_fork_in_child(self) -> None:
        self.calls.append("child")


class ChildOnly(forking.ChildForkHook):
    def __init__(self) -> None:
        self.reset = False
        forking.register(self)

    def after_fork_in_child(self) -> None:
        self.reset = True


def fork_and_report(*checks: Callable[[], bool]) -> int:
    """Fork; the child exits 0 if every check returns true."""
    pid = os.fork()
    if pid == 0:
        ok = all(check() for check in checks)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_hooks_run_in_parent_and_child() -> None:
    recorder, child_only = Recorder(), ChildOnly()
    code = fork_and_report(lambda: recorder.calls == ["before", "child"], lambda: child_only.reset)
    assert code == 0
    assert recorder.calls == ["before", "parent"]
    assert not child_only.reset


def test_a_failing_hook_does_not_stop_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda report: reported.append(report.exc_value))
    recorders = [Recorder(fail_in_parent=True), Recorder(), Recorder(fail_in_parent=True)]
    assert fork_and_report() == 0
    assert all(r.calls == ["before", "parent"] for r in recorders)
    assert len(reported) == 1
    assert isinstance(reported[0], RuntimeError)


def test_registering_keeps_nothing_alive() -> None:
    recorder = Recorder()
    ref = weakref.ref(recorder)
    del recorder
    gc.collect()
    assert ref() is None
    assert fork_and_report() == 0
