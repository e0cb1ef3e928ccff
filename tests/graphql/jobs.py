"""Jobs for the GraphQL tests; run workers (started by the daphne servers) load them through ``DAGVIZ_WORKSPACE``.

``gated_fanout`` yields its keys in the order its config lists them (not sorted order), maps
``square`` over them (each logs one line), collects them into ``add_up`` and feeds the sum to
``describe_total`` through a plain input: every input kind (DYNAMIC, COLLECT, PLAIN) in one
small job. Its emitter can stop before given keys until a file exists (``gate_dir``/``<index>``
for each index in ``gate_before``), so a test can hold a run in the middle, for as long as it
needs, without timing guesses.

``reported_fanout`` attaches metadata to dynamic outputs, outputs (``Output`` and
``add_output_metadata``) and a failure, and has an op (``label_units``) whose config is required,
so a run of an op selection without it shows that config is checked against the selected ops only.

``loud_failures`` maps ``fail_loudly`` over ``emit_gated``'s keys: every key fails with a message
of tens of kilobytes, a burst of big step errors for the live updates to carry.
"""

from __future__ import annotations

import time
from pathlib import Path

from dagviz import DynamicOut, DynamicOutput, Failure, Field, Output, job, op

GATE_LIMIT_SECONDS = 60.0


def wait_for_gate(path: str) -> None:
    """Block until ``path`` exists (at most GATE_LIMIT_SECONDS, so a forgotten gate cannot hang a worker)."""
    deadline = time.monotonic() + GATE_LIMIT_SECONDS
    while not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.02)


@op(out=DynamicOut(), config_schema={
    "keys": Field([str], default_value=["zeta", "alpha", "mid"], description="Mapping keys, in yield order."),
    "gate_dir": Field(str, default_value="", description="Directory of the gate files (none: no gates)."),
    "gate_before": Field([int], default_value=[], description="Before yielding key i, wait for gate_dir/i."),
})
def emit_gated(context):
    """Yield one key per configured name, value = its position."""
    config = context.op_config
    for index, key in enumerate(config["keys"]):
        if config["gate_dir"] and index in config["gate_before"]:
            wait_for_gate(str(Path(config["gate_dir"]) / str(index)))
        yield DynamicOutput(index, mapping_key=key)


@op
def square(context, value: int) -> int:
    context.log.info(f"squaring {context.get_mapping_key()}")
    return value * value


@op
def add_up(values: list) -> int:
    return sum(values)


@op(config_schema={"prefix": Field(str, default_value="total=", description="Text before the number.")})
def describe_total(context, total: int) -> str:
    return f"{context.op_config['prefix']}{total}"


@job(description="Keys in configured order -> square each -> sum -> a sentence; the emitter can wait on a file.")
def gated_fanout():
    describe_total(add_up(emit_gated().map(square).collect()))


# -- reported_fanout: metadata on every kind of output and on a failure; an op that needs config --------

MARKUP = "<img src=x onerror=alert(1)>"  # metadata is text: a page must show it, never run it


@op(out=DynamicOut())
def emit_reported():
    """Yield north and south, each with its position as metadata."""
    for position, key in enumerate(["north", "south"]):
        yield DynamicOutput(position, mapping_key=key, metadata={"position": position})


@op
def measure(value: int):
    return Output(value * 10, metadata={"scaled": value * 10, "note": MARKUP})


@op(config_schema={"fail": Field(bool, default_value=False, description="Refuse with a Failure carrying metadata.")})
def summarize(context, values: list) -> int:
    context.add_output_metadata({"count": len(values), "detail": {"values": values, "complete": True}})
    if context.op_config["fail"]:
        raise Failure("summary refused", metadata={"threshold": 3, "reason": MARKUP})
    return sum(values)


@op(config_schema={"unit": Field(str, description="Required: a run of this op needs config.")})
def label_units(context) -> str:
    return context.op_config["unit"]


@job(description="Keys with metadata -> measured with metadata -> summed with metadata (or a Failure with metadata); "
                 "label_units stands apart and needs config.")
def reported_fanout():
    summarize(emit_reported().map(measure).collect())
    label_units()


@op(config_schema={"message_chars": Field(int, default_value=50_000, description="Length of each failure's message.")})
def fail_loudly(context, value: int) -> int:
    raise ValueError(f"key {context.get_mapping_key()} refused: " + "x" * context.op_config["message_chars"])


@job(description="Keys in configured order -> each one fails with a message of tens of kilobytes.")
def loud_failures():
    emit_gated().map(fail_loudly)
