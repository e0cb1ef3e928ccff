"""The step-key grammar: op[key], op[k1][k2], op[?], graph.op[key]; format, parse, validate."""

from __future__ import annotations

import pytest

from dagviz import InvalidDefinitionError, InvalidMappingKeyError, InvalidStepKeyError
from dagviz.step_keys import (
    StepKey,
    format_step_key,
    join_handle,
    parse_step_key,
    sanitize_mapping_key,
    unresolved_step_key,
    validate_mapping_key,
    validate_node_name,
)


@pytest.mark.parametrize(
    "node, keys, text",
    [
        ("emit", (), "emit"),
        ("work", ("k1",), "work[k1]"),
        ("score", ("eu", "c42"), "score[eu][c42]"),
        ("g.inner", ("slow",), "g.inner[slow]"),
        ("outer.g.inner", ("a", "b", "c"), "outer.g.inner[a][b][c]"),
    ],
)
def test_format_and_parse_are_inverse(node, keys, text):
    assert format_step_key(node, keys) == text
    parsed = parse_step_key(text)
    assert parsed == StepKey(node, keys)
    assert parsed.node == node and parsed.mapping_keys == keys
    assert str(parsed) == text


def test_unresolved_keys_use_a_question_mark_per_level():
    assert unresolved_step_key("work", 1) == "work[?]"
    assert unresolved_step_key("score", 2) == "score[?][?]"
    assert unresolved_step_key("emit", 0) == "emit"
    pattern = parse_step_key("score[?][?]")
    assert pattern.is_unresolved
    assert not parse_step_key("score[eu][c1]").is_unresolved


def test_an_unresolved_pattern_matches_the_concrete_keys_it_stands_for():
    assert parse_step_key("score[?][?]").matches(parse_step_key("score[eu][c1]"))
    assert parse_step_key("score[eu][?]").matches(parse_step_key("score[eu][c1]"))
    assert not parse_step_key("score[us][?]").matches(parse_step_key("score[eu][c1]"))
    assert not parse_step_key("score[?]").matches(parse_step_key("score[eu][c1]"))
    assert not parse_step_key("other[?]").matches(parse_step_key("score[eu]"))


@pytest.mark.parametrize(
    "bad",
    ["", "op[", "op]", "op[]", "op[a-b]", "op[a]x", "op[a][", ".op", "op.", "g..op", "op name", "op[a b]", "op[[a]]"],
)
def test_malformed_step_keys_raise_invalid_step_key_error(bad):
    with pytest.raises(InvalidStepKeyError, match="invalid"):
        parse_step_key(bad)


def test_non_string_step_key_raises_invalid_step_key_error():
    with pytest.raises(InvalidStepKeyError):
        parse_step_key(None)  # type: ignore[arg-type]


def test_join_handle_builds_graph_paths():
    assert join_handle(None, "op") == "op"
    assert join_handle("g", "op") == "g.op"
    assert join_handle("outer.g", "op") == "outer.g.op"


def test_validate_mapping_key_returns_valid_keys_and_rejects_invalid_ones():
    assert validate_mapping_key("c42") == "c42"
    with pytest.raises(InvalidMappingKeyError):
        validate_mapping_key("c-42")
    with pytest.raises(InvalidMappingKeyError):
        validate_mapping_key("class")
    with pytest.raises(InvalidMappingKeyError):
        validate_mapping_key(42)


def test_validate_node_name_rejects_invalid_and_reserved_names():
    assert validate_node_name("my_op") == "my_op"
    with pytest.raises(InvalidDefinitionError):
        validate_node_name("my.op")
    with pytest.raises(InvalidDefinitionError):
        validate_node_name("lambda")


@pytest.mark.parametrize(
    "text, key", [("report 2024.csv", "report_2024_csv"), ("class", "class_"), ("", "_"), ("ok_1", "ok_1")]
)
def test_sanitize_mapping_key_turns_any_text_into_a_valid_key(text, key):
    assert sanitize_mapping_key(text) == key
    assert validate_mapping_key(sanitize_mapping_key(text)) == key


def test_every_step_key_of_a_nested_run_parses_back_to_its_node_and_mapping_keys():
    from dagviz import DynamicOut, DynamicOutput, graph, job, op

    @op(out=DynamicOut())
    def outer():
        for key in ("eu", "us"):
            yield DynamicOutput(key, mapping_key=key)

    @op(out=DynamicOut())
    def inner(region):
        for index in range(2):
            yield DynamicOutput(f"{region}{index}", mapping_key=f"c{index}")

    @op
    def leaf(value):
        return value

    @op
    def gather(values):
        return values

    @graph
    def per_region(region):
        return gather(inner(region).map(leaf).collect())

    @job
    def keyed():
        gather(outer().map(per_region).collect())

    result = keyed.execute_in_process()
    assert "per_region.leaf[eu][c1]" in result.steps
    assert result.output_for_node("per_region.gather") == {"eu": ["eu0", "eu1"], "us": ["us0", "us1"]}
    assert result.output_for_node("gather") == [["eu0", "eu1"], ["us0", "us1"]]
    for key, step in result.steps.items():
        parsed = parse_step_key(key)
        assert parsed.node == step.node.handle
        assert parsed.mapping_keys == step.mapping_keys
