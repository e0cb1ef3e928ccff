"""Jobs for the persistent-runs tests; run workers load them through ``DAGVIZ_WORKSPACE``.

Ops that call :func:`checkpoint` are steered by the test through a control directory named by
the ``DAGVIZ_TEST_CONTROL_DIR`` environment variable, which run workers (and their step
processes) inherit from the test process:

- ``ran.jsonl`` gets one line per step attempt that started running user code (run id, step key,
  pid), so a test knows exactly which steps ran in which run;
- ``control.json`` lists step keys that ``fail`` and step keys that ``block`` (wait, re-reading
  the file, until the test removes them or kills or cancels the run).

Without the variable the ops simply run.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from dagviz import DynamicOut, DynamicOutput, Failure, Field, RetryPolicy, job, op

CONTROL_ENV = "DAGVIZ_TEST_CONTROL_DIR"
BLOCK_LIMIT_SECONDS = 120.0


def _control_dir() -> Path | None:
    value = os.environ.get(CONTROL_ENV)
    return Path(value) if value else None


def read_control(directory: Path) -> dict:
    try:
        return json.loads((directory / "control.json").read_text())
    except FileNotFoundError:
        return {}


def checkpoint(context) -> None:
    """Record that this step runs, then block or fail if the test's control file says so."""
    directory = _control_dir()
    if directory is None:
        return
    line = json.dumps({"run_id": context.run_id, "step_key": context.step_key, "pid": os.getpid()})
    with open(directory / "ran.jsonl", "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    deadline = time.monotonic() + BLOCK_LIMIT_SECONDS
    while context.step_key in read_control(directory).get("block", []) and time.monotonic() < deadline:
        time.sleep(0.02)
    if context.step_key in read_control(directory).get("fail", []):
        raise Failure(f"{context.step_key} failed on purpose")


# -- letters: one fan-out whose yield order (d, b, a, c) is not sorted order ------------------------


@op(out=DynamicOut(), config_schema={"keys": Field([str], default_value=["d", "b", "a", "c"])})
def emit_letters(context):
    checkpoint(context)
    for letter in context.op_config["keys"]:
        yield DynamicOutput(letter, mapping_key=letter)


@op
def shout(context, letter: str) -> str:
    checkpoint(context)
    return letter.upper() + "!"


@op
def gather_letters(context, values: list) -> list:
    checkpoint(context)
    return values


@job(description="d, b, a, c -> shout each -> the list in yield order.")
def letters():
    gather_letters(emit_letters().map(shout).collect())


# -- a chain of maps: a[k] -> b[k] ---------------------------------------------------------------


@op
def first_stage(context, letter: str) -> str:
    checkpoint(context)
    return f"{letter}1"


@op
def second_stage(context, value: str) -> str:
    checkpoint(context)
    return f"{value}2"


@op
def gather_chain(context, values: list) -> list:
    checkpoint(context)
    return values


@job(description="emit -> first_stage[k] -> second_stage[k] -> collect.")
def chain_of_maps():
    gather_chain(emit_letters().map(first_stage).map(second_stage).collect())


# -- nested fan-out: regions -> customers[region] -> score[region][customer] ----------------------


@op(out=DynamicOut(), config_schema={
    "regions": Field([str], default_value=["eu", "us"]),
    "customers": Field(int, default_value=3),
})
def emit_regions(context):
    checkpoint(context)
    for region in context.op_config["regions"]:
        yield DynamicOutput({"region": region, "customers": context.op_config["customers"]}, mapping_key=region)


@op(out=DynamicOut())
def emit_customers(context, region: dict):
    checkpoint(context)
    for index in range(region["customers"]):
        yield DynamicOutput(f"{region['region']}-{index}", mapping_key=f"c{index}")


@op
def score_customer(context, customer: str) -> str:
    checkpoint(context)
    return customer.upper()


@op
def region_scores(context, scores: list) -> list:
    checkpoint(context)
    return scores


@op
def all_regions(context, per_region: list) -> list:
    checkpoint(context)
    return per_region


@job(description="regions -> customers of each -> score -> list per region -> list of lists.")
def nested_keys():
    per_region = emit_regions().map(lambda region: region_scores(emit_customers(region).map(score_customer).collect()))
    all_regions(per_region.collect())


# -- an emitter that fails after yielding some keys, unless the run re-executes another ------------


@op(out=DynamicOut(), config_schema={
    "keys": Field([str], default_value=["k0", "k1", "k2", "k3"]),
    "fail_after": Field(int, default_value=2),
})
def emit_then_fail(context):
    checkpoint(context)
    for index, key in enumerate(context.op_config["keys"]):
        if index == context.op_config["fail_after"] and context.parent_run_id is None:
            raise Failure(f"emitter failed after yielding {index} keys")
        yield DynamicOutput(key, mapping_key=key)


@op
def tag_key(context, key: str) -> str:
    checkpoint(context)
    return f"{key}:{context.run_id}"


@op
def gather_tags(context, values: list) -> list:
    checkpoint(context)
    return values


@job(description="The emitter fails after two keys in an original run and yields them all when re-executed.")
def partial_emitter():
    gather_tags(emit_then_fail().map(tag_key).collect())


# -- retries: the first attempt of every mapped step fails ----------------------------------------


@op(out=DynamicOut())
def emit_two():
    for key in ("x", "y"):
        yield DynamicOutput(key, mapping_key=key)


@op(retry_policy=RetryPolicy(max_retries=1))
def fail_first_attempt(context, key: str) -> str:
    if context.retry_number == 0:
        raise Failure(f"first attempt of {key} fails")
    return key


@op
def gather_retried(values: list) -> list:
    return values


@job(description="Every mapped step fails once, then succeeds on its retry.")
def retried_keys():
    gather_retried(emit_two().map(fail_first_attempt).collect())


# -- an emitter whose first attempt fails after two keys; its retry yields all three -------------------


@op(out=DynamicOut(), retry_policy=RetryPolicy(max_retries=1))
def emit_with_retry(context):
    checkpoint(context)
    for index, key in enumerate(["k0", "k1", "k2"]):
        if index == 2 and context.retry_number == 0:
            raise Failure("first attempt fails after two keys")
        yield DynamicOutput(key, mapping_key=key)


@op
def echo_key(context, key: str) -> str:
    checkpoint(context)
    return key


@op
def gather_echoes(context, values: list) -> list:
    checkpoint(context)
    return values


@job(description="The emitter yields k0, k1, fails, and its retry yields k0, k1, k2.")
def retried_emitter():
    gather_echoes(emit_with_retry().map(echo_key).collect())


# -- letters then a stamp that needs config: op selections leave it out (and its config with it) -------


@op(config_schema={"stamp": Field(str, description="Required: a run that executes this op needs config.")})
def stamp_letters(context, letters: list) -> str:
    checkpoint(context)
    return context.op_config["stamp"] + "".join(letters)


@job(description="letters, then the list stamped with a configured text (stamp_letters needs config).")
def stamped_letters():
    stamp_letters(gather_letters(emit_letters().map(shout).collect()))
