"""Every step of a re-execution preview says why it runs ("selected", "failed in parent", ...) or that it is reused."""

from __future__ import annotations

import pytest

from dagviz import DynamicOut, DynamicOutput, job, op
from dagviz.errors import DagsterExecutionStepNotFoundError
from dagviz.execution.reexecution import ParentRecord, StepReason, preview_with_reasons

FAIL: set[str] = set()  # mapping keys whose step fails in the next run
EMITTER_FAILS_AFTER: list[int] = []  # the emitter raises after yielding this many keys (empty: it never does)


@op(out=DynamicOut())
def emit_letters():
    for index, letter in enumerate("dbac"):
        if EMITTER_FAILS_AFTER and index == EMITTER_FAILS_AFTER[0]:
            raise RuntimeError("the emitter broke")
        yield DynamicOutput(letter, mapping_key=letter)


@op
def shout(context, letter: str) -> str:
    if context.get_mapping_key() in FAIL:
        raise ValueError(f"no shouting {letter}")
    return letter.upper()


@op
def exclaim(text: str) -> str:
    return text + "!"


@op
def gather(values: list) -> list:
    return values


@op
def report(values: list) -> int:
    return len(values)


@job
def letters_chain():
    """emit_letters -> shout[k] -> exclaim[k] -> gather -> report."""
    report(gather(emit_letters().map(shout).map(exclaim).collect()))


@op(out=DynamicOut())
def regions():
    for region, customers in {"eu": ["c1", "c2"], "us": ["c1"]}.items():
        yield DynamicOutput(customers, mapping_key=region)


@op(out=DynamicOut())
def customers(ids: list):
    for customer in ids:
        yield DynamicOutput(customer, mapping_key=customer)


@op
def score(customer: str) -> str:
    return customer


@op
def region_total(scores: list) -> int:
    return len(scores)


@op
def overall(totals: list) -> int:
    return sum(totals)


@job
def nested_regions():
    overall(regions().map(lambda region: region_total(customers(region).map(score).collect())).collect())


@pytest.fixture(autouse=True)
def nothing_fails():
    FAIL.clear()
    EMITTER_FAILS_AFTER.clear()
    yield
    FAIL.clear()
    EMITTER_FAILS_AFTER.clear()


def parent_of(job_def, fail: set[str] = frozenset()) -> ParentRecord:
    FAIL.update(fail)
    result = job_def.execute_in_process(raise_on_error=False)
    FAIL.clear()
    return ParentRecord.from_result(result)


def reasons(job_def, record: ParentRecord, strategy: str, keys: list[str] | None = None) -> dict[str, str]:
    plan = preview_with_reasons(job_def, None, record, strategy, keys)
    by_key = {step.step_key: step.reason.value for step in plan.steps}
    assert [step.step_key for step in plan.steps] == plan.to_execute + plan.reused  # every step, once, in that order
    assert {key for key, reason in by_key.items() if reason == "reused from parent"} == set(plan.reused)
    return by_key


def reused_except(record: ParentRecord, running: set[str]) -> dict[str, str]:
    return {key: "reused from parent" for key in record.step_statuses if key not in running}


def test_from_failure_says_which_steps_failed_and_which_did_not_run_in_the_parent():
    record = parent_of(letters_chain, fail={"b"})
    assert reasons(letters_chain, record, "FROM_FAILURE") == {
        "shout[b]": "failed in parent",
        "exclaim[b]": "skipped in parent",
        "gather": "skipped in parent",
        "report": "skipped in parent",
        **reused_except(record, {"shout[b]", "exclaim[b]", "gather", "report"}),
    }


def test_selected_runs_only_the_selection_and_says_so():
    record = parent_of(letters_chain)
    assert reasons(letters_chain, record, "SELECTED", ["shout[a]", "exclaim[c]"]) == {
        "shout[a]": "selected",
        "exclaim[c]": "selected",
        **reused_except(record, {"shout[a]", "exclaim[c]"}),
    }


