"""Wrong compositions, wrong outputs and wrong selections: the error class and Dagster 1.13's sentence.

Each message pattern is the stable part of the sentence Dagster 1.13.27 gave for the same job;
dagviz may add context after it.
"""

from __future__ import annotations

import re

import pytest

from dagviz import DynamicOut, DynamicOutput, In, Out, Output, job, op
from dagviz.errors import (
    DagsterTypeCheckDidNotPass,
    DagvizError,
    DuplicateMappingKeyError,
    InvalidConfigError,
    InvalidDefinitionError,
    InvalidMappingKeyError,
    StepOutputError,
)
from tests.compat import jobs
from tests.compat.jobs import IN_PROCESS

INT_CHECK_OF_X = re.escape(
    'Type check failed for step output "result" - expected type "Int". '
    'Description: Value "x" of python type "str" must be a int.'
)


def failure_message(result, step_key: str) -> str:
    """The error message of ``step_key``'s STEP_FAILURE event."""
    messages = [event.step_failure_data.error.message for event in result.get_step_failure_events()
                if event.step_key == step_key]
    assert messages, f"no STEP_FAILURE for {step_key}"
    return messages[0]


@op(out=DynamicOut())
def emit():
    for key in ("a", "b"):
        yield DynamicOutput(key, mapping_key=key)


@op(out=DynamicOut())
def emit_other():
    for key in ("x", "y"):
        yield DynamicOutput(key, mapping_key=key)


@op
def ident(value):
    return value


@op
def add(left, right):
    return left + right


@op
def gather(values):
    return values


# -- 3. type checks ---------------------------------------------------------------------------------


@op(out=Out(int))
def out_int_returns_str():
    return "x"


@op
def annotated_int_returns_str() -> int:
    return "x"


@op(out=DynamicOut(int))
def dynamic_int_yields_str():
    yield DynamicOutput("x", mapping_key="a")


@op(out=Out(int))
def mapped_out_int_returns_str(value):
    return "x"


@op(out=DynamicOut(int))
def mapped_dynamic_int_yields_str(value):
    yield DynamicOutput("x", mapping_key="a")


@op(ins={"value": In(int)})
def takes_int(value):
    return value


@op
def gives_str():
    return "s"


@job
def out_int_job():
    out_int_returns_str()


@job
def annotated_int_job():
    annotated_int_returns_str()


@job
def dynamic_int_job():
    dynamic_int_yields_str().map(ident)


@job
def mapped_out_int_job():
    emit().map(mapped_out_int_returns_str)


@job
def mapped_dynamic_int_job():
    emit().map(mapped_dynamic_int_yields_str)


@job
def input_int_job():
    takes_int(gives_str())


@pytest.mark.parametrize(
    ("failing_job", "step_key"),
    [
        (out_int_job, "out_int_returns_str"),
        (annotated_int_job, "annotated_int_returns_str"),
        (dynamic_int_job, "dynamic_int_yields_str"),
        (mapped_out_int_job, "mapped_out_int_returns_str[a]"),
        (mapped_dynamic_int_job, "mapped_dynamic_int_yields_str[a]"),
    ],
    ids=["out_int", "annotated_int", "dynamic_out_int", "mapped_out_int", "mapped_dynamic_out_int"],
)
def test_output_of_the_wrong_type_fails_the_step_with_dagsters_type_check_sentence(failing_job, step_key):
    """Dagster 1.13: STEP_FAILURE with `Type check failed for step output "result" - expected type "Int". ...`."""
    result = failing_job.execute_in_process(raise_on_error=False)
    assert not result.success
    assert re.search(INT_CHECK_OF_X, failure_message(result, step_key))
    assert {event.step_failure_data.error.cls_name for event in result.get_step_failure_events()} == {
        "DagsterTypeCheckDidNotPass"
    }


@pytest.mark.parametrize(
    "failing_job", [out_int_job, annotated_int_job, dynamic_int_job, mapped_out_int_job, mapped_dynamic_int_job],
    ids=["out_int", "annotated_int", "dynamic_out_int", "mapped_out_int", "mapped_dynamic_out_int"],
)
def test_output_of_the_wrong_type_raises_dagster_type_check_did_not_pass(failing_job):
    """Dagster 1.13 raises DagsterTypeCheckDidNotPass with the type check sentence (raise_on_error=True)."""
    with pytest.raises(DagsterTypeCheckDidNotPass, match=INT_CHECK_OF_X):
        failing_job.execute_in_process()


