"""The database at scale: migration 0009 (indexes, key search index), key search semantics, index sync, query plans.

Plans are checked on the SQL the code really sends (captured while the API answers) with EXPLAIN QUERY PLAN
(SQLite) or EXPLAIN with sequential scans disabled (PostgreSQL, whose planner picks a scan for a tiny
table): each main query must be able to use its index, so a change of a query or an index that loses it
fails here, not only in bench/db_scale.py.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.test.utils import CaptureQueriesContext

from dagviz.execution.error_signature import error_signature
from dagviz.execution.events import RunFinished, RunStarted, StepFailed, StepStarted, StepSucceeded, ErrorInfo
from dagviz.execution.sinks import PlannedStep
from runs.event_sink import DatabaseEventSink
from runs.models import Run, RunStatus, Step
from runs.services import key_search
from runs.services.key_search import FTS_TABLE, sqlite_candidates, steps_with_key
from tests.graphql.conftest import Live

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE, AFTER = ("runs", "0008_run_step_counts"), ("runs", "0009_step_indexes_key_search")
KEYS = ["emit", "work[a%b]", "work[a_b]", "work[aXb]", "work[a\\b]", "work[Key_One]", "work[key_one]",
        "work[k1][k2]", "work[k1][k20]", "work[k10][k2]", "nest[k1][k2]", "work[ÄBC]"]
TEXTS = ["%", "_", "\\", "a%b", "a_b", "a\\b", "%b]", "KEY_ONE", "key", "[k1][", "k1][k2", "]]", "work[", "b]",
         "zzz", "äbc", "ÄBC", "k", "Xb", "ork[a_"]
STEPS = """query($id: ID!, $node: String, $key: String, $after: String, $signature: String) { run(id: $id) {
  steps(node: $node, keyContains: $key, errorSignature: $signature, first: 2, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { key } } } } }"""


def make_run(keys: list[str]) -> Run:
    run = Run.objects.create(job_name="big_fanout", status=RunStatus.SUCCESS, output_store="memory://")
    Step.objects.bulk_create(Step(run=run, key=key, node=key.split("[")[0], order=order, status="SUCCESS")
                             for order, key in enumerate(keys))
    return run


def keys_found(run: Run, text: str) -> list[str]:
    return list(steps_with_key(run.id, text).order_by("order").values_list("key", flat=True))


def plain_icontains(run: Run, text: str) -> list[str]:
    return list(Step.objects.filter(run=run, key__icontains=text).order_by("order").values_list("key", flat=True))


def fts_intact() -> bool:
    """FTS5's own check that the index holds exactly the keys of runs_step (rank 1: against the content)."""
    with connection.cursor() as cursor:
        try:
            cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('integrity-check', 1)")
        except Exception:
            return False
    return True


# -- key search -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cap", [key_search.CANDIDATE_CAP, 0], ids=["index", "scan"])
def test_key_search_is_a_case_insensitive_literal_substring_on_either_path(cap, monkeypatch):
    monkeypatch.setattr(key_search, "CANDIDATE_CAP", cap)
    run, other = make_run(KEYS), make_run(KEYS)
    for text in TEXTS:
        assert keys_found(run, text) == plain_icontains(run, text), text
        if text.isascii():
            assert keys_found(run, text) == [key for key in KEYS if text.lower() in key.lower()], text
    assert keys_found(run, "a%b") == ["work[a%b]"] and keys_found(run, "a_b") == ["work[a_b]"]
    assert keys_found(run, "a\\b") == ["work[a\\b]"] and keys_found(run, "[k1][") == ["work[k1][k2]", "work[k1][k20]",
                                                                                       "nest[k1][k2]"]
    assert set(keys_found(other, "key_one")) == {"work[Key_One]", "work[key_one]"}  # each run its own rows


NODE_KEYS = ["add[k1]", "add[k12]", "add_one[k1]", "add_one[k12]", "adds[k1]", "add1[k1]", "addZ[k1]",
             "g.add[k1]", "g.add[k1][k12]", "add_all", "add_one_more", "add_one_more[k1]", "ad[k1]"]


