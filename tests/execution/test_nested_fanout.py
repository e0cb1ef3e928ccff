"""Nested fan-out: a mapped op with its own DynamicOut, mapped and collected once per outer key."""

from __future__ import annotations

from dagviz import DynamicOut, DynamicOutput, StepStatus, job, op

REGIONS = {"eu": ["c42", "c7", "c1"], "us": ["c1", "c9"], "apac": []}


@op(out=DynamicOut())
def regions():
    for region, customer_ids in REGIONS.items():
        yield DynamicOutput({"region": region, "customers": customer_ids}, mapping_key=region)


@op(out=DynamicOut())
def customers(region: dict):
    for customer in region["customers"]:
        yield DynamicOutput(f"{region['region']}/{customer}", mapping_key=customer)


@op
def score(context, customer: str) -> str:
    return f"{customer}:{context.get_mapping_key()}"


@op
def region_total(scores: list) -> list:
    return scores


@op
def overall(totals: list) -> list:
    return totals


@job
def nested():
    totals = regions().map(lambda region: region_total(customers(region).map(score).collect()))
    overall(totals.collect())


def test_nested_step_keys_carry_the_outer_then_the_inner_key():
    result = nested.execute_in_process()
    assert {"score[eu][c42]", "score[eu][c7]", "score[eu][c1]", "score[us][c1]", "score[us][c9]"} <= set(result.steps)
    assert {"customers[eu]", "customers[us]", "customers[apac]"} <= set(result.steps)
    assert result.steps["score[eu][c42]"].mapping_keys == ("eu", "c42")


def test_inner_collect_runs_once_per_outer_key_over_that_keys_values_in_yield_order():
    result = nested.execute_in_process()
    totals = [key for key in result.steps if key.startswith("region_total")]
    assert sorted(totals) == ["region_total[apac]", "region_total[eu]", "region_total[us]"]
    assert result.output_for_node("region_total") == {
        "eu": ["eu/c42:c42", "eu/c7:c7", "eu/c1:c1"],
        "us": ["us/c1:c1", "us/c9:c9"],
        "apac": [],
    }
    starts = [event.step_key for event in result.events if event.kind == "STEP_STARTED"]
    assert starts.count("region_total[eu]") == 1


def test_outer_collect_gathers_the_per_region_results_in_yield_order():
    result = nested.execute_in_process()
    assert result.output_for_node("overall") == [
        ["eu/c42:c42", "eu/c7:c7", "eu/c1:c1"],
        ["us/c1:c1", "us/c9:c9"],
        [],
    ]


def test_output_for_node_of_a_doubly_mapped_op_is_a_dict_of_dicts_in_yield_order():
    result = nested.execute_in_process()
    scores = result.output_for_node("score")
    assert scores == {
        "eu": {"c42": "eu/c42:c42", "c7": "eu/c7:c7", "c1": "eu/c1:c1"},
        "us": {"c1": "us/c1:c1", "c9": "us/c9:c9"},
        "apac": {},
    }
    assert list(scores) == ["eu", "us", "apac"]
    assert list(scores["eu"]) == ["c42", "c7", "c1"]
    assert result.output_for_node("customers") == {
        "eu": {"c42": "eu/c42", "c7": "eu/c7", "c1": "eu/c1"},
        "us": {"c1": "us/c1", "c9": "us/c9"},
        "apac": {},
    }


def test_a_failing_inner_key_skips_only_its_regions_collect_and_the_overall_collect():
    @op
    def fragile(customer: str) -> str:
        if customer == "us/c9":
            raise RuntimeError("cannot score us/c9")
        return customer

    @job
    def nested_with_failure():
        totals = regions().map(lambda region: region_total(customers(region).map(fragile).collect()))
        overall(totals.collect())

    result = nested_with_failure.execute_in_process(raise_on_error=False)
    assert not result.success
    assert result.steps["fragile[us][c9]"].status == StepStatus.FAILURE
    assert result.steps["fragile[us][c1]"].status == StepStatus.SUCCESS
    assert result.steps["region_total[us]"].status == StepStatus.SKIPPED
    assert result.steps["region_total[eu]"].status == StepStatus.SUCCESS
    assert result.steps["region_total[apac]"].status == StepStatus.SUCCESS
    assert result.steps["overall"].status == StepStatus.SKIPPED
    assert result.output_for_node("region_total") == {"eu": ["eu/c42", "eu/c7", "eu/c1"], "apac": []}
    failures = [event for event in result.events if event.kind == "STEP_FAILURE"]
    assert [event.step_key for event in failures] == ["fragile[us][c9]"]


def test_get_mapping_key_in_a_nested_step_is_the_innermost_key():
    @op
    def keys_seen(context, customer: str):
        return (context.get_mapping_key(), context.mapping_keys)

    @job
    def nested_keys():
        regions().map(lambda region: customers(region).map(keys_seen))

    result = nested_keys.execute_in_process()
    assert result.output_for_node("keys_seen")["eu"]["c7"] == ("c7", ("eu", "c7"))


def test_a_mapped_op_whose_own_dynamic_output_is_never_consumed_still_runs_per_key():
    @job
    def unconsumed():
        regions().map(customers)

    result = unconsumed.execute_in_process()
    assert result.success
    assert result.output_for_node("customers")["us"] == {"c1": "us/c1", "c9": "us/c9"}
