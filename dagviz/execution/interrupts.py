"""Canceling a run from a signal: stop at the next safe point, or at once inside user code.

A run worker turns SIGTERM into a cancel request. The coordinator checks the request
between events; an in-process step that is running user code (perhaps sleeping for
minutes) is interrupted right away by raising :class:`RunInterrupted` in it.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Iterator


class RunInterrupted(BaseException):
    """Raised inside a running step when its run is canceled; a BaseException so ops cannot swallow it."""


class _CancelState:
    requested = False
    in_user_code = 0


def cancel_requested() -> bool:
    return _CancelState.requested


def reset() -> None:
    """Forget an earlier cancel request (a new run starts in this process)."""
    _CancelState.requested = False


def request_cancel() -> None:
    """Ask the run in this process to stop; interrupts user code that is running on this thread."""
    _CancelState.requested = True
    if _CancelState.in_user_code:
        raise RunInterrupted("The run was canceled.")


@contextmanager
def user_code() -> Iterator[None]:
    """Mark the main thread as running an op, where a cancel request may interrupt it."""
    _CancelState.in_user_code += 1
    try:
        if _CancelState.requested:
            raise RunInterrupted("The run was canceled.")
        yield
    finally:
        _CancelState.in_user_code -= 1


def cancel_on_sigterm() -> None:
    """Turn SIGTERM into a cancel request (call once, from the main thread of a run worker, before its run)."""
    reset()
    signal.signal(signal.SIGTERM, lambda signum, frame: request_cancel())
