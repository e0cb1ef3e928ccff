"""``Run.eventLog`` over HTTP against a real daphne server: exact, stable pages, every filter, the
bounds refused with typed errors, and a live run's new events read after a cursor.

Most runs here are written straight into the (committed) test database, so each test knows every
event it asks about; one test launches a real run and reads its log while it is held by a gate.
The bounded text scan is also driven through the service with a tiny window and no time budget, so
that a scan stopped after each window is seen to resume exactly where it stopped.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from runs.models import Event, Run
from runs.services import event_log
from tests.graphql.conftest import all_events, wait_until

LOG = """query($id: ID!, $first: Int, $after: String, $kinds: [String!], $stepKey: String, $stepKeyPrefix: String,
                $text: String) {
  run(id: $id) { eventLog(first: $first, after: $after, kinds: $kinds, stepKey: $stepKey, stepKeyPrefix: $stepKeyPrefix,
                          text: $text) {
    totalCount totalCountCapped scanLimited pageInfo { hasNextPage endCursor }
    edges { cursor node { id cursor timestamp kind level stepKey message } } } }
}"""

KEYS = [f"k{index}" for index in range(40)]


def write_run(events: list[tuple[str, str | None, str, dict]]) -> tuple[Run, list[int]]:
    """A finished run with these (kind, step key, message, payload) events; the run and the event ids in order."""
    run = Run.objects.create(job_name="written_by_test", status="FAILURE", output_store="memory://")
    start = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
    Event.objects.bulk_create([
        Event(run=run, kind=kind, step_key=step, message=message, payload=payload,
              timestamp=start + timedelta(milliseconds=number))
        for number, (kind, step, message, payload) in enumerate(events)])
    return run, list(Event.objects.filter(run=run).order_by("id").values_list("id", flat=True))


def fanout_events() -> list[tuple[str, str | None, str, dict]]:
    """A small fan-out: 40 keys, a log line every 4th key, k7 and k21 fail, one message with LIKE's wildcards."""
    events = [("RUN_STARTED", None, "Started run of job 'fanout'.", {}),
              ("STEP_STARTED", "emit", "Started step 'emit'.", {})]
    for key in KEYS:
        step = f"work[{key}]"
        events += [("DYNAMIC_OUTPUT", "emit", f"Step 'emit' yielded mapping key '{key}'.", {"mapping_key": key}),
                   ("STEP_STARTED", step, f"Started step '{step}' (attempt 1).", {})]
        if key in ("k4", "k8"):
            events.append(("LOG", step, f"{key}: 100%_done Quota Nearly Used", {"level": "WARNING"}))
        if key in ("k7", "k21"):
            events.append(("STEP_FAILURE", step, f"Step '{step}' failed: ValueError: bad row in {key}", {}))
        else:
            events += [("STEP_OUTPUT", step, f"Step '{step}' stored output 'result'.", {}),
                       ("STEP_SUCCESS", step, f"Step '{step}' succeeded in 3 ms.", {})]
    events += [("STEP_SUCCESS", "emit", "Step 'emit' succeeded in 80 ms.", {}),
               ("STEP_SKIPPED", "total", "Skipped step 'total': upstream failed", {}),
               ("RUN_FINISHED", None, "Run failed: 2 steps failed", {"success": False, "canceled": False})]
    return events


@pytest.fixture
def fanout(live):
    """The written fan-out run: (run id, [(id, kind, step key, message)] in order)."""
    events = fanout_events()
    run, ids = write_run(events)
    return str(run.id), [(event_id, kind, step, message) for event_id, (kind, step, message, _) in zip(ids, events)]


def read_all(api, run_id: str, first: int, after: str | None = None, **filters) -> tuple[list[dict], list[dict]]:
    """Every event the filter matches after ``after``, following endCursor page by page; (events, the pages)."""
    events, pages = [], []
    while True:
        log = api(LOG, {"id": run_id, "first": first, "after": after, **filters})["run"]["eventLog"]
        pages.append(log)
        events += [edge["node"] for edge in log["edges"]]
        assert all(edge["cursor"] == edge["node"]["cursor"] == edge["node"]["id"] for edge in log["edges"])
        if not log["pageInfo"]["hasNextPage"]:
            return events, pages
        after = log["pageInfo"]["endCursor"]
        assert len(pages) < 500, "the pages never end"


def ids_of(events: list[dict]) -> list[int]:
    return [int(event["id"]) for event in events]


