"""Browser tests of the web UI: a real daphne server, real run workers and Debian's Chromium.

The server is started once per session on the test database (a committed database: tests use
``@pytest.mark.django_db(transaction=True)``), and each test gets a fresh browser page. After a
test, every run it started must have ended (their workers write to the database the next test
gets), and the page's screenshot is saved under ``artifacts/screenshots/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from django.conf import settings

from tests.browser import EXPECT_TIMEOUT_MS, UIServer  # noqa: F401  (the fixtures are in tests/conftest.py)

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
RUNS_END_SECONDS = 30


def _end_runs_left_running() -> list[str]:
    """Wait for the test's runs to end; terminate the process groups of those that do not."""
    from runs.models import ACTIVE_STATUSES, Run, RunStatus

    active = (*ACTIVE_STATUSES, RunStatus.QUEUED)
    deadline = time.monotonic() + RUNS_END_SECONDS
    while Run.objects.filter(status__in=active).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    left = []
    for run in Run.objects.filter(status__in=active).exclude(worker_pid=None):
        left.append(f"{run.job_name} {run.id} {run.status}")
        try:
            os.killpg(run.worker_pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    # A finished run's worker exits right after writing its end; let it go before the flush.
    for pid in Run.objects.exclude(worker_pid=None).values_list("worker_pid", flat=True):
        deadline = time.monotonic() + 5
        while _running_in_group(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    return left


def _running_in_group(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies only wait for daphne to reap them)."""
    import psutil

    for process in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return False


@contextlib.contextmanager
def checked_page(request, browser, base_url: str, server_log: Callable[[], str]) -> Iterator[Any]:
    """A fresh page at ``base_url``; its console errors fail the test, runs it leaves going are ended and
    fail it too, and a screenshot is kept at the end."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, base_url=base_url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("console", lambda message: errors.append(f"console: {message.text}") if message.type == "error" else None)
    page.errors = errors
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}-end.png"), full_page=True)
    except Exception:  # a failed test may have closed the page; the screenshot is a bonus
        pass
    context.close()
    left = _end_runs_left_running()
    assert not left, f"runs still going after the test (killed): {left}\n{server_log()[-3000:]}"
    assert not errors, "errors in the browser:\n" + "\n".join(errors)


@pytest.fixture
def page(request, ui_server, browser, transactional_db):
    """A fresh page on the server (see ``checked_page``)."""
    with checked_page(request, browser, ui_server.url, ui_server.log) as page:
        yield page


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def post_graphql(server, query: str, variables: dict) -> dict:
    """The data of a GraphQL request to ``server`` (as a script would send it); errors fail the test."""
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(f"{server.base}/graphql", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.loads(response.read())
    assert not answer.get("errors"), answer
    return answer["data"]


def launch(server, job: str, run_config: dict) -> str:
    """Launch ``job`` through the GraphQL API; the run's id."""
    answer = post_graphql(server, """mutation($job: String!, $config: JSONString) {
      launchRun(jobName: $job, runConfig: $config) { __typename ... on LaunchRunSuccess { run { id } } } }""",
                          {"job": job, "config": json.dumps(run_config)})["launchRun"]
    assert answer["__typename"] == "LaunchRunSuccess", answer
    return answer["run"]["id"]