def test_dynamic_output_of_the_wrong_type_creates_no_mapped_steps():
    """Dagster 1.13: only the emitter starts (and fails) when its DynamicOut(int) gets a str."""
    result = dynamic_int_job.execute_in_process(raise_on_error=False)
    assert [event.step_key for event in result.all_events if event.event_type_value == "STEP_START"] == [
        "dynamic_int_yields_str"
    ]


def test_input_of_the_wrong_type_fails_the_step_with_dagsters_type_check_sentence():
    """Dagster 1.13: `Type check failed for step input "x" - expected type "Int". ...`."""
    with pytest.raises(DagsterTypeCheckDidNotPass, match=re.escape(
        'Type check failed for step input "value" - expected type "Int". '
        'Description: Value "s" of python type "str" must be a int.'
    )):
        input_int_job.execute_in_process()


@op(out=Out(int))
def out_int_returns_list():
    return [1]


def test_type_check_sentence_shows_the_value_with_str_not_repr():
    """Dagster 1.13 writes `Value "[1]" of python type "list"` (str(value) in double quotes)."""

    @job
    def list_for_int():
        out_int_returns_list()

    with pytest.raises(DagsterTypeCheckDidNotPass, match=re.escape('Value "[1]" of python type "list" must be a int.')):
        list_for_int.execute_in_process()


# -- 6. composition errors ------------------------------------------------------------------------


def test_dynamic_output_passed_straight_into_an_op_is_rejected():
    """Dagster 1.13: DagsterInvalidDefinitionError `received the dynamic output result from op 'emit' directly`."""
    with pytest.raises(InvalidDefinitionError, match=re.escape(
        "In @job dynamic_straight_in, received the dynamic output result from op 'emit' directly. "
        "Dynamic output must be unpacked by invoking map or collect."
    )):

        @job
        def dynamic_straight_in():
            ident(emit())


def test_mapped_output_used_outside_its_map_is_rejected_as_a_dynamic_output():
    """Dagster 1.13 gives the same sentence for the result of .map() passed to an op outside the map."""
    with pytest.raises(InvalidDefinitionError, match=re.escape(
        "received the dynamic output result from op 'ident' directly. "
        "Dynamic output must be unpacked by invoking map or collect."
    )):

        @job
        def mapped_outside():
            mapped = emit().map(ident)
            add(mapped, mapped)


def test_op_downstream_of_two_unrelated_dynamic_outputs_is_rejected():
    """Dagster 1.13: `op 'add' cannot be downstream of more than one dynamic output.`."""
    with pytest.raises(InvalidDefinitionError, match=re.escape(
        "op 'add' cannot be downstream of more than one dynamic output."
    )):

        @job
        def two_fan_outs():
            emit().map(lambda left: emit_other().map(lambda right: add(left, right)))


@op
def add_all(values):
    return values


def test_fan_in_of_mapped_items_inside_a_map_is_rejected():
    """Dagster 1.13: `Currently, items in a fan-in dependency cannot be downstream of dynamic outputs.`."""
    with pytest.raises(InvalidDefinitionError, match=re.escape(
        "Currently, items in a fan-in dependency cannot be downstream of dynamic outputs. "
        'Problematic dependency on output "ident:result", downstream of "emit:result".'
    )):

        @job
        def fan_in_in_map():
            emit().map(lambda value: add_all([ident(value), ident.alias("ident_b")(value)]))


@pytest.mark.parametrize("where", ["outside the map", "inside the map"])
def test_a_list_holding_mapped_values_is_rejected(where):
    """Dagster 1.13: `Currently, items in a fan-in dependency cannot be downstream of dynamic outputs.
    Problematic dependency on dynamic output "emit:result".` (the mapped value itself in a list)."""
    with pytest.raises(InvalidDefinitionError, match=re.escape(
        "Currently, items in a fan-in dependency cannot be downstream of dynamic outputs. "
        'Problematic dependency on dynamic output "emit:result".'
    )):

        @job
        def list_of_values():
            if where == "inside the map":
                emit().map(lambda value: add_all([value]))
            else:
                values: list = []
                emit().map(values.append)
                add_all(values)


