"""``DAGVIZ_MAX_CONCURRENT_RUNS`` holds when many launches race, on SQLite and on PostgreSQL.

Eight threads (each with its own database connection, as eight web requests would have) launch a
run at the same moment, with a limit of two, then dispatch queued runs again and again. The runs block in their first step, so every run that
got a slot keeps it; the number of active runs is sampled all along, then the runs are released
and the queued ones are started by the workers of those that finish, still two at a time.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from runs.models import ACTIVE_STATUSES, Run, RunStatus
from runs.services.launch import dispatch_queued_runs, launch_run, serialize_dispatch
from tests.runs.support import describe, wait_until

LIMIT = 2
LAUNCHES = 8
BLOCKED_STEP = "emit_letters"  # the first step of ``letters``
# Dispatch passes per thread after its launch, as the monitor and finishing workers make: more chances to race.
DISPATCHES = 20

pytestmark = pytest.mark.django_db(transaction=True)


def launch_together(count: int) -> tuple[list[threading.Thread], list[BaseException]]:
    """Start ``count`` threads that each launch ``letters`` as soon as all are ready, then dispatch; their errors."""
    ready = threading.Barrier(count)
    errors: list[BaseException] = []

    def launch() -> None:
        try:
            ready.wait()
            launch_run("letters")
            for _ in range(DISPATCHES):
                dispatch_queued_runs()
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=launch) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, errors


class ActiveSampler:
    """Counts the active runs each time it is called and remembers the highest count."""

    def __init__(self) -> None:
        self.highest = 0
        self.samples = 0

    def __call__(self) -> int:
        active = Run.objects.filter(status__in=ACTIVE_STATUSES).count()
        self.highest = max(self.highest, active)
        self.samples += 1
        return active


def test_racing_launches_never_run_more_than_the_limit(settings, monkeypatch, control):
    settings.DAGVIZ_MAX_CONCURRENT_RUNS = LIMIT
    monkeypatch.setenv("DAGVIZ_MAX_CONCURRENT_RUNS", str(LIMIT))  # workers dispatch queued runs when they end
    control.set(block=[BLOCKED_STEP])
    sample = ActiveSampler()

    threads, errors = launch_together(LAUNCHES)
    while any(thread.is_alive() for thread in threads):
        sample()
    for thread in threads:
        thread.join()
    assert not errors, f"launches failed: {errors!r}"
    assert Run.objects.count() == LAUNCHES
    wait_until(lambda: sample() == LIMIT and len(control.records()) == LIMIT, 30, f"{LIMIT} runs to block")
    assert Run.objects.filter(status=RunStatus.QUEUED).count() == LAUNCHES - LIMIT

    control.set()  # release: finishing workers start the queued runs
    finished = ("SUCCESS", "FAILURE", "CANCELED")
    wait_until(lambda: (sample(), not Run.objects.exclude(status__in=finished).exists())[1], 90,
               "every run to finish")
    assert sample.highest == LIMIT, f"{sample.highest} runs were active at once (limit {LIMIT}, {sample.samples} samples)"
    assert [describe(run.id) for run in Run.objects.exclude(status=RunStatus.SUCCESS)] == []


def in_thread(work, done: threading.Event) -> threading.Thread:
    """Run ``work`` in a thread with its own database connection; ``done`` is set when it returns."""

    def target() -> None:
        try:
            work()
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def test_a_dispatcher_waits_while_another_is_between_its_count_and_its_claim():
    """The race made deterministic: one dispatcher's transaction is held open after it took its turn."""
    holding, release, held_done, second_done = (threading.Event() for _ in range(4))

    def hold_turn() -> None:
        with transaction.atomic():
            serialize_dispatch()
            holding.set()
            release.wait(30)

    first = in_thread(hold_turn, held_done)
    assert holding.wait(10)
    second = in_thread(dispatch_queued_runs, second_done)
    try:
        assert not second_done.wait(1.0), "a second dispatcher counted active runs while the first was claiming"
    finally:
        release.set()
    assert second_done.wait(10), "the second dispatcher never got its turn"
    first.join()
    second.join()
