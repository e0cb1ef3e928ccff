"""The multiprocess executor: long-lived spawn workers, same results as in process, live events, dead workers."""

from __future__ import annotations

import os

import pytest

import dagviz
from dagviz import DagvizError, StepStatus, job, op
from tests.execution import jobs_for_workers as jobs

MULTIPROCESS = {"execution": {"multiprocess": {"max_concurrent": 2}}}


def _run(job_def, tmp_path, run_config=None):
    return dagviz.execute_job(job_def, executor="multiprocess", run_config={**MULTIPROCESS, **(run_config or {})},
                              output_store=f"file://{tmp_path}/store")


def test_multiprocess_gives_the_same_outputs_as_in_process_for_plain_and_nested_fan_out(tmp_path):
    expected = jobs.letters_and_regions.execute_in_process()
    # The executor is chosen by the run config alone here.
    result = dagviz.execute_job(jobs.letters_and_regions, run_config=MULTIPROCESS,
                                output_store=f"file://{tmp_path}/store")
    assert result.success
    assert result.events[0].executor == "multiprocess"
    for node in ("join_letters", "shout", "score", "region_total", "overall", "customers"):
        assert result.output_for_node(node) == expected.output_for_node(node), node
    assert list(result.output_for_node("shout")) == ["d", "b", "a", "c"]
    assert result.output_for_node("join_letters") == "D!d,B!b,A!a,C!c"
    assert result.output_for_node("overall") == [3, 2, 0]
    assert result.output_for_node("score")["eu"]["c2"] == "eu-2@score[eu][c2]"
    assert set(result.steps) == set(expected.steps)
    assert all(step.status == StepStatus.SUCCESS for step in result.steps.values())
    # Logs recorded inside workers reach the run's events.
    logs = {event.step_key: event.text for event in result.events if event.kind == "LOG"}
    assert set(logs) == {"shout[d]", "shout[b]", "shout[a]", "shout[c]"}
    assert logs["shout[a]"].startswith("shouting a pid=")
    # Steps ran in at most max_concurrent long-lived worker processes, never in this one.
    pids = {int(text.split("pid=")[1]) for text in logs.values()}
    assert 1 <= len(pids) <= 2 and os.getpid() not in pids
    assert any((tmp_path / "store").rglob("*.seg"))  # small values went to segment files


def test_collect_and_output_for_node_follow_yield_order_when_later_keys_finish_first(tmp_path):
    result = _run(jobs.completion_order, tmp_path)
    assert result.success
    yield_order = ["slow", "fast1", "fast2", "fast3"]
    completion_order = [event.step_key[len("sleep_for["):-1] for event in result.events
                        if event.kind == "STEP_SUCCESS" and event.step_key.startswith("sleep_for[")]
    assert completion_order[0] != "slow", completion_order  # precondition: a later key finished first
    assert result.output_for_node("gather") == yield_order
    assert list(result.output_for_node("sleep_for")) == yield_order


def test_logs_and_dynamic_outputs_arrive_while_the_emitting_step_still_runs(tmp_path):
    result = _run(jobs.trickle_job, tmp_path)
    assert result.success
    arrival = [(event.kind, event.step_key, getattr(event, "text", getattr(event, "mapping_key", None)))
               for event in result.events]
    first_log = arrival.index(("LOG", "trickle", "yielding k0"))
    first_key = arrival.index(("DYNAMIC_OUTPUT", "trickle", "k0"))
    mapped_done = arrival.index(("STEP_SUCCESS", "quick[k0]", None))
    last_log = arrival.index(("LOG", "trickle", "done yielding"))
    emitter_done = arrival.index(("STEP_SUCCESS", "trickle", None))
    # The coordinator received the emitter's first log and first key, and even the mapped step's
    # success, before the emitter's later events: they were not held back until the step ended.
    assert first_log < first_key < mapped_done < last_log < emitter_done


def test_a_failing_key_in_a_worker_fails_alone_with_its_traceback_and_the_collect_is_skipped(tmp_path):
    result = _run(jobs.one_key_fails, tmp_path)
    assert not result.success
    assert result.steps["fail_on_k2[k1]"].status == StepStatus.SUCCESS
    assert result.steps["fail_on_k2[k3]"].status == StepStatus.SUCCESS
    assert result.steps["gather"].status == StepStatus.SKIPPED
    (failure,) = [event for event in result.events if event.kind == "STEP_FAILURE"]
    assert failure.step_key == "fail_on_k2[k2]"
    assert failure.op_name == "fail_on_k2"
    assert failure.error.class_name == "ValueError"
    assert failure.error.message == "boom k2"
    assert "raise_for_k2" in failure.error.stack
    assert 'raise ValueError(f"boom {value}")' in failure.error.stack


def test_a_killed_worker_fails_its_step_as_worker_lost_and_other_keys_finish(tmp_path):
    marker = tmp_path / "killed_once"
    result = _run(jobs.worker_killed, tmp_path, {"ops": {"die_once": {"config": {"marker": str(marker)}}}})
    assert marker.exists()  # the op really killed its worker
    assert not result.success
    (failure,) = [event for event in result.events if event.kind == "STEP_FAILURE"]
    assert failure.step_key == "die_once[k2]"
    assert failure.error.class_name == "WorkerLost"
    assert str(int(marker.read_text())) in failure.error.message
    assert result.steps["die_once[k1]"].status == StepStatus.SUCCESS
    assert result.steps["die_once[k3]"].status == StepStatus.SUCCESS
    assert result.steps["gather"].status == StepStatus.SKIPPED


def test_a_killed_worker_step_with_a_retry_policy_succeeds_on_retry(tmp_path):
    marker = tmp_path / "killed_once"
    result = _run(jobs.worker_killed_retried, tmp_path,
                  {"ops": {"die_once_retried": {"config": {"marker": str(marker)}}}})
    assert marker.exists()
    assert result.success
    assert result.output_for_node("gather") == ["k1", "k2", "k3"]
    assert result.steps["die_once_retried[k2]"].attempts == 2
    (retry,) = [event for event in result.events if event.kind == "STEP_UP_FOR_RETRY"]
    assert retry.step_key == "die_once_retried[k2]"
    assert retry.error.class_name == "WorkerLost"
    assert int(marker.read_text()) != os.getpid()


def test_a_job_not_importable_by_workers_is_refused_with_a_clear_error(tmp_path):
    @op
    def local_op():
        return 1

    @job
    def local_job():
        local_op()

    with pytest.raises(DagvizError, match="top level of a module"):
        _run(local_job, tmp_path)


def test_multiprocess_refuses_an_in_memory_output_store():
    with pytest.raises(DagvizError, match="output store shared by its worker processes"):
        dagviz.execute_job(jobs.completion_order, executor="multiprocess", run_config=MULTIPROCESS,
                           output_store="memory://")
