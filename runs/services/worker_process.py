"""Is a run's worker process still ours? Pids are reused, so a pid alone proves nothing."""

from __future__ import annotations

import socket

import psutil

from runs.models import Run

OURS, GONE, OTHER, ELSEWHERE = "ours", "gone", "other", "elsewhere"


def worker_process_state(run: Run) -> str:
    """OURS: the pid runs this run's worker; GONE: no such process (or a zombie); OTHER: the pid
    now belongs to an unrelated process; ELSEWHERE: the worker runs on another host (or has no pid yet)."""
    if not run.worker_pid or (run.worker_host and run.worker_host != socket.gethostname()):
        return ELSEWHERE
    try:
        process = psutil.Process(run.worker_pid)
        if process.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return GONE
        command = process.cmdline()
    except psutil.NoSuchProcess:
        return GONE
    except psutil.AccessDenied:
        return OTHER
    if not command:
        return GONE  # a process that is exiting has already lost its command line
    return OURS if str(run.id) in " ".join(command) else OTHER