def test_list_holding_a_mapped_output_outside_the_map_is_rejected():
    """Dagster 1.13: `received a list containing an invalid type at index 0 for input "xs" ...`."""
    with pytest.raises(InvalidDefinitionError, match=re.escape(
        'In @job list_of_mapped, received a list containing an invalid type at index 0 for input "values" '
        "(at position 0) in op invocation add_all. "
        "Lists can only contain the output from previous op invocations or input mappings"
    )):

        @job
        def list_of_mapped():
            add_all([emit().map(ident)])


# -- 6. wrong outputs at run time --------------------------------------------------------------------


@op
def plain_yields_dynamic():
    yield DynamicOutput(1, mapping_key="a")


@op(out=DynamicOut())
def dynamic_yields_plain():
    yield Output(1)


@op(out=DynamicOut())
def dynamic_returns_value():
    return 5


@op(out=DynamicOut())
def dynamic_returns_bare_dynamic_output():
    return DynamicOutput(5, mapping_key="a")


@op(out=DynamicOut())
def duplicate_key():
    yield DynamicOutput(1, mapping_key="x")
    yield DynamicOutput(2, mapping_key="x")


@op(out=DynamicOut())
def invalid_key():
    yield DynamicOutput(1, mapping_key="a-b")


def _run_alone(op_def, mapped: bool):
    @job(name=f"run_{op_def.name}")
    def run_op():
        if mapped:
            gather(op_def().map(ident).collect())
        else:
            op_def()

    return run_op.execute_in_process(raise_on_error=False)


@pytest.mark.parametrize(
    ("op_def", "mapped", "sentence"),
    [
        (plain_yields_dynamic, False,
         'Compute for op "plain_yields_dynamic" yielded a DynamicOutput, but did not use DynamicOutputDefinition.'),
        (dynamic_yields_plain, True,
         'Compute for op "dynamic_yields_plain" for output "result" defined as dynamic must yield DynamicOutput, '
         "got Output."),
        (dynamic_returns_value, True,
         "Error with output for op \"dynamic_returns_value\": dynamic output 'result' expected a list of "
         "DynamicOutput objects, but instead received instead an object of type <class 'int'>."),
        (dynamic_returns_bare_dynamic_output, True,
         "Error with output for op \"dynamic_returns_bare_dynamic_output\": dynamic output 'result' expected a list "
         "of DynamicOutput objects"),
        (duplicate_key, True,
         'Compute for op "duplicate_key" yielded a DynamicOutput with mapping_key "x" multiple times.'),
    ],
    ids=["plain_yields_dynamic", "dynamic_yields_output", "dynamic_returns_int", "dynamic_returns_bare",
         "duplicate_key"],
)
def test_wrong_outputs_fail_the_producing_step_with_dagsters_sentence(op_def, mapped, sentence):
    """Dagster 1.13 fails the step (STEP_FAILURE, run FAILURE) with these exact sentences."""
    result = _run_alone(op_def, mapped)
    assert not result.success
    assert re.search(re.escape(sentence), failure_message(result, op_def.name))


def test_wrong_output_raises_with_raise_on_error():
    """Dagster 1.13 raises `Compute for op "plain_yields_dynamic" yielded a DynamicOutput, ...`."""

    @job
    def plain_yields_dynamic_job():
        plain_yields_dynamic()

    with pytest.raises(StepOutputError, match=re.escape(
        'Compute for op "plain_yields_dynamic" yielded a DynamicOutput, but did not use DynamicOutputDefinition.'
    )):
        plain_yields_dynamic_job.execute_in_process()


def test_duplicate_mapping_key_raises_with_raise_on_error():
    """Dagster 1.13 raises `Compute for op "dup" yielded a DynamicOutput with mapping_key "x" multiple times.`."""

    @job
    def duplicate_key_job():
        gather(duplicate_key().map(ident).collect())

    with pytest.raises(DuplicateMappingKeyError, match=re.escape(
        'Compute for op "duplicate_key" yielded a DynamicOutput with mapping_key "x" multiple times.'
    )):
        duplicate_key_job.execute_in_process()


