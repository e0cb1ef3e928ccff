"""``dagviz dev`` and ``dagviz webserver`` refuse other machines while authentication is off.

Each test runs the installed command in an empty folder with its own SQLite home, as a user would.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers import free_port

DAGVIZ = str(Path(sys.executable).parent / "dagviz")
START_SECONDS = 60.0


def user_env(folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGVIZ_", "DJANGO_")) and k != "DATABASE_URL"}
    return {**env, "DAGVIZ_HOME": str(folder / ".dagviz"), "PYTHONUNBUFFERED": "1", **extra}


def run(folder: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([DAGVIZ, *args], cwd=folder, env=user_env(folder, **extra), capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("command, host", [("dev", "0.0.0.0"), ("dev", "::"), ("dev", "192.168.1.20"),
                                           ("dev", "dagviz.example.com"), ("webserver", "0.0.0.0")])
def test_a_non_loopback_host_without_auth_is_refused(tmp_path, command, host):
    started = time.monotonic()
    refused = run(tmp_path, command, "-m", "dagviz.examples", "--host", host, "--port", str(free_port()))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"Refusing to listen on {host}" in refused.stderr
    assert "DAGVIZ_AUTH=on" in refused.stderr and "dagviz users add" in refused.stderr
    assert "--allow-unauthenticated" in refused.stderr and "Traceback" not in refused.stderr
    assert time.monotonic() - started < 30


def serve_until_ready(folder: Path, *args: str, **extra: str) -> tuple[str, str]:
    """Start ``dagviz ARGS``, wait for its "serving" line, stop it; returns (stdout so far, stderr)."""
    process = subprocess.Popen([DAGVIZ, *args], cwd=folder, env=user_env(folder, **extra), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    output = ""
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + START_SECONDS
            while "serving http://" not in output and time.monotonic() < deadline and process.poll() is None:
                if selector.select(timeout=0.5):
                    output += process.stdout.readline()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # dev stops its daemon too, as on Ctrl-C
        try:
            _, errors = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            _, errors = process.communicate()
    assert "serving http://" in output, output + errors
    return output, errors


def test_allow_unauthenticated_starts_with_the_warning(tmp_path):
    port = free_port()
    output, errors = serve_until_ready(tmp_path, "dev", "-m", "dagviz.examples", "--host", "0.0.0.0", "--port",
                                       str(port), "--allow-unauthenticated")
    assert f"serving http://0.0.0.0:{port}/" in output
    assert "reachable from other machines" in errors


def test_with_auth_on_a_non_loopback_host_starts_and_says_to_create_a_user(tmp_path):
    output, errors = serve_until_ready(tmp_path, "dev", "-m", "dagviz.examples", "--host", "0.0.0.0", "--port",
                                       str(free_port()), DAGVIZ_AUTH="on")
    assert "reachable from other machines" in errors
    assert "no active user has a role" in errors and "dagviz users add" in errors



@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.5", "::1", "localhost"])
def test_loopback_needs_nothing(settings, host):
    from dagviz.server.commands import refuse_open_access

    settings.DAGVIZ_AUTH = False
    refuse_open_access(host, allow_unauthenticated=False)


def test_with_auth_on_any_host_may_be_served(settings):
    from dagviz.server.commands import ServerStartError, refuse_open_access

    settings.DAGVIZ_AUTH = False
    with pytest.raises(ServerStartError):
        refuse_open_access("10.0.0.1", allow_unauthenticated=False)
    settings.DAGVIZ_AUTH = True
    refuse_open_access("10.0.0.1", allow_unauthenticated=False)
