"""The product as a new user gets it: the built wheel in a fresh venv outside the checkout, `dagviz dev -f`
in an empty folder with a job file, on the default SQLite home (``./.dagviz``).

One server serves the whole module (starting it is what is being tested, once); the tests run in
file order and share it. A separate test stops it with SIGINT and checks nothing is left behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.servers import free_port

REPO = Path(__file__).resolve().parents[2]
START_SECONDS = 60.0
RELOAD_SECONDS = 10.0

JOB_FILE = '''
import time

from dagviz import DynamicOut, DynamicOutput, job, op


@op(out=DynamicOut())
def emit():
    for i in range(3):
        yield DynamicOutput(i, mapping_key=f"k{i}")


@op
def double(x):
    return 2 * x


@op
def total(xs):
    return sum(xs)


@job
def my_job():
    total(emit().map(double).collect())


@op
def sleep_long():
    time.sleep(120)


@job
def slow_job():
    sleep_long()
'''

ADDED_JOB = '''

@job
def added_job():
    total(emit().map(double).collect())
'''


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def user_environment(venv: Path) -> dict[str, str]:
    """A shell of a new user: the venv's bin first, none of the test session's dagviz or Django variables."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DAGVIZ_", "DJANGO_")) and key not in ("DATABASE_URL", "PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from this checkout's sdist (so the sdist is complete too), installed into a new venv."""
    root = tmp_path_factory.mktemp("installed")
    run([sys.executable, "-m", "build", "--outdir", str(root / "dist"), str(REPO)], cwd=root, env=dict(os.environ))
    wheel = next((root / "dist").glob("dagviz-*.whl"))
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=root, env=dict(os.environ))
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)], cwd=root, env=dict(os.environ))
    return venv