@pytest.mark.parametrize("counting", [False, True], ids=["page", "count"])
@pytest.mark.parametrize("cap", [key_search.CANDIDATE_CAP, 0], ids=["index", "scan"])
def test_key_search_in_one_node_finds_exactly_that_nodes_keys(cap, counting, monkeypatch):
    """Node names that are prefixes of others, static nodes, graph-nested and nested mapped steps: the
    node filter (a key range on SQLite's scan) keeps exactly the node's steps."""
    monkeypatch.setattr(key_search, "CANDIDATE_CAP", cap)
    run = make_run(NODE_KEYS)
    for node in sorted({key.split("[")[0] for key in NODE_KEYS}):
        for text in ("k1", "K12", "add", "[", "zzz"):
            found = list(steps_with_key(run.id, text, node, counting).order_by("order").values_list("key", flat=True))
            assert found == [key for key in NODE_KEYS if key.split("[")[0] == node and text.lower() in key.lower()], \
                (node, text)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the FTS5 index is SQLite's")
def test_the_trigram_index_narrows_the_search_to_the_runs_candidates():
    run, other = make_run(KEYS), make_run(KEYS)
    ids = dict(Step.objects.filter(run=run).values_list("key", "id"))
    assert sorted(sqlite_candidates(run.id, "k1][k2]")) == sorted([ids["work[k1][k2]"], ids["nest[k1][k2]"]])
    # % and _ are wildcards in the index's LIKE: more candidates, which the exact filter then drops
    wildcards = sorted(ids[k] for k in ("work[a%b]", "work[a_b]", "work[aXb]", "work[a\\b]"))
    assert sorted(sqlite_candidates(run.id, "ork[a_b]")) == wildcards and keys_found(run, "ork[a_b]") == ["work[a_b]"]
    assert sqlite_candidates(run.id, "k1") is None  # under three characters: nothing for a trigram index to look up
    assert ids["work[k1][k2]"] not in Step.objects.filter(run=other).values_list("id", flat=True)


def test_key_contains_through_the_api_with_node_filter_total_count_and_pages(live: Live):
    run = make_run(KEYS)
    for text, node, expected in (("[K1][", "work", ["work[k1][k2]", "work[k1][k20]"]), ("a_b", None, ["work[a_b]"]),
                                 ("%", "work", ["work[a%b]"]), ("[k1]", None, ["work[k1][k2]", "work[k1][k20]",
                                                                               "nest[k1][k2]"])):
        found, after = [], None
        while True:
            steps = live.api(STEPS, {"id": str(run.id), "node": node, "key": text, "after": after})["run"]["steps"]
            assert steps["totalCount"] == len(expected), text
            found += [edge["node"]["key"] for edge in steps["edges"]]
            if not steps["pageInfo"]["hasNextPage"]:
                break
            after = steps["pageInfo"]["endCursor"]
        assert found == expected, text


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the FTS5 index is SQLite's")
def test_the_index_follows_the_event_sinks_inserts_and_upserts_key_updates_and_run_deletion():
    run = Run.objects.create(job_name="letters", status=RunStatus.STARTED, output_store="memory://")
    sink = DatabaseEventSink(run.id, coalesce_seconds=0)
    sink.handle(RunStarted(None, run_id=str(run.id), job_name="letters", timestamp=1.0))
    sink.steps_created([PlannedStep(f"shout[letter_{n}]", "shout", (f"letter_{n}",), n) for n in range(30)])
    sink.flush()
    assert keys_found(run, "LETTER_2") == ["shout[letter_2]"] + [f"shout[letter_{n}]" for n in range(20, 30)]
    for n in range(30):  # upserts of the same rows (INSERT ... ON CONFLICT DO UPDATE)
        sink.handle(StepStarted(f"shout[letter_{n}]", timestamp=2.0))
        if n % 2:
            sink.handle(StepFailed(f"shout[letter_{n}]", error=ErrorInfo("KeyError", "'x'", ""), timestamp=3.0))
        else:
            sink.handle(StepSucceeded(f"shout[letter_{n}]", timestamp=3.0))
    sink.handle(RunFinished(None, success=False, failure_reason="1 step failed", timestamp=4.0))
    sink.close()
    assert Step.objects.filter(run=run, status="FAILURE").count() == 15
    assert fts_intact()
    assert keys_found(run, "letter_29") == ["shout[letter_29]"] and sqlite_candidates(run.id, "letter_29") is not None
    Step.objects.filter(run=run, key="shout[letter_29]").update(key="shout[renamed]")
    assert fts_intact() and keys_found(run, "letter_29") == [] and keys_found(run, "renamed") == ["shout[renamed]"]
    run.delete()
    assert fts_intact()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {FTS_TABLE} WHERE key LIKE '%letter_1%'")
        assert cursor.fetchone()[0] == 0


