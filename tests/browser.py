"""The browser tests' shared parts: Debian's Chromium driven by Playwright, and the daphne server it talks to.

Its fixtures are registered once, in ``tests/conftest.py``, so the UI tests and the security tests
share one browser and one server per session: Playwright's sync API allows one instance per thread.
"""

from __future__ import annotations

import os

import pytest

from tests import servers

# Playwright's sync API runs an event loop in this thread; the ORM calls of the tests are fine.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
EXPECT_TIMEOUT_MS = 30_000


class UIServer(servers.DaphneServer):
    """The server the browser talks to, on the test database, serving the example jobs (or ``workspace``)."""

    def __init__(self, workspace: str = "dagviz.examples") -> None:
        environment = servers.server_environment(workspace)
        for name in ("DAGVIZ_DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"):
            environment.pop(name, None)
        super().__init__(environment, "ui-daphne")
        self.url = self.base


@pytest.fixture(scope="session")
def ui_server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = UIServer()
    yield server
    server.stop()


def ui_server_for(workspace: str):
    """A module-scoped fixture: a server of its own serving ``workspace`` (a module of test jobs)."""

    @pytest.fixture(scope="module")
    def server(django_db_setup, django_db_blocker):
        with django_db_blocker.unblock():
            started = UIServer(workspace)
        yield started
        started.stop()

    return server


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
