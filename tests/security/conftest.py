"""Security tests: attacks made for real (another site's page in Chromium, raw HTTP, racing launches).

The browser and the server under attack are the UI tests' own (``tests/browser.py``): a daphne
process on the test database serving the example jobs, and Debian's Chromium. The persistent-runs
tests' fixtures come too (``tests/runs/conftest.py``): the test jobs in the workspace, the control
directory that holds their steps, and the check, after every test, that no run worker is left running.
"""

from __future__ import annotations

from tests.runs.conftest import control, runs_workspace  # noqa: F401  (runs_workspace is autouse)