def test_without_its_triggers_the_index_is_not_trusted_and_search_scans():
    if connection.vendor != "sqlite":
        pytest.skip("the FTS5 index is SQLite's")
    run = make_run(KEYS)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER {FTS_TABLE}_insert")
    try:
        later = make_run(["work[fresh_key]"])
        assert not key_search.fts_ready() and sqlite_candidates(later.id, "fresh_key") is None
        assert keys_found(later, "FRESH") == ["work[fresh_key]"] and keys_found(run, "a_b") == ["work[a_b]"]
    finally:
        migrate_to(BEFORE)
        migrate_to(latest())  # the index rebuilt from runs_step, triggers back
    assert key_search.fts_ready() and fts_intact() and keys_found(later, "fresh_key") == ["work[fresh_key]"]


# -- the migration ----------------------------------------------------------------------------------------------


def migrate_to(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([target])


def latest() -> tuple[str, str]:
    """The newest migration of the runs app: where a test that migrates must leave the database."""
    return MigrationExecutor(connection).loader.graph.leaf_nodes("runs")[0]


def index_names(table: str) -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {name: info["columns"] for name, info in constraints.items() if info["index"]}


def key_search_index_exists() -> bool:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            return key_search.fts_ready()
        cursor.execute("SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'runs_step_key_trgm'")
        return cursor.fetchone()[0] == 1


def test_the_migration_reverses_and_applies_keeping_rows_and_search():
    run = make_run(KEYS)
    try:
        migrate_to(BEFORE)
        for table in ("runs_step", "runs_event", "runs_dynamicoutputrecord"):
            assert ["run_id"] in index_names(table).values(), table
        assert "runs_step_failed_signature" not in index_names("runs_step")
        assert not key_search_index_exists()
        # The models of that time (run ids were stored as 32 hex characters then, see 0011).
        old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
        OldRun, OldStep = old.get_model("runs", "Run"), old.get_model("runs", "Step")
        assert list(OldStep.objects.filter(run_id=run.id, key__icontains="k1][k2]").order_by("order")
                    .values_list("key", flat=True)) == ["work[k1][k2]", "nest[k1][k2]"]  # no index: the scan
        old_run = OldRun.objects.create(job_name="big_fanout", status=RunStatus.SUCCESS, output_store="memory://")
        OldStep.objects.create(run=old_run, key="work[added_before_0009]", node="work", status="SUCCESS")
        migrate_to(AFTER)
        for table in ("runs_step", "runs_event", "runs_dynamicoutputrecord"):
            assert ["run_id"] not in index_names(table).values(), table
            with connection.cursor() as cursor:  # the foreign key itself stays
                constraints = connection.introspection.get_constraints(cursor, table)
            assert any(info["foreign_key"] == ("runs_run", "id") for info in constraints.values()), table
    finally:
        migrate_to(latest())
    steps = index_names("runs_step")
    assert steps["runs_step_node_status_order"] == ["run_id", "node", "status", "order"]
    assert steps["runs_step_failed_signature"] == ["run_id", "error_signature", "order"]
    assert key_search_index_exists()
    added = Step.objects.get(key="work[added_before_0009]")
    assert keys_found(added.run, "ADDED_BEFORE") == ["work[added_before_0009]"]
    if connection.vendor == "sqlite":
        assert fts_intact() and sqlite_candidates(added.run_id, "added_before") == [added.id]


# -- query plans ----------------------------------------------------------------------------------------------


def failed_run() -> Run:
    """A run whose steps one in ten failed; on PostgreSQL big enough, and analysed, for its planner to weigh indexes."""
    run = Run.objects.create(job_name="big_fanout", status=RunStatus.FAILURE, output_store="memory://")
    rows = []
    for order in range(200 if connection.vendor == "sqlite" else 20_000):
        failed = order % 10 == 0
        error = {"class_name": "KeyError", "message": f"'c{order % 3}'"} if failed else None
        rows.append(Step(run=run, key=f"add_one[k{order}]", node="add_one", order=order,
                         status="FAILURE" if failed else "SUCCESS", error=error,
                         error_signature=error_signature("KeyError", f"'c{order % 3}'") if failed else ""))
    rows.append(Step(run=run, key="sum_all", node="sum_all", order=len(rows), status="SKIPPED"))
    Step.objects.bulk_create(rows, batch_size=2000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE runs_step")
    return run


def plans_of(query: str, variables: dict) -> list[tuple[str, str]]:
    """(SQL, plan) of every statement on runs_step the API runs to answer ``query``."""
    client = Client(HTTP_HOST="127.0.0.1")
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/graphql", json.dumps({"query": query, "variables": variables}),
                               content_type="application/json")
    assert response.status_code == 200 and not response.json().get("errors"), response.content
    plans = []
    for statement in captured.captured_queries:
        sql = statement["sql"]
        if "runs_step" in sql and sql.lstrip().upper().startswith(("SELECT", "WITH")):
            plans.append((sql, explain(sql)))
    return plans


def explain(sql: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        with transaction.atomic():
            cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: is the index usable at all?
            cursor.execute("EXPLAIN " + sql)
            return "\n".join(row[0] for row in cursor.fetchall())


def assert_uses(plans: list[tuple[str, str]], index: str, where: str) -> None:
    chosen = [(sql, plan) for sql, plan in plans if where in sql]
    assert chosen, f"no query with {where!r}: {[sql for sql, _ in plans]}"
    for sql, plan in chosen:
        assert index in plan, f"{sql}\n-> {plan}"


def test_the_main_step_queries_use_their_indexes():
    run = failed_run()
    run_id = str(run.id)
    stats = plans_of("query($id: ID!) { run(id: $id) { nodeStats { node total failed } } }", {"id": run_id})
    # PostgreSQL reads COUNT(id) from the table anyway (an index has no id): any index on run will do there.
    assert_uses(stats, "runs_step_node_status_order" if connection.vendor == "sqlite" else "Index", "GROUP BY")
    page = plans_of(STEPS, {"id": run_id, "node": "add_one", "after": "150"})
    assert_uses(page, "runs_step_node_order" if connection.vendor == "sqlite" else "Index", "LIMIT")
    small_node = plans_of(STEPS, {"id": run_id, "node": "sum_all"})  # after all the others: never walk them
    assert_uses(small_node, "runs_step_node_order", "LIMIT")
    groups = plans_of("query($id: ID!) { run(id: $id) { failureGroups { signature count sampleKeys } } }",
                      {"id": run_id})
    assert_uses(groups, "runs_step_failed_signature", "GROUP BY")
    signature = error_signature("KeyError", "'c0'")
    group_page = plans_of(STEPS, {"id": run_id, "signature": signature})
    assert_uses(group_page, "runs_step_failed_signature", "LIMIT")
    common = plans_of(STEPS, {"id": run_id, "node": "add_one", "key": "k1"})  # no trigram: a scan of the keys
    if connection.vendor == "sqlite":  # the count reads the (run, key) index alone, not a row per step
        assert_uses(common, "COVERING INDEX sqlite_autoindex_runs_step_1", '"__count"')
        assert_uses(common, "runs_step_node_order", "ORDER BY")  # the page walks the node in order, stops when full
    search = plans_of(STEPS, {"id": run_id, "node": "add_one", "key": "K199]"})  # a rare match
    if connection.vendor == "sqlite":
        assert_uses(search, "SCAN f VIRTUAL TABLE INDEX 0:L", "f.rowid")  # candidates: the trigram index's LIKE
        assert_uses(search, "USING INTEGER PRIMARY KEY", "LIMIT")  # the page reads only them
        assert_uses(search, "USING INTEGER PRIMARY KEY", '"__count"')  # and so does totalCount
    else:
        assert_uses(search, "runs_step_key_trgm", "LIMIT")
        assert_uses(search, "runs_step_key_trgm", "COUNT(*)")
