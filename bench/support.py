"""What the benchmarks that talk to a real server share: a free port, daphne, and GraphQL over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
SERVER_START_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql_post(url: str, query: str, variables: dict | None = None) -> dict[str, Any]:
    """The server's whole answer (``data`` and ``errors``) to one GraphQL request."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def graphql_data(url: str, query: str, variables: dict | None = None) -> dict[str, Any]:
    """The ``data`` of a GraphQL answer that must have no errors."""
    answer = graphql_post(url, query, variables)
    assert not answer.get("errors"), answer
    return answer["data"]


def timed_graphql(client: Any, query: str, variables: dict, repeat: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Post one GraphQL query ``repeat`` times through a Django test client: its times and its last data."""
    body = json.dumps({"query": query, "variables": variables})
    times, answer = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.post("/graphql", body, content_type="application/json")
        times.append((time.perf_counter() - began) * 1000)
        answer = response.json()
        assert response.status_code == 200 and not answer.get("errors"), answer
    return {"median_ms": round(statistics.median(times), 1), "times_ms": [round(t, 1) for t in times]}, answer["data"]


def setup_django() -> None:
    """Django for a bench that uses the ORM: DATABASE_URL, or SQLite in a new temporary DAGVIZ_HOME, migrated."""
    os.environ.setdefault("DAGVIZ_HOME", tempfile.mkdtemp(prefix="dagviz-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "dagviz.server.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@contextlib.contextmanager
def daphne(env: dict[str, str]) -> Iterator[str]:
    """``daphne dagviz.server.asgi:application`` on a free port with ``env``; yields its base URL once /healthz answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                               "dagviz.server.asgi:application"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"daphne did not answer {base}/healthz") from None
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)
