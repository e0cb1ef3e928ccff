"""Config classes as op config: one schema (dagviz's own types) for validation, defaults, scaffolding and the API."""

import enum
from typing import Optional

import pytest
from pydantic import Field as PydanticField, field_validator

from dagviz import (
    Config,
    DynamicOut,
    DynamicOutput,
    InvalidConfigError,
    InvalidDefinitionError,
    PermissiveConfig,
    build_op_context,
    job,
    op,
)
from dagviz.config.pythonic import config_shape
from dagviz.config.run_config import default_run_config, run_config_type


class Color(enum.Enum):
    RED = 1
    GREEN = "g"


class Point(Config):
    x: int = 0
    y: int = 0


class Drawing(Config):
    title: str = PydanticField(description="Shown above the drawing.")
    color: Color = Color.GREEN
    origin: Point = Point()
    path: list[Point] = []
    weights: dict[str, float] = {}
    width: Optional[int] = None
    height: Optional[int]
    layers: list[str] = PydanticField(default_factory=lambda: ["base"])
    scale: float = 1


@op
def draw(config: Drawing) -> Drawing:
    return config


@job
def drawing():
    draw()


def _draw(config: dict) -> Drawing:
    return drawing.execute_in_process(run_config={"ops": {"draw": {"config": config}}}).output_for_node("draw")


def test_fields_become_schema_types_with_requiredness_defaults_and_descriptions():
    fields = run_config_type(drawing.nodes).to_json()["fields"]["ops"]["fields"]["draw"]["fields"]["config"]

    assert fields["required"] is True
    schema = fields["fields"]
    assert schema["title"] == {"type": "str", "required": True, "description": "Shown above the drawing."}
    assert schema["color"] == {"type": "Enum", "name": "Color", "values": ["RED", "GREEN"], "required": False,
                               "default": "GREEN"}
    assert schema["origin"]["type"] == "Shape" and schema["origin"]["default"] == {"x": 0, "y": 0}
    assert schema["path"]["of"]["fields"]["x"] == {"type": "int", "required": False, "default": 0}
    assert schema["weights"] == {"type": "Map", "of": {"type": "float"}, "required": False, "default": {}}
    assert schema["width"]["type"] == "Noneable" and schema["height"]["type"] == "Noneable"
    assert schema["height"]["required"] is False
    assert schema["layers"] == {"type": "Array", "of": {"type": "str"}, "required": False}  # filled when built


def test_the_op_gets_an_instance_built_from_the_validated_config():
    drawn = _draw({"title": "t", "color": "RED", "origin": {"x": 3}, "path": [{"y": 1}, {}],
                   "weights": {"a": 2}, "scale": 2})

    assert isinstance(drawn, Drawing) and drawn.color is Color.RED
    assert drawn.origin == Point(x=3, y=0)
    assert drawn.path == [Point(x=0, y=1), Point(x=0, y=0)] and all(isinstance(p, Point) for p in drawn.path)
    assert drawn.weights == {"a": 2.0} and drawn.scale == 2.0
    assert (drawn.width, drawn.height, drawn.layers) == (None, None, ["base"])


def test_enum_accepts_member_names_only_and_the_error_lists_them():
    with pytest.raises(InvalidConfigError) as caught:
        _draw({"title": "t", "color": "g"})

    assert caught.value.errors == [("ops.draw.config.color", "expected one of RED, GREEN (Color), got str 'g'")]


def test_map_values_and_list_items_are_checked_at_their_path():
    with pytest.raises(InvalidConfigError) as caught:
        _draw({"title": "t", "weights": {"a": "heavy"}, "path": [{"x": "left"}]})

    paths = sorted(path for path, _ in caught.value.errors)
    assert paths == ["ops.draw.config.path[0].x", "ops.draw.config.weights.a"]


def test_default_run_config_writes_out_the_class_defaults():
    @op
    def plot(config: Point) -> int:
        return config.x

    @job
    def plotting():
        plot()

    assert default_run_config(plotting.nodes)["ops"] == {"plot": {"config": {"x": 0, "y": 0}}}
    assert plotting.execute_in_process().output_for_node("plot") == 0