def test_pages_follow_first_and_after_exactly_and_the_same_cursor_gives_the_same_page(live, fanout):
    run_id, expected = fanout
    events, pages = read_all(live.api, run_id, first=37)
    assert ids_of(events) == [event_id for event_id, *_ in expected]
    assert [len(page["edges"]) for page in pages[:-1]] == [37] * (len(pages) - 1)
    assert pages[0]["totalCount"] == len(expected) and pages[0]["totalCountCapped"] is False
    assert not any(page["scanLimited"] for page in pages)
    first = events[0]
    assert (first["kind"], first["stepKey"], first["level"]) == ("RUN_STARTED", None, "INFO")
    assert datetime.fromisoformat(first["timestamp"]) == datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)

    after = pages[1]["pageInfo"]["endCursor"]
    again = [live.api(LOG, {"id": run_id, "first": 37, "after": after})["run"]["eventLog"] for _ in range(2)]
    assert again[0] == again[1] == pages[2]
    assert again[0]["totalCount"] == len(expected) - 74  # what follows the cursor
    empty = live.api(LOG, {"id": run_id, "first": 0})["run"]["eventLog"]
    assert empty["edges"] == [] and empty["pageInfo"]["hasNextPage"] is True


def test_kinds_filter_gives_exactly_the_events_of_those_kinds_in_order(live, fanout):
    run_id, expected = fanout
    failures, pages = read_all(live.api, run_id, first=1, kinds=["STEP_FAILURE"])
    assert [(e["stepKey"], e["level"]) for e in failures] == [("work[k7]", "ERROR"), ("work[k21]", "ERROR")]
    assert pages[0]["totalCount"] == 2
    mixed, pages = read_all(live.api, run_id, first=3, kinds=["STEP_FAILURE", "LOG", "RUN_FINISHED"])
    assert ids_of(mixed) == [i for i, kind, *_ in expected if kind in ("STEP_FAILURE", "LOG", "RUN_FINISHED")]
    assert pages[0]["totalCount"] == 5
    assert [e["level"] for e in mixed] == ["WARNING", "ERROR", "WARNING", "ERROR", "ERROR"]
    nothing, pages = read_all(live.api, run_id, first=10, kinds=["STEP_CANCELED"])
    assert nothing == [] and pages[0]["totalCount"] == 0


def test_step_key_filter_is_exact_and_the_prefix_filter_takes_every_key_under_it(live, fanout):
    run_id, expected = fanout
    step, pages = read_all(live.api, run_id, first=2, stepKey="work[k1]")
    assert ids_of(step) == [i for i, _, key, _ in expected if key == "work[k1]"]
    assert [e["kind"] for e in step] == ["STEP_STARTED", "STEP_OUTPUT", "STEP_SUCCESS"]
    assert pages[0]["totalCount"] == 3
    emitter, _ = read_all(live.api, run_id, first=7, stepKey="emit", kinds=["DYNAMIC_OUTPUT"])
    assert len(emitter) == len(KEYS) and {e["stepKey"] for e in emitter} == {"emit"}
    under, pages = read_all(live.api, run_id, first=25, stepKeyPrefix="work[k1")  # k1, k10..k19
    assert ids_of(under) == [i for i, _, key, _ in expected if key and key.startswith("work[k1")]
    assert {e["stepKey"] for e in under} == {"work[k1]"} | {f"work[k1{d}]" for d in range(10)}
    assert pages[0]["totalCount"] is None  # a prefix is not counted from an index
    assert read_all(live.api, run_id, first=5, stepKeyPrefix="WORK[")[0] == []  # keys are case-sensitive
    none, _ = read_all(live.api, run_id, first=5, stepKey="work[k1")  # not a whole key
    assert none == []


def test_text_filter_ignores_case_and_takes_wildcards_literally(live, fanout):
    run_id, expected = fanout
    quota, pages = read_all(live.api, run_id, first=1, text="quota nearly")
    assert [e["stepKey"] for e in quota] == ["work[k4]", "work[k8]"]
    assert pages[0]["totalCount"] is None
    literal, _ = read_all(live.api, run_id, first=10, text="0%_d")
    assert len(literal) == 2
    assert read_all(live.api, run_id, first=10, text="%")[0] == literal  # LIKE's % matches only itself
    assert read_all(live.api, run_id, first=10, text="k_:")[0] == []
    combined, _ = read_all(live.api, run_id, first=10, text="BAD ROW", kinds=["STEP_FAILURE"], stepKey="work[k21]")
    assert [e["message"] for e in combined] == ["Step 'work[k21]' failed: ValueError: bad row in k21"]
    failures, _ = read_all(live.api, run_id, first=1, text="bad row", kinds=["STEP_FAILURE", "LOG"])
    assert [e["stepKey"] for e in failures] == ["work[k7]", "work[k21]"]
    succeeded, _ = read_all(live.api, run_id, first=9, text="succeeded")
    assert ids_of(succeeded) == [i for i, _, _, message in expected if "succeeded" in message]


def refused(api, run_id: str, **arguments) -> dict:
    errors = api.errors(LOG, {"id": run_id, **arguments})
    assert len(errors) == 1, errors
    return errors[0]