def test_duplicate_mapping_key_keeps_the_first_key_output_before_failing():
    """Dagster 1.13: the first `x` is a STEP_OUTPUT of the emitter, then the step fails on the second."""
    result = _run_alone(duplicate_key, mapped=True)
    kinds = [event.event_type_value for event in result.all_events if event.step_key == "duplicate_key"]
    assert kinds.count("STEP_OUTPUT") == 1
    assert kinds[-1] == "STEP_FAILURE"


def test_invalid_mapping_key_fails_the_emitting_step():
    """Dagster 1.13: `"a-b" is not a valid name in Dagster. Names must be in regex ^[A-Za-z0-9_]+$.`."""
    result = _run_alone(invalid_key, mapped=True)
    assert not result.success
    assert re.search(r'"a-b" is not a valid name.*Names must be in regex \^\[A-Za-z0-9_\]\+\$',
                     failure_message(result, "invalid_key"))


@pytest.mark.parametrize("key", ["a-b", "", "a b", "é"])
def test_mapping_key_outside_the_name_pattern_is_rejected_when_constructed(key):
    """Dagster 1.13: `"<key>" is not a valid name in Dagster. Names must be in regex ^[A-Za-z0-9_]+$.`."""
    with pytest.raises(InvalidMappingKeyError,
                       match=re.escape(f'"{key}" is not a valid name') + r".*Names must be in regex"):
        DynamicOutput(1, mapping_key=key)


@pytest.mark.parametrize("key", ["class", "None"])
def test_reserved_mapping_key_is_rejected_when_constructed(key):
    """Dagster 1.13: `"class" is not a valid name in Dagster. It conflicts with a ... reserved keyword.`."""
    with pytest.raises(InvalidMappingKeyError,
                       match=re.escape(f'"{key}" is not a valid name') + r".*It conflicts with a .*reserved keyword"):
        DynamicOutput(1, mapping_key=key)


@pytest.mark.parametrize("key", ["1a", "_", "x" * 300])
def test_mapping_keys_dagster_accepts(key):
    """Dagster 1.13 accepts a leading digit, a lone underscore and a 300-character key."""
    assert DynamicOutput(1, mapping_key=key).mapping_key == key


# -- 6. direct invocation ---------------------------------------------------------------------------


def test_calling_a_dynamic_op_that_returns_a_bare_dynamic_output_raises():
    """Dagster 1.13: `Error with output for op "...": dynamic output 'result' expected a list of DynamicOutput ...`."""
    with pytest.raises(StepOutputError, match=re.escape(
        "Error with output for op \"dynamic_returns_bare_dynamic_output\": dynamic output 'result' expected a list "
        "of DynamicOutput objects"
    )):
        dynamic_returns_bare_dynamic_output()


def test_calling_a_dynamic_op_that_returns_a_plain_value_raises():
    """Dagster 1.13: `... but instead received instead an object of type <class 'int'>.`."""
    with pytest.raises(StepOutputError, match=re.escape(
        "Error with output for op \"dynamic_returns_value\": dynamic output 'result' expected a list of "
        "DynamicOutput objects, but instead received instead an object of type <class 'int'>."
    )):
        dynamic_returns_value()


# -- 5. re-execution selections -----------------------------------------------------------------------


@pytest.fixture
def parent_run():
    """A finished run of ``jobs.fanout`` (keys a, b, c) and the instance that holds it."""
    from dagviz import execute_job, instance_for_test, reconstructable

    with instance_for_test() as instance:
        with execute_job(reconstructable(jobs.fanout), instance=instance, run_config=IN_PROCESS) as result:
            assert result.success
        yield instance, result.run_id


def reexecute(parent_run, step_selection: list[str]):
    from dagviz import ReexecutionOptions, execute_job, reconstructable

    instance, run_id = parent_run
    options = ReexecutionOptions(parent_run_id=run_id, step_selection=step_selection)
    return execute_job(reconstructable(jobs.fanout), instance=instance, run_config=IN_PROCESS,
                       reexecution_options=options)


