"""Real servers for the tests on 127.0.0.1: daphne serving dagviz on the test database, and an S3 endpoint."""

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
        "DJANGO_SETTINGS_MODULE": "dagviz.server.settings",
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


class ServerProcess:
    """A server in a process of its own, its output in ``log_path``; ready once ``probe`` finds it answering."""

    def __init__(self, name: str, command: list[str], log_path: Path, **popen: object) -> None:
        self.name = name
        self.log_path = log_path
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True, **popen)  # type: ignore[call-overload]
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def probe(self) -> str | None:
        """None once the server answers, else what went wrong this time."""
        raise NotImplementedError

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_SECONDS
        attempts = 0
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.log()}")
            attempts += 1
            failure = self.probe()
            if failure is None:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} was not ready within {SERVER_START_SECONDS:g} s "
                                     f"({attempts} attempts, last: {failure}):\n{self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else f"(no {self.name} log)"

    def stop(self) -> None:
        stop_process(self.process)


class DaphneServer(ServerProcess):
    """``python -m daphne dagviz.server.asgi:application`` on a free port, ready once ``/healthz`` answers 200.

    Its output goes to ``<DAGVIZ_HOME>/logs/<name>-<port>.log``, which failing tests print.
    """

    def __init__(self, env: dict[str, str], name: str = "daphne") -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/graphql"
        self.env = env
        super().__init__(
            name, [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "dagviz.server.asgi:application"],
            Path(settings.DAGVIZ_HOME) / "logs" / f"{name}-{self.port}.log", env=env, cwd=settings.BASE_DIR,
        )

    def probe(self) -> str | None:
        try:
            with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as response:
                return None if response.status == 200 else f"/healthz answered HTTP {response.status}"
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            return repr(error)


class S3Server(ServerProcess):
    """moto's S3-compatible server (``python -m moto.server``) on a free port of 127.0.0.1.

    A real HTTP endpoint, so s3fs in this process, in spawned workers and in Dask workers all
    talk to it over the network exactly as they would to MinIO or AWS.
    """

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        super().__init__("moto.server", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                         log_path)

    def probe(self) -> str | None:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return None
        except OSError as error:
            return repr(error)
