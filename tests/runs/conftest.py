"""Every test here runs against a real (committed) database, because run workers are other processes.

The workspace gets the test jobs (``tests.runs.jobs``); the launcher passes it to workers in
their environment. After each test, worker processes must be gone: a test that leaves one
running fails, after the process group has been killed so that it cannot write into the next
test's database.
"""

from __future__ import annotations

import os
import socket

import pytest

from runs.models import Run
from tests.runs.jobs import CONTROL_ENV
from tests.runs.support import WORKSPACE, Control, kill_group, live_group_members, reap, wait_until


@pytest.fixture(autouse=True)
def runs_workspace(transactional_db, settings):
    settings.DAGVIZ_WORKSPACE = WORKSPACE
    yield
    left = {}
    pids = Run.objects.exclude(worker_pid=None).filter(worker_host__in=["", socket.gethostname()])
    for pid in set(pids.values_list("worker_pid", flat=True)):
        if pid <= 1 or pid in (os.getpid(), os.getpgrp()):
            continue  # a made-up pid of a test, never a worker this test started
        # A finished run's worker exits right after recording the end; give it a moment.
        try:
            wait_until(lambda: (reap(pid), not live_group_members(pid))[1], 5.0, f"worker {pid} to exit")
        except AssertionError:
            left[pid] = live_group_members(pid)
            kill_group(pid)
    assert not left, f"the test left worker process groups running (killed now): {left}"


@pytest.fixture
def control(tmp_path, monkeypatch) -> Control:
    directory = tmp_path / "control"
    monkeypatch.setenv(CONTROL_ENV, str(directory))
    return Control(directory)