class DevServer:
    def __init__(self, venv: Path, folder: Path) -> None:
        self.folder = folder
        self.env = user_environment(venv)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = folder.parent / "dev.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(["dagviz", "dev", "-f", "my_jobs.py", "--port", str(self.port)],
                                            cwd=folder, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self.group = self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"dagviz dev exited with {self.process.returncode}:\n{self.log()}"
            try:
                if self.get("/").status == 200:
                    return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        raise AssertionError(f"dagviz dev did not serve / within {START_SECONDS} s:\n{self.log()}")

    def get(self, path: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        request = urllib.request.Request(self.base + path, headers=headers or {})
        return urllib.request.urlopen(request, timeout=10)

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.base}/graphql", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.load(response)
        assert "errors" not in answer, answer
        return answer["data"]

    def job_names(self) -> list[str]:
        return [job["name"] for job in self.graphql("{ jobs { name } }")["jobs"]]

    def wait_for(self, condition, what: str, timeout: float):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}:\n{self.log()}")

    def group_members(self) -> list[psutil.Process]:
        members = []
        for process in psutil.process_iter():
            try:
                if os.getpgid(process.pid) == self.group and process.status() != psutil.STATUS_ZOMBIE:
                    members.append(process)
            except (ProcessLookupError, psutil.NoSuchProcess):
                continue
        return members

    def kill_everything(self) -> None:
        try:
            os.killpg(self.group, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(installed, tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("user") / "project"
    folder.mkdir()
    (folder / "my_jobs.py").write_text(JOB_FILE)
    dev = DevServer(installed, folder)
    try:
        dev.wait_ready()
        yield dev
    finally:
        if dev.process.poll() is None:
            dev.kill_everything()


def test_the_sdist_holds_the_ui_sources(installed):
    sdist = next((installed.parent / "dist").glob("dagviz-*.tar.gz"))
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"setup.py", "pyproject.toml", "templates/runs/run.html", "static/dagviz/js/pages/run.js",
            "static/vendor/cytoscape/LICENSE", "runs/migrations/0001_initial.py"} <= names


def test_the_wheel_ships_templates_static_files_and_migrations(installed):
    site = next((installed / "lib").glob("python3*/site-packages"))
    server_package = site / "dagviz" / "server"
    assert (server_package / "templates" / "runs" / "run.html").stat().st_size > 0
    assert (server_package / "static" / "dagviz" / "js" / "pages" / "run.js").stat().st_size > 0
    licences = list((server_package / "static" / "vendor").glob("*/LICENSE*"))
    assert len(licences) >= 4, licences
    assert list((site / "runs" / "migrations").glob("0001_*.py"))
    assert not (site / "tests").exists() and not (site / "templates").exists() and not (site / "static").exists()
    sources = {path.relative_to(REPO) for package in ("dagviz", "runs") for path in (REPO / package).rglob("*.py")
               if "__pycache__" not in path.parts}
    missing = sorted(str(path) for path in sources if not (site / path).is_file())
    assert not missing, f"modules of the checkout missing from the wheel: {missing}"


def test_dev_creates_its_home_in_the_current_folder(server):
    home = server.folder / ".dagviz"
    assert (home / "dagviz.sqlite3").is_file()
    assert (home / "static" / "staticfiles.json").is_file()
    assert f"http://127.0.0.1:{server.port}/" in server.log()


def test_pages_and_their_static_assets_load(server):
    pages = ["/", "/runs/", "/jobs/my_job/", "/jobs/my_job/launch", "/graphql"]
    assets: set[str] = set()
    for page in pages:
        with server.get(page, {"Accept": "text/html"}) as response:
            html = response.read().decode()
        assert response.status == 200 and html, page
        assets.update(re.findall(r'(?:src|href)="(/static/[^"]+)"', html))
    assert any(re.search(r"\.[0-9a-f]{12}\.js$", asset) for asset in assets), f"no hashed script names: {assets}"
    for asset in sorted(assets):
        with server.get(asset) as response:
            assert response.status == 200 and len(response.read()) > 0, asset
    hashed = next(asset for asset in sorted(assets) if re.search(r"\.[0-9a-f]{12}\.js$", asset))
    with server.get(hashed, {"Accept-Encoding": "gzip"}) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert "immutable" in response.headers["Cache-Control"]


def test_a_run_launched_through_graphql_succeeds(server):
    launched = server.graphql('mutation { launchRun(jobName: "my_job") { __typename ... on LaunchRunSuccess '
                              '{ run { id } } } }')["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["id"]
    query = "query($id: ID!) { run(id: $id) { status } }"
    status = server.wait_for(
        lambda: (s := server.graphql(query, {"id": run_id})["run"]["status"]) in ("SUCCESS", "FAILURE") and s,
        "the launched run to finish", 60)
    assert status == "SUCCESS"


def test_dagviz_execute_on_the_same_file_is_recorded_in_the_same_home(server):
    executed = run(["dagviz", "execute", "-f", "my_jobs.py", "-j", "my_job"], cwd=server.folder, env=server.env)
    run_id = re.search(r"Run ([0-9a-f-]{36}) of job 'my_job': SUCCESS", executed.stdout).group(1)
    listed = json.loads(run(["dagviz", "runs", "--json"], cwd=server.folder, env=server.env).stdout)
    assert run_id in [row["run_id"] for row in listed["runs"]]
    in_the_ui = [edge["node"]["id"] for edge in server.graphql("{ runs(first: 50) { edges { node { id } } } }")
                 ["runs"]["edges"]]
    assert run_id in in_the_ui
    ephemeral = run(["dagviz", "execute", "-f", "my_jobs.py", "-j", "my_job", "--ephemeral"], cwd=server.folder,
                    env=server.env)
    ephemeral_id = re.search(r"Run ([0-9a-f-]{36})", ephemeral.stdout).group(1)
    listed = json.loads(run(["dagviz", "runs", "--json"], cwd=server.folder, env=server.env).stdout)
    assert ephemeral_id not in [row["run_id"] for row in listed["runs"]]


def test_editing_the_file_adds_a_job_within_seconds(server):
    assert "added_job" not in server.job_names()
    with open(server.folder / "my_jobs.py", "a") as handle:
        handle.write(ADDED_JOB)
    server.wait_for(lambda: "added_job" in server.job_names(), "the new job after the edit", RELOAD_SECONDS)


def test_a_syntax_error_keeps_the_old_jobs_and_fixing_it_recovers(server):
    good = (server.folder / "my_jobs.py").read_text()
    (server.folder / "my_jobs.py").write_text(good + "\ndef broken(:\n")
    errors = server.wait_for(lambda: server.graphql("{ workspaceErrors { location message } }")["workspaceErrors"],
                             "the load error", RELOAD_SECONDS)
    assert "SyntaxError" in errors[0]["message"] and "Traceback" in errors[0]["message"]
    assert {"my_job", "added_job"} <= set(server.job_names())
    (server.folder / "my_jobs.py").write_text(good)
    server.wait_for(lambda: not server.graphql("{ workspaceErrors { location } }")["workspaceErrors"],
                    "the error to clear after the fix", RELOAD_SECONDS)
    assert {"my_job", "added_job"} <= set(server.job_names())


def test_sigint_stops_every_process_it_started(server):
    launched = server.graphql('mutation { launchRun(jobName: "slow_job") { ... on LaunchRunSuccess '
                              '{ run { id } } } }')["launchRun"]
    run_id = launched["run"]["id"]
    query = "query($id: ID!) { run(id: $id) { status } }"
    server.wait_for(lambda: server.graphql(query, {"id": run_id})["run"]["status"] == "STARTED",
                    "the slow run to start", 30)
    worker_pids = [p.pid for p in psutil.process_iter(["cmdline"]) if run_id in " ".join(p.info["cmdline"] or [])]
    assert worker_pids, "the run's worker process was not found"
    assert len(server.group_members()) >= 2, "dev should run the server and the daemon"

    os.killpg(server.group, signal.SIGINT)
    started = time.monotonic()
    server.process.wait(timeout=15)
    assert time.monotonic() - started <= 10.0, server.log()
    assert not server.group_members(), [p.cmdline() for p in server.group_members()]
    alive = [pid for pid in worker_pids if psutil.pid_exists(pid)
             and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"run workers left behind: {alive}"
    listed = json.loads(run(["dagviz", "runs", "--json"], cwd=server.folder, env=server.env).stdout)
    assert {row["run_id"]: row["status"] for row in listed["runs"]}[run_id] == "CANCELED"
