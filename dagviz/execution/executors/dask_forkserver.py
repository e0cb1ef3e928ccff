"""The process a run's own LocalCluster forks its Dask workers from.

By default Dask spawns each worker as a new interpreter that imports ``distributed`` (about
0.3 s of CPU each); two of them, beside the scheduler, take about 0.6 s to start on two
cores. A forkserver that has imported ``distributed`` once forks a ready worker in a few
milliseconds, and its workers stop in 20 ms instead of 0.2 s. It is started before this
process imports ``distributed`` itself, so the two imports run side by side.

The forkserver keeps the environment it started with: the cluster passes the coordinator's
current environment to each worker (``env=``), and the workers import dagviz and the job
only then, so settings read at import time (fsspec's ``FSSPEC_*`` variables) are current.
This module imports nothing heavy: it must run before ``distributed`` is imported.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver

# Only distributed: what it imports reads no settings at import time.
PRELOAD = ["distributed"]


def forkserver_available() -> bool:
    return "forkserver" in multiprocessing.get_all_start_methods()


def start_worker_forkserver() -> None:
    """Start the forkserver now (it imports ``distributed`` in the background); no-op where there is none."""
    if not forkserver_available():
        return
    multiprocessing.get_context("forkserver").set_forkserver_preload(PRELOAD)
    multiprocessing.forkserver.ensure_running()