@pytest.mark.parametrize(
    ("step_selection", "sentence"),
    [
        (["nope"], "Step selection refers to unknown step: nope"),
        (["nope", "zip"], "Step selection refers to unknown steps: nope, zip"),
        (["double[a]", "nope"], "Step selection refers to unknown step: nope"),
        (["double[zzz]"], "Step selection refers to unknown step: double[zzz]"),
        (["double"], "Step selection refers to unknown step: double"),
        (["*double"], "Step selection refers to unknown step: double"),
        (["*double[a]"], "Can not build subset plan from unknown step: double[a]"),
        (["emit", "double[a]"], "Can not build subset plan from unknown step: double[a]"),
    ],
    ids=["unknown", "two_unknown", "one_of_two_unknown", "key_not_in_parent", "mapped_node_name", "star_node_name",
         "star_mapped_key", "emitter_and_its_key"],
)
def test_reexecution_of_steps_the_parent_does_not_have_is_rejected(parent_run, step_selection, sentence):
    """Dagster 1.13 raises DagsterExecutionStepNotFoundError with these sentences before running anything."""
    with pytest.raises(DagvizError, match=re.escape(sentence)):
        reexecute(parent_run, step_selection)


def test_reexecution_from_failure_of_a_successful_run_is_rejected(parent_run):
    """Dagster 1.13: `Cannot reexecute from failure a run that is not failed or canceled`."""
    from dagviz import ReexecutionOptions, execute_job, reconstructable

    instance, run_id = parent_run
    sentence = "Cannot reexecute from failure a run that is not failed or canceled"
    with pytest.raises(DagvizError, match=re.escape(sentence)):
        execute_job(reconstructable(jobs.fanout), instance=instance, run_config=IN_PROCESS,
                    reexecution_options=ReexecutionOptions.from_failure(run_id, instance))


# -- 8. op_selection errors ---------------------------------------------------------------------------


@job
def fanout_in_process():
    gather(emit().map(ident).collect())


def test_op_selection_naming_no_op_is_rejected():
    """Dagster 1.13: DagsterInvalidSubsetError `No qualified ops to execute found for op_selection=['nope']`."""
    with pytest.raises(DagvizError, match=re.escape("No qualified ops to execute found for op_selection=['nope']")):
        fanout_in_process.execute_in_process(op_selection=["nope"])


def test_op_selection_with_a_step_key_instead_of_an_op_name_is_rejected():
    """Dagster 1.13: `No qualified ops to execute found for op_selection=['ident[a]']`."""
    with pytest.raises(DagvizError, match=re.escape("No qualified ops to execute found for op_selection=['ident[a]']")):
        fanout_in_process.execute_in_process(op_selection=["ident[a]"])


def test_op_selection_of_a_mapped_op_alone_needs_its_input_in_run_config():
    """Dagster 1.13: DagsterInvalidConfigError for the missing ``ops.ident.inputs`` (dagviz words it its own way)."""
    with pytest.raises(InvalidConfigError, match=r"missing required field 'ops' .*ident: \{inputs"):
        fanout_in_process.execute_in_process(op_selection=["ident"])


# -- direct invocation (an op called outside a job) -----------------------------------------------------


@op(out=DynamicOut())
def returns_bare_dynamic_output():
    return DynamicOutput(5, mapping_key="a")


@op(out=DynamicOut())
def returns_a_list_of_dynamic_outputs():
    return [DynamicOutput(1, mapping_key="a"), DynamicOutput(2, mapping_key="b")]


@op(out=DynamicOut())
def yields_dynamic_outputs():
    yield DynamicOutput(1, mapping_key="a")


def test_direct_call_of_a_dynamic_op_returning_a_bare_dynamic_output_raises():
    """Dagster 1.13: `Error with output for op "direct_bare": dynamic output 'result' expected a list of
    DynamicOutput objects, but instead received instead an object of type <class '...DynamicOutput'>.`"""
    with pytest.raises(DagvizError, match=re.escape(
            'Error with output for op "returns_bare_dynamic_output": dynamic output \'result\' expected a list of '
            "DynamicOutput objects, but instead received instead an object of type <class")):
        returns_bare_dynamic_output()


def test_direct_call_of_a_dynamic_op_returning_a_list_or_yielding_gives_its_dynamic_outputs():
    """Dagster 1.13: a returned list comes back as is; a generator op gives a generator."""
    assert [item.mapping_key for item in returns_a_list_of_dynamic_outputs()] == ["a", "b"]
    assert [item.value for item in yields_dynamic_outputs()] == [1]
