"""memkv's one fork hook: what objects must do around `os.fork`.

An object whose state a forked child must not use as it is (an LMDB environment,
threads, locks that another thread may hold) implements `ForkAware` and calls
`register(self)`. At every fork each registered object's hooks run, in no particular
order: ``before_fork`` in the forking thread before the fork, then
``after_fork_in_parent`` in the parent or ``after_fork_in_child`` in the child. An
object that needs only the child hook inherits the others as no-ops from
`ChildForkHook`.

The registry holds weak references: registering keeps nothing alive, and an object
collected is forgotten. The objects of one fork are taken once, before it, so each
gets its after hook only if it got its before hook, whatever other threads register
meanwhile. One object's hook raising does not keep the others' from running; the
first exception is raised after them all (Python reports it: a fork hook cannot fail
the fork).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import Protocol


class ForkAware(Protocol):
    """What `register` takes."""

    def before_fork(self) -> None:
        """In the forking thread, just before the fork."""

    def after_fork_in_parent(self) -> None:
        """In the parent, just after the fork."""

    def after_fork_in_child(self) -> None:
        """In the child (its only thread), just after the fork."""


class ChildForkHook:
    """A base for a `ForkAware` object that acts only in the child: it defines
    ``after_fork_in_child``; the hooks in the parent do nothing."""

    def before_fork(self) -> None:
        pass

    def after_fork_in_parent(self) -> None:
        pass


_registered: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_registered_lock = threading.Lock()  # iterating a WeakSet while another thread adds fails
_forking: list[ForkAware] = []  # the objects of the fork under way


def register(participant: ForkAware) -> None:
    """Run ``participant``'s hooks at every fork while it lives."""
    with _registered_lock:
        _registered.add(participant)


def _run_all(hook: Callable[[ForkAware], None]) -> None:
    failure: BaseException | None = None
    for participant in _forking:
        try:
            hook(participant)
        except BaseException as exc:
            if failure is None:
                failure = exc
    if failure is not None:
        raise failure


def _before_fork() -> None:
    with _registered_lock:
        _forking[:] = _registered
    _run_all(lambda participant: participant.before_fork())


def _after_fork_in_parent() -> None:
    try:
        _run_all(lambda participant: participant.after_fork_in_parent())
    finally:
        _forking.clear()


def _after_fork_in_child() -> None:
    global _registered_lock  # noqa: PLW0603 - another thread of the parent may have held it
    _registered_lock = threading.Lock()
    try:
        _run_all(lambda participant: participant.after_fork_in_child())
    finally:
        _forking.clear()


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)
