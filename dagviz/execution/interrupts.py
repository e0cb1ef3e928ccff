"""Canceling a run from a signal: stop at the next safe point, or at once inside user code.

A run worker turns SIGTERM into a cancel request. The coordinator checks the request
between events; an in-process step that is running user code (perhaps sleeping for
minutes) is interrupted right away by raising :class:`RunInterrupted` in it.
"""

from __future__ import annotations

import signal


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


class _UserCode:
    """``with user_code():`` marks the main thread as running an op, where a cancel request may interrupt it.

    A class rather than a generator-based context manager: it wraps every step of every key.
    """

    def __enter__(self) -> None:
        _CancelState.in_user_code += 1
        if _CancelState.requested:
            _CancelState.in_user_code -= 1
            raise RunInterrupted("The run was canceled.")

    def __exit__(self, *exc_info: object) -> None:
        _CancelState.in_user_code -= 1


_USER_CODE = _UserCode()


def user_code() -> _UserCode:
    """Mark the main thread as running an op, where a cancel request may interrupt it (a context manager)."""
    return _USER_CODE


def cancel_on_sigterm() -> None:
    """Turn SIGTERM into a cancel request (call once, from the main thread of a run worker, before its run)."""
    reset()
    signal.signal(signal.SIGTERM, lambda signum, frame: request_cancel())
