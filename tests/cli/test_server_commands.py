"""The installed command's server side: workspace.yaml, `webserver`, `daemon`, `migrate` and the runs commands.

Each test works in an empty folder with its own SQLite home, as a user's shell would.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from dagviz.errors import WorkspaceLoadError
from dagviz.workspace_file import read_workspace_file
from tests.servers import free_port

JOBS = textwrap.dedent('''
    from dagviz import job, op

    @op
    def hello():
        return "hello"

    @job
    def hello_job():
        hello()
''')


def dagviz_in(folder: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dagviz", *args], cwd=folder, env=user_env(folder),
                          capture_output=True, text=True, timeout=timeout)


def user_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGVIZ_", "DJANGO_")) and k != "DATABASE_URL"}
    env["DAGVIZ_HOME"] = str(folder / ".dagviz")
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "jobs.py").write_text(JOBS)
    return tmp_path


# -- workspace.yaml ---------------------------------------------------------------------------------


def test_workspace_yaml_in_dagsters_forms(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "workspace.yaml").write_text(textwrap.dedent("""
        load_from:
          - python_file: jobs.py
          - python_file:
              relative_path: more/other.py
              working_directory: more
              location_name: other
          - python_module: my_module
          - python_module:
              module_name: pkg.jobs
              working_directory: pkg
              attribute: defs
          - python_package: my_package
    """))
    spec = read_workspace_file(tmp_path / "workspace.yaml")
    assert spec.entries == [str(tmp_path / "jobs.py"), str(tmp_path / "more" / "other.py"), "my_module", "pkg.jobs",
                            "my_package"]
    assert spec.import_paths == [str(tmp_path), str(tmp_path / "more"), str(tmp_path / "pkg")]


@pytest.mark.parametrize("text, words", [
    ("load_from: jobs.py", ["load_from"]),
    ("load_from:\n  - python_notebook: x.ipynb", ["unknown entry", "python_notebook"]),
    ("load_from:\n  - python_file: {working_directory: .}", ["relative_path"]),
    ("load_from:\n  - python_module: {module_name: m, colour: red}", ["unknown key", "colour"]),
    ("load_from: [python_file: [", ["not valid YAML"]),
])
def test_a_malformed_workspace_yaml_says_what_is_wrong(tmp_path, text, words):
    (tmp_path / "workspace.yaml").write_text(text)
    with pytest.raises(WorkspaceLoadError) as raised:
        read_workspace_file(tmp_path / "workspace.yaml")
    for word in words:
        assert word in str(raised.value)


def test_commands_use_workspace_yaml_of_the_current_folder(project):
    (project / "workspace.yaml").write_text("load_from:\n  - python_file: jobs.py\n")
    listed = dagviz_in(project, "jobs")
    assert listed.returncode == 0, listed.stderr
    assert "hello_job" in listed.stdout and "process_directory" not in listed.stdout
    explicit = dagviz_in(project.parent, "jobs", "-w", str(project / "workspace.yaml"))
    assert "hello_job" in explicit.stdout, explicit.stderr


def test_a_module_of_the_current_folder_is_found(project):
    listed = dagviz_in(project, "jobs", "-m", "jobs")
    assert listed.returncode == 0, listed.stderr
    assert "hello_job" in listed.stdout


def test_a_file_imports_helpers_from_its_own_folder_and_so_do_its_run_workers(tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "helpers.py").write_text("GREETING = 'hello from a helper'\n")
    (tmp_path / "code" / "jobs.py").write_text(JOBS.replace('return "hello"', "return helpers.GREETING")
                                               .replace("from dagviz import", "import helpers\nfrom dagviz import"))
    launched = dagviz_in(tmp_path, "launch", "-f", "code/jobs.py", "hello_job", "--wait", "--json")
    assert launched.returncode == 0, launched.stderr
    assert json.loads(launched.stdout)["status"] == "SUCCESS"


# -- the runs commands through `dagviz` ---------------------------------------------------------------


def test_runs_commands_are_the_manage_py_commands_with_the_same_json(project):
    executed = dagviz_in(project, "execute", "-f", "jobs.py")
    assert executed.returncode == 0, executed.stderr
    listed = json.loads(dagviz_in(project, "runs", "--json").stdout)
    assert [row["job"] for row in listed["runs"]] == ["hello_job"]
    run_id = listed["runs"][0]["run_id"]
    shown = json.loads(dagviz_in(project, "show-run", run_id, "--json").stdout)
    assert shown["run_id"] == run_id and shown["status"] == "SUCCESS"
    assert [step["key"] for step in shown["steps"]] == ["hello"]

    launched = dagviz_in(project, "launch", "-f", "jobs.py", "hello_job", "--wait", "--json")
    assert launched.returncode == 0, launched.stderr
    assert json.loads(launched.stdout)["status"] == "SUCCESS"
    again = dagviz_in(project, "reexecute", json.loads(launched.stdout)["run_id"], "--all", "--wait", "--json",
                      "-f", "jobs.py")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["status"] == "SUCCESS"
    assert len(json.loads(dagviz_in(project, "runs", "--json").stdout)["runs"]) == 3


def test_bad_input_to_a_runs_command_exits_2_with_one_line(project):
    result = dagviz_in(project, "show-run", "00000000-0000-0000-0000-000000000000")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    unknown_job = dagviz_in(project, "launch", "-f", "jobs.py", "no_such_job")
    assert unknown_job.returncode == 2 and "no_such_job" in unknown_job.stderr


# -- webserver and daemon, the processes of a deployment ------------------------------------------------


def test_webserver_refuses_a_database_that_is_not_migrated(project):
    result = dagviz_in(project, "webserver", "--port", str(free_port()), timeout=60)
    assert result.returncode == 2
    assert "dagviz migrate" in result.stderr


def test_a_taken_port_is_refused_at_once_with_the_reason(project):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = dagviz_in(project, "dev", "-f", "jobs.py", "--port", str(port), timeout=60)
    assert result.returncode == 2
    assert f"127.0.0.1:{port}" in result.stderr and "--port" in result.stderr


def test_webserver_and_daemon_serve_a_migrated_home_and_stop_on_sigterm(project):
    assert dagviz_in(project, "migrate").returncode == 0
    port = free_port()
    log = open(project / "servers.log", "wb")
    webserver = subprocess.Popen([sys.executable, "-m", "dagviz", "webserver", "-f", "jobs.py", "--port", str(port)],
                                 cwd=project, env=user_env(project), stdout=log, stderr=subprocess.STDOUT)
    daemon = subprocess.Popen([sys.executable, "-m", "dagviz", "daemon", "-f", "jobs.py"], cwd=project,
                              env=user_env(project), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert webserver.poll() is None, (project / "servers.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    assert b"hello_job" in response.read()
                    break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, (project / "servers.log").read_text()
                time.sleep(0.1)
        assert daemon.poll() is None, (project / "servers.log").read_text()
    finally:
        for process in (webserver, daemon):
            process.send_signal(signal.SIGTERM)
        exits = [process.wait(timeout=10) for process in (webserver, daemon)]
        log.close()
    assert exits == [0, 0], (project / "servers.log").read_text()


def test_dev_stops_its_daemon_on_sigterm_within_ten_seconds(project):
    port = free_port()
    log_path = project / "dev.log"
    with open(log_path, "wb") as log:
        dev = subprocess.Popen([sys.executable, "-m", "dagviz", "dev", "-f", "jobs.py", "--port", str(port)],
                               cwd=project, env=user_env(project), stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while f"http://127.0.0.1:{port}/" not in log_path.read_text():
            assert dev.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        children = psutil.Process(dev.pid).children(recursive=True)
        assert any("daemon" in " ".join(child.cmdline()) for child in children), [c.cmdline() for c in children]
        dev.send_signal(signal.SIGTERM)  # to the dev process only, as a service manager does
        started = time.monotonic()
        assert dev.wait(timeout=15) == 0, log_path.read_text()
        assert time.monotonic() - started <= 10.0
        _, alive = psutil.wait_procs(children, timeout=1)
        assert not alive, [child.pid for child in alive]
    finally:
        if dev.poll() is None:
            os.killpg(dev.pid, signal.SIGKILL)
