"""A daphne server with ``DAGVIZ_AUTH=on`` on the test database, for the tests that sign in for real."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests import servers

FAILURE_LIMIT = 3  # failed sign-ins before a lockout; the database is emptied after each test, lockouts too


@pytest.fixture(scope="module")
def auth_server(django_db_setup, django_db_blocker) -> Iterator[servers.DaphneServer]:
    with django_db_blocker.unblock():
        environment = servers.server_environment("dagviz.examples", DAGVIZ_AUTH="on",
                                                 DAGVIZ_LOGIN_FAILURE_LIMIT=str(FAILURE_LIMIT))
        for name in ("DAGVIZ_DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"):
            environment.pop(name, None)
        server = servers.DaphneServer(environment, "auth-daphne")
    yield server
    server.stop()
