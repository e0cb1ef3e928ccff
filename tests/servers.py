"""Real servers for the tests: a free port on 127.0.0.1, and daphne serving dagviz on the test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings

SERVER_START_SECONDS = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_environment(workspace: str, **overrides: str) -> dict[str, str]:
    """This process's environment for a server on the test database (its workers too), serving ``workspace``."""
    from runs.services.launch import database_url_for_workers

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dagviz.settings",
        "DATABASE_URL": database_url_for_workers(),
        "DAGVIZ_HOME": str(settings.DAGVIZ_HOME),
        "DAGVIZ_WORKSPACE": workspace,
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if the process is still there after 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class DaphneServer:
    """``python -m daphne dagviz.asgi:application`` on a free port, ready once ``/healthz`` answers 200.

    Its output goes to ``<DAGVIZ_HOME>/logs/<name>-<port>.log``, which failing tests print.
    """

    def __init__(self, env: dict[str, str], name: str = "daphne") -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/graphql"
        self.env = env
        self.log_path = Path(settings.DAGVIZ_HOME) / "logs" / f"{name}-{self.port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "dagviz.asgi:application"],
                env=env, cwd=settings.BASE_DIR, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + SERVER_START_SECONDS
        attempts, last_error = 0, None
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"daphne exited with {self.process.returncode}:\n{self.log()}")
            attempts += 1
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
                    last_error = f"HTTP {response.status}"
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                last_error = repr(error)
            if time.monotonic() > deadline:
                raise AssertionError(f"daphne did not answer /healthz within {SERVER_START_SECONDS:g} s "
                                     f"({attempts} attempts, last: {last_error}):\n{self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no daphne log)"

    def stop(self) -> None:
        stop_process(self.process)


class S3Server:
    """moto's S3-compatible server (``python -m moto.server``) on a free port of 127.0.0.1.

    A real HTTP endpoint, so s3fs in this process, in spawned workers and in Dask workers all
    talk to it over the network exactly as they would to MinIO or AWS.
    """

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"moto.server exited with {self.process.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"moto.server did not listen within {SERVER_START_SECONDS:g} s:\n"
                                         f"{self.log()}") from None
                time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no moto log)"

    def stop(self) -> None:
        stop_process(self.process)
