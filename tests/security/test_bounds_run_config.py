"""Run config and workspace files go through the bounded YAML loader: bombs, oversized and NUL-laden files refused."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from dagviz.config.run_config import load_run_config
from dagviz.config.safe_yaml import bounded_dict
from dagviz.errors import InvalidConfigError, WorkspaceLoadError
from dagviz.workspace_file import read_workspace_file
from runs.models import Run
from tests.runs.test_commands import assert_bad_input, manage
from tests.security.bounds_payloads import FEW_ANCHORS, alias_bomb

REFUSE_SECONDS = 1.0


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_alias_bomb_is_refused_in_under_a_second_naming_the_limit(tmp_path):
    path = write(tmp_path, "bomb.yaml", alias_bomb())
    assert len(alias_bomb().encode()) < 600
    started = time.monotonic()
    with pytest.raises(InvalidConfigError, match="DAGVIZ_MAX_RUN_CONFIG_NODES"):
        load_run_config(path)
    assert time.monotonic() - started < REFUSE_SECONDS


def test_too_many_alias_references_are_refused_even_when_each_expands_to_little(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGVIZ_MAX_RUN_CONFIG_ALIASES", "5")
    path = write(tmp_path, "aliases.yaml", "a: &a 1\nb: [" + ", ".join(["*a"] * 6) + "]\n")
    with pytest.raises(InvalidConfigError, match="more than 5 alias references.*DAGVIZ_MAX_RUN_CONFIG_ALIASES"):
        load_run_config(path)


def test_a_config_sharing_sections_with_a_few_anchors_still_loads(tmp_path):
    config = load_run_config(write(tmp_path, "ok.yaml", FEW_ANCHORS))
    assert config["ops"]["third"] == {"config": {"n": 3, "words": ["a", "b"]}}
    assert config["execution"] == {"in_process": {}}


def test_a_file_over_the_size_limit_is_refused_by_its_size(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGVIZ_MAX_RUN_CONFIG_BYTES", "1000")
    path = write(tmp_path, "big.yaml", "ops: {}\n" + "# padding\n" * 200)
    with pytest.raises(InvalidConfigError, match="more than the limit of 1,000 bytes.*DAGVIZ_MAX_RUN_CONFIG_BYTES"):
        load_run_config(path)
    with pytest.raises(InvalidConfigError, match="DAGVIZ_MAX_RUN_CONFIG_BYTES"):
        load_run_config("{" + " " * 1000 + "}")  # inline text too


def test_deep_nesting_is_refused_before_the_parser_runs_out_of_stack(tmp_path):
    path = write(tmp_path, "deep.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(InvalidConfigError, match="DAGVIZ_MAX_RUN_CONFIG_DEPTH"):
        load_run_config(path)


@pytest.mark.parametrize("text", ['ops: {"a\\0b": {}}\n', 'ops:\n  a: {config: {s: "x\\0y"}}\n'])
def test_a_nul_byte_in_a_key_or_a_value_is_refused(tmp_path, text):
    with pytest.raises(InvalidConfigError, match="NUL byte"):
        load_run_config(write(tmp_path, "nul.yaml", text))


def test_a_workspace_file_bomb_is_a_workspace_load_error_naming_the_limit(tmp_path):
    path = write(tmp_path, "workspace.yaml", "load_from: []\n" + alias_bomb().replace("execution", "x-execution"))
    with pytest.raises(WorkspaceLoadError, match="DAGVIZ_MAX_RUN_CONFIG_NODES"):
        read_workspace_file(path)


def test_parsed_json_arguments_are_bounded_in_values_depth_and_nul():
    deep: dict = {}
    inner = deep
    for _ in range(200):
        inner["a"] = {}
        inner = inner["a"]
    with pytest.raises(InvalidConfigError, match="DAGVIZ_MAX_RUN_CONFIG_DEPTH"):
        bounded_dict(deep, "runConfig")
    with pytest.raises(InvalidConfigError, match="DAGVIZ_MAX_RUN_CONFIG_NODES"):
        bounded_dict({"execution": {"in_process": {"x": list(range(100_001))}}}, "runConfig")
    with pytest.raises(InvalidConfigError, match="NUL byte"):
        bounded_dict({"team": "a\x00b"}, "tags")
    assert bounded_dict(json.loads('{"ops": {"a": {"config": {"n": 1}}}}'), "runConfig")["ops"]["a"]["config"]["n"] == 1


@pytest.mark.django_db(transaction=True)
def test_manage_py_launch_refuses_the_bomb_with_one_line_and_launches_nothing(tmp_path):
    path = write(tmp_path, "bomb.yaml", alias_bomb())
    started = time.monotonic()
    result = manage("launch", "process_directory", "--config", path)
    assert_bad_input(result, "DAGVIZ_MAX_RUN_CONFIG_NODES")
    assert time.monotonic() - started < 30  # the interpreter's start-up; the refusal itself is milliseconds
    assert Run.objects.count() == 0


def test_a_recursive_anchor_is_refused_instead_of_walked_forever(tmp_path):
    with pytest.raises(InvalidConfigError, match="DAGVIZ_MAX_RUN_CONFIG_(DEPTH|NODES)"):
        load_run_config(write(tmp_path, "cycle.yaml", "ops: &a {x: *a}\n"))