def test_from_selected_names_the_steps_downstream_of_the_selected_keys_only():
    record = parent_of(letters_chain)
    assert reasons(letters_chain, record, "FROM_SELECTED", ["shout[a]"]) == {
        "shout[a]": "selected",
        "exclaim[a]": "downstream of selected",  # the same key down the chain, not exclaim[b]
        "gather": "downstream of selected",  # a collect is downstream of every key
        "report": "downstream of selected",
        **reused_except(record, {"shout[a]", "exclaim[a]", "gather", "report"}),
    }


def test_from_selected_tells_a_failure_elsewhere_from_the_selections_downstream():
    record = parent_of(letters_chain, fail={"b"})
    assert reasons(letters_chain, record, "FROM_SELECTED", ["shout[a]"]) == {
        "shout[a]": "selected",
        "exclaim[a]": "downstream of selected",
        # shout[b] failed in the parent but is neither selected nor downstream: left out, as in Dagster
        "gather": "downstream of selected",
        "report": "downstream of selected",
        **reused_except(record, {"shout[a]", "exclaim[a]", "shout[b]", "exclaim[b]", "gather", "report"}),
    }


def test_all_runs_every_step_for_the_reason_all():
    record = parent_of(letters_chain, fail={"c"})
    assert set(reasons(letters_chain, record, "ALL").values()) == {"all"}
    assert set(reasons(letters_chain, record, "ALL")) == set(record.step_statuses)


def test_a_step_that_succeeded_runs_again_when_what_it_reads_runs_again():
    EMITTER_FAILS_AFTER.append(2)  # yields d and b, then fails
    record = parent_of(letters_chain)
    assert record.step_statuses["shout[d]"].value == "SUCCESS"
    assert reasons(letters_chain, record, "FROM_FAILURE") == {
        "emit_letters": "failed in parent",
        "shout[d]": "downstream of a step that runs again",  # the emitter yields d anew
        "shout[b]": "downstream of a step that runs again",
        "exclaim[d]": "downstream of a step that runs again",
        "exclaim[b]": "downstream of a step that runs again",
        "shout[?]": "not run in parent",  # keys the emitter never yielded in the parent
        "exclaim[?]": "not run in parent",
        "gather": "skipped in parent",
        "report": "skipped in parent",
    }


def test_from_selected_in_a_nested_fan_out_follows_the_outer_key():
    record = parent_of(nested_regions)
    assert reasons(nested_regions, record, "FROM_SELECTED", ["score[eu][c1]"]) == {
        "score[eu][c1]": "selected",
        "region_total[eu]": "downstream of selected",  # us's total is not downstream of an eu key
        "overall": "downstream of selected",
        **reused_except(record, {"score[eu][c1]", "region_total[eu]", "overall"}),
    }
    by_region = reasons(nested_regions, record, "FROM_SELECTED", ["customers[?]"])
    assert {key: reason for key, reason in by_region.items() if reason != "reused from parent"} == {
        "customers[eu]": "selected", "customers[us]": "selected",
        **{key: "downstream of selected" for key in
           ("score[eu][c1]", "score[eu][c2]", "score[us][c1]", "region_total[eu]", "region_total[us]", "overall")},
    }


def test_reasons_are_the_wording_the_api_promises():
    assert [reason.value for reason in StepReason] == [
        "all", "selected", "downstream of selected", "failed in parent", "canceled in parent", "skipped in parent",
        "not run in parent", "downstream of a step that runs again", "reused from parent",
    ]


def test_a_selection_of_unknown_steps_is_refused_before_any_reason_is_given():
    record = parent_of(letters_chain)
    with pytest.raises(DagsterExecutionStepNotFoundError, match="shout\\[zz\\]"):
        preview_with_reasons(letters_chain, None, record, "FROM_SELECTED", ["shout[zz]"])