def test_arguments_out_of_bounds_are_refused_with_a_typed_error_naming_the_argument(live, fanout):
    run_id, _ = fanout
    cases = {
        "first": [{"first": 501}, {"first": -1}],
        "text": [{"text": "x" * 201}],
        "kinds": [{"kinds": [f"K{index}" for index in range(33)]}, {"kinds": ["STEP FAILURE; DROP"]}, {"kinds": [""]}],
        "stepKey": [{"stepKey": "k" * 1001}],
        "stepKeyPrefix": [{"stepKeyPrefix": "k" * 1001}],
        "after": [{"after": "abc"}, {"after": "-5"}, {"after": "9" * 40}, {"after": "9" * 19}, {"after": "\u0663"}],
    }
    for argument, variants in cases.items():
        for variables in variants:
            error = refused(live.api, run_id, **variables)
            assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": argument}, (variables, error)
            assert error["path"] == ["run", "eventLog"]
    assert "between 0 and 500" in refused(live.api, run_id, first=501)["message"]
    at_bound = live.api(LOG, {"id": run_id, "first": 500, "text": "x" * 200})["run"]["eventLog"]
    assert at_bound["edges"] == [] and at_bound["pageInfo"]["hasNextPage"] is False


def test_a_scan_stopped_by_its_budget_resumes_exactly_where_it_stopped(live, monkeypatch):
    # Another run's events between this run's: windows are id ranges, not rows of one run.
    run = Run.objects.create(job_name="written_by_test", status="SUCCESS", output_store="memory://")
    other = Run.objects.create(job_name="other", status="SUCCESS", output_store="memory://")
    now = datetime.now(timezone.utc)
    rows = []
    for number in range(300):
        message = f"line {number}" + (" NEEDLE" if number % 37 == 5 else "")
        rows.append(Event(run=run, kind="LOG", step_key=f"work[k{number}]", message=message, timestamp=now))
        if number % 3 == 0:
            rows.append(Event(run=other, kind="LOG", message="NEEDLE elsewhere", timestamp=now))
    Event.objects.bulk_create(rows)
    mine = list(Event.objects.filter(run=run).order_by("id").values_list("id", "message"))
    ids = [event_id for event_id, _ in mine]
    monkeypatch.setattr(event_log, "WINDOW_IDS", 25)
    monkeypatch.setattr(event_log, "SCAN_BUDGET_S", 0.0)  # stop after every window
    log_filter = event_log.validated_filter(None, None, None, "needle")
    found, after, limited = [], None, 0
    while True:
        page = event_log.read_event_log(run, log_filter, after, size=4)
        found += [row["id"] for row in page.rows]
        limited += page.scan_limited
        assert page.end_cursor is not None and (after is None or page.end_cursor > after)
        if not page.has_next_page:
            break
        after = page.end_cursor
    assert found == [event_id for event_id, message in mine if "NEEDLE" in message] and len(found) == 8
    assert limited >= 10
    # the same request answers the same page
    stopped = event_log.read_event_log(run, log_filter, ids[40], size=4)
    assert stopped.scan_limited and event_log.read_event_log(run, log_filter, ids[40], size=4).rows == stopped.rows


def test_a_live_runs_new_events_are_read_after_the_cursor(live, gates):
    run_id = live.launch("gated_fanout", gates.config(["a", "b", "c"], before=(1,)))

    def first_key_yielded() -> dict | None:
        log = live.api(LOG, {"id": run_id, "first": 500})["run"]["eventLog"]
        kinds = [(edge["node"]["kind"], edge["node"]["stepKey"]) for edge in log["edges"]]
        return log if ("STEP_SUCCESS", "square[a]") in kinds else None

    before = wait_until(first_key_yielded, 40, "key a to be done while the emitter waits at its gate")
    assert before["pageInfo"]["hasNextPage"] is False
    cursor = before["pageInfo"]["endCursor"]
    assert cursor == before["edges"][-1]["cursor"]
    assert not [edge for edge in before["edges"] if edge["node"]["stepKey"] == "square[b]"]
    gates.open(1)
    assert live.wait(run_id) == "SUCCESS"

    after, _ = read_all(live.api, run_id, first=4, after=cursor)
    everything = all_events(live.api, run_id)
    assert [event["cursor"] for event in after] == [event["cursor"] for event in everything
                                                    if int(event["cursor"]) > int(cursor)]
    assert ("DYNAMIC_OUTPUT", "emit_gated") in {(event["kind"], event["stepKey"]) for event in after}
    assert after[-1]["kind"] == "RUN_FINISHED" and after[-1]["level"] == "INFO"
    new_successes = live.api(LOG, {"id": run_id, "after": cursor, "kinds": ["STEP_SUCCESS"], "first": 0})
    assert new_successes["run"]["eventLog"]["totalCount"] == sum(event["kind"] == "STEP_SUCCESS" for event in after)
