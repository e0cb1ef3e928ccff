"""Jobs for the step drawer's log tests: ops that log with ``context.log`` and then raise."""

from __future__ import annotations

import time

from dagviz import DynamicOut, DynamicOutput, Field, RetryPolicy, job, op


@op(out=DynamicOut(), config_schema={"keys": Field([str], default_value=["a", "b"])})
def emit_parts(context):
    for key in context.op_config["keys"]:
        yield DynamicOutput(key, mapping_key=key)


@op(config_schema={"sleep_ms": Field(int, default_value=0)})
def log_then_fail(context, part: str) -> str:
    """Logs two lines, waits (so a drawer can be open while it runs), logs again, then raises."""
    context.log.info(f"starting part {part}")
    context.log.warning(f"part {part} looks wrong")
    time.sleep(context.op_config["sleep_ms"] / 1000)
    context.log.info(f"giving up on part {part}")
    raise ValueError(f"part {part} is broken")


@op(retry_policy=RetryPolicy(max_retries=1))
def log_then_fail_twice(context, part: str) -> str:
    context.log.info(f"attempt {context.retry_number + 1} of part {part}")
    raise ValueError(f"part {part} is broken again")


@job
def logs_then_fails():
    parts = emit_parts()
    parts.map(log_then_fail)
    parts.map(log_then_fail_twice)