def test_context_op_config_holds_the_validated_values_with_enum_names():
    @op
    def look(context, config: Drawing) -> dict:
        return context.op_config

    @job
    def looking():
        look()

    op_config = looking.execute_in_process(
        run_config={"ops": {"look": {"config": {"title": "t"}}}}).output_for_node("look")
    assert op_config["color"] == "GREEN" and op_config["origin"] == {"x": 0, "y": 0}


class Positive(Config):
    n: int = 1

    @field_validator("n")
    @classmethod
    def must_be_positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("n must be positive")
        return value


def test_validators_of_the_class_run_when_the_step_builds_it():
    @op
    def count(config: Positive) -> int:
        return config.n

    @job
    def counting():
        count()

    assert counting.execute_in_process(run_config={"ops": {"count": {"config": {"n": 4}}}}).output_for_node("count") == 4
    result = counting.execute_in_process(run_config={"ops": {"count": {"config": {"n": -1}}}}, raise_on_error=False)
    failure = next(event for event in result.events if event.kind == "STEP_FAILURE")
    assert failure.step_key == "count" and "n must be positive" in failure.error.message


def test_config_classes_work_in_mapped_ops_with_context_first():
    @op(out=DynamicOut())
    def letters():
        for letter in "ab":
            yield DynamicOutput(letter, mapping_key=letter)

    @op
    def stamp(context, config: Point, letter: str) -> str:
        return f"{letter}{config.x}{context.get_mapping_key()}"

    @op
    def joined(values: list) -> str:
        return ",".join(values)

    @job
    def stamping():
        joined(letters().map(stamp).collect())

    result = stamping.execute_in_process(run_config={"ops": {"stamp": {"config": {"x": 7}}}})
    assert result.output_for_node("joined") == "a7a,b7b"


def test_permissive_config_keeps_fields_it_does_not_declare():
    class Loose(PermissiveConfig):
        known: int = 1

    @op
    def loose(config: Loose) -> dict:
        return config.model_dump()

    @job
    def loosening():
        loose()

    result = loosening.execute_in_process(run_config={"ops": {"loose": {"config": {"extra": "kept"}}}})
    assert result.output_for_node("loose") == {"known": 1, "extra": "kept"}


def test_a_config_parameter_with_a_plain_type_gets_the_value():
    @op
    def repeat(config: int = 2) -> str:
        return "x" * config

    @job
    def repeating():
        repeat()

    assert repeating.execute_in_process().output_for_node("repeat") == "xx"
    assert repeating.execute_in_process(run_config={"ops": {"repeat": {"config": 3}}}).output_for_node("repeat") == "xxx"


def test_unsupported_field_types_and_two_config_sources_are_definition_errors():
    class WithSet(Config):
        names: set[str] = set()

    with pytest.raises(InvalidDefinitionError, match=r"field 'names': type set\[str\] cannot be used in config"):
        config_shape(WithSet)
    with pytest.raises(InvalidDefinitionError, match="cannot specify a config schema"):
        @op(config_schema={"n": int})
        def both(config: Point):
            return config


def test_direct_invocation_takes_an_instance_a_dict_or_the_context_op_config():
    @op
    def area(context, config: Point) -> tuple:
        return config.x * config.y, context.op_config

    assert area(build_op_context(), config=Point(x=2, y=3)) == (6, {"x": 2, "y": 3})
    assert area(build_op_context(), config={"x": 4}) == (0, {"x": 4, "y": 0})
    assert area(build_op_context(op_config={"x": 2, "y": 5})) == (10, {"x": 2, "y": 5})
    assert area(build_op_context()) == (0, {"x": 0, "y": 0})
    with pytest.raises(InvalidConfigError, match=r"op 'area' config.x: expected int"):
        area(build_op_context(), config={"x": "wide"})
