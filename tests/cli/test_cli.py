"""The dagviz command as a user runs it: a real interpreter, real output, real exit codes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dagviz.examples import process_directory
from dagviz.progress import ProgressLine

REPO = Path(__file__).resolve().parents[2]


def dagviz(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the command; runs it executes are recorded in the session's DAGVIZ_HOME (SQLite), never elsewhere."""
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "dagviz", *args], capture_output=True, text=True, timeout=120,
        cwd=cwd or REPO, env={**environment, **(env or {})},
    )


def test_jobs_lists_the_bundled_examples():
    result = dagviz("jobs")
    assert result.returncode == 0, result.stderr
    for name in ("process_directory", "flaky_fanout", "big_fanout", "streaming_fanout", "nested_fanout"):
        assert name in result.stdout
    assert "fans out" in result.stdout


def test_execute_process_directory_prints_counts_and_the_result():
    result = dagviz("execute", "-m", "dagviz.examples", "-j", "process_directory")
    assert result.returncode == 0, result.stderr
    assert "of job 'process_directory': SUCCESS" in result.stdout
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[2:5]}
    assert rows["process_file"] == ["4", "4", "0", "0"]
    assert "summarize_directory: {'files': 4" in result.stdout


def test_failed_run_exits_1_and_lists_each_failed_step_with_its_error(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("ops:\n  emit_keys: {config: {n: 6}}\n  flaky_work: {config: {sleep_ms: 1, fail_keys: [k1, k4]}}\n")
    result = dagviz("execute", "-j", "flaky_fanout", "-c", str(config))
    assert result.returncode == 1
    assert "FAILURE" in result.stdout
    assert "flaky_work[k1]: Failure: key k1 failed on purpose" in result.stdout
    assert "flaky_work[k4]: Failure: key k4 failed on purpose" in result.stdout
    assert "flaky_work[k2]" not in result.stdout


def test_unknown_job_is_bad_input_with_exit_2():
    result = dagviz("execute", "-j", "no_such_job")
    assert result.returncode == 2
    assert "Unknown job 'no_such_job'" in result.stderr
    assert "process_directory" in result.stderr  # says what would be valid


def test_invalid_config_names_the_path_and_exits_2(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("ops:\n  emit_many:\n    config: {n: many}\n")
    result = dagviz("execute", "-j", "big_fanout", "-c", str(config))
    assert result.returncode == 2
    assert "ops.emit_many.config.n: expected int, got str 'many'" in result.stderr


def test_unreadable_or_malformed_config_file_exits_2(tmp_path):
    missing = dagviz("execute", "-j", "big_fanout", "-c", str(tmp_path / "missing.yaml"))
    assert missing.returncode == 2 and "cannot read run config" in missing.stderr
    broken = tmp_path / "broken.yaml"
    broken.write_text("ops: [unclosed\n")
    malformed = dagviz("execute", "-j", "big_fanout", "-c", str(broken))
    assert malformed.returncode == 2 and "not valid YAML" in malformed.stderr


USER_JOB = textwrap.dedent(
    """
    from dagviz import DynamicOut, DynamicOutput, job, op

    @op(out=DynamicOut())
    def letters():
        for letter in "abc":
            yield DynamicOutput(letter, mapping_key=letter)

    @op
    def upper(letter):
        return letter.upper()

    @op
    def join(letters):
        return "".join(letters)

    @job
    def spell():
        join(letters().map(upper).collect())
    """
)


@pytest.mark.parametrize("executor", ["in_process", "multiprocess", "dask"])
def test_execute_a_job_from_a_file_with_any_executor(tmp_path, executor):
    source = tmp_path / "user_jobs.py"
    source.write_text(USER_JOB)
    result = dagviz("execute", "-f", str(source), "--executor", executor, cwd=tmp_path,
                    env={"DAGVIZ_HOME": str(tmp_path / "home")})
    assert result.returncode == 0, result.stderr
    assert "join: 'ABC'" in result.stdout


def test_a_file_that_fails_to_import_is_reported_with_its_traceback(tmp_path):
    source = tmp_path / "broken_jobs.py"
    source.write_text("import no_such_module_anywhere\n")
    result = dagviz("jobs", "-f", str(source))
    assert result.returncode == 2
    assert "ModuleNotFoundError" in result.stderr and "no_such_module_anywhere" in result.stderr


def test_progress_line_counts_finished_keys_per_op():
    stream = io.StringIO()
    progress = ProgressLine(stream, interval=0)
    result = process_directory.execute_in_process()
    for event in result.events:
        progress.handle(event)
    final = progress.render()
    assert "process_file 4/4" in final
    assert "files_in_directory 1/1" in final
    assert "process_file" in stream.getvalue()  # drawn while the run went on
