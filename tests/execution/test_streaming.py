"""Streaming fan-out: a mapped step starts as soon as its key is yielded, in every executor."""

from __future__ import annotations

import dagviz
from tests.execution.jobs_for_workers import trickle_job

MULTIPROCESS = {"execution": {"multiprocess": {"max_concurrent": 2}}}


def _first(result, kind: str, step_key: str, **fields):
    for event in result.events:
        if event.kind == kind and event.step_key == step_key and all(
            getattr(event, name) == value for name, value in fields.items()
        ):
            return event
    raise AssertionError(f"no {kind} event for {step_key} {fields}")


def _assert_streamed(result) -> None:
    assert result.success
    emitter_done = _first(result, "STEP_SUCCESS", "trickle").timestamp
    first_yield = _first(result, "DYNAMIC_OUTPUT", "trickle", mapping_key="k0").timestamp
    first_mapped_start = _first(result, "STEP_STARTED", "quick[k0]").timestamp
    first_mapped_done = _first(result, "STEP_SUCCESS", "quick[k0]").timestamp
    last_yield = _first(result, "DYNAMIC_OUTPUT", "trickle", mapping_key="k2").timestamp
    # The emitter sleeps 0.3 s after every key, so it finishes ~0.9 s after its first key.
    assert first_yield <= first_mapped_start < emitter_done
    assert first_mapped_done < last_yield
    # The collect waits for the emitter and every key.
    collect_start = _first(result, "STEP_STARTED", "total").timestamp
    assert collect_start >= emitter_done
    for key in ("k0", "k1", "k2"):
        assert collect_start >= _first(result, "STEP_SUCCESS", f"quick[{key}]").timestamp
    assert result.output_for_node("total") == 30


def test_in_process_mapped_step_starts_before_the_emitter_finishes():
    result = trickle_job.execute_in_process()
    _assert_streamed(result)


def test_in_process_first_key_is_processed_before_the_emitter_yields_the_next():
    result = trickle_job.execute_in_process({"ops": {"trickle": {"config": {"interval": 0.0}}}})
    order = [(event.kind, event.step_key, getattr(event, "mapping_key", None)) for event in result.events]
    assert order.index(("STEP_SUCCESS", "quick[k0]", None)) < order.index(("DYNAMIC_OUTPUT", "trickle", "k1"))


def test_multiprocess_mapped_step_starts_before_the_emitter_finishes(tmp_path):
    result = dagviz.execute_job(trickle_job, executor="multiprocess", run_config=MULTIPROCESS,
                                output_store=f"file://{tmp_path}/store")
    _assert_streamed(result)
