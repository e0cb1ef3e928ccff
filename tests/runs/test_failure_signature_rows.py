"""Step rows carry the error signature of their failure, and only while they are FAILURE."""

from __future__ import annotations

import pytest

from dagviz.execution.error_signature import error_signature
from dagviz.execution.events import ErrorInfo, RunStarted, StepFailed, StepRetry, StepStarted, StepSucceeded
from dagviz.execution.sinks import PlannedStep
from runs.event_sink import DatabaseEventSink
from runs.lifecycle import now
from runs.models import Run, RunStatus, Step
from runs.services.monitor import end_orphaned_run

pytestmark = pytest.mark.django_db(transaction=True)

T0 = 1_700_000_000.0


def signatures(run: Run) -> dict[str, tuple[str, str]]:
    return {key: (status, signature) for key, status, signature in
            Step.objects.filter(run=run).values_list("key", "status", "error_signature")}


def test_the_sink_signs_failed_steps_and_clears_the_signature_when_a_retry_moves_on():
    run = Run.objects.create(job_name="letters", status=RunStatus.STARTED, output_store="memory://")
    sink = DatabaseEventSink(run.id)
    sink.handle(RunStarted(None, run_id=str(run.id), job_name="letters", timestamp=T0))
    sink.steps_created([PlannedStep(f"shout[{key}]", "shout", (key,), index) for index, key in enumerate("abc")])
    for index, key in enumerate("ab"):
        sink.handle(StepStarted(f"shout[{key}]", timestamp=T0 + index))
        sink.handle(StepFailed(f"shout[{key}]", error=ErrorInfo("KeyError", f"'{key}{index * 40}'"), op_name="shout",
                               timestamp=T0 + index + 0.5))
    sink.handle(StepStarted("shout[c]", timestamp=T0 + 3))
    sink.handle(StepRetry("shout[c]", error=ErrorInfo("ValueError", "flaky 1"), timestamp=T0 + 4))
    sink.flush()
    assert signatures(run)["shout[c]"] == ("PENDING", "")  # up for retry: not a failure (yet)

    sink.handle(StepStarted("shout[c]", attempt=2, timestamp=T0 + 5))
    sink.handle(StepSucceeded("shout[c]", attempt=2, timestamp=T0 + 6))
    sink.close()

    key_error = error_signature("KeyError", "'k1'")
    assert signatures(run) == {"shout[a]": ("FAILURE", key_error), "shout[b]": ("FAILURE", key_error),
                               "shout[c]": ("SUCCESS", "")}


def test_a_step_lost_with_its_worker_is_signed_as_a_worker_lost_failure():
    run = Run.objects.create(job_name="letters", status=RunStatus.STARTED, output_store="memory://", started_at=now(),
                             worker_pid=1, worker_host="elsewhere.example")  # not signalled: not on this host
    Step.objects.create(run=run, key="shout[a]", node="shout", status="RUNNING", attempts=1,
                        attempt_history=[{"number": 1, "status": "RUNNING", "started_at": T0, "ended_at": None}])
    Step.objects.create(run=run, key="shout[b]", node="shout", status="SUCCESS", attempts=1)

    assert end_orphaned_run(run, "The run worker (pid 4242) died without finishing the run.")

    rows = signatures(run)
    assert rows["shout[a]"] == ("FAILURE", error_signature("WorkerLost", "The run worker (pid 77) died without "
                                                                         "finishing the run."))
    assert rows["shout[b]"] == ("SUCCESS", "")
