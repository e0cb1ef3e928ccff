"""Migrations that rewrite stored rows: a database made before them reads back the same after them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from runs import event_rows
from runs.models import Run, Step
from runs.services.key_search import fts_ready, sqlite_candidates, steps_with_key

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_COMPACT_IDS = ("runs", "0010_drop_dynamic_output_record")


def migrate(target: tuple[str, str]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    executor.loader.build_graph()
    return executor


def test_runs_recorded_with_32_character_ids_read_back_after_the_16_byte_migration():
    latest = migrate(BEFORE_COMPACT_IDS).loader.graph.leaf_nodes("runs")[0]
    old = MigrationExecutor(connection).loader.project_state(BEFORE_COMPACT_IDS).apps
    OldRun, OldStep, OldEvent = (old.get_model("runs", name) for name in ("Run", "Step", "Event"))
    parent = OldRun.objects.create(job_name="big_fanout", output_store="memory://")
    child = OldRun.objects.create(job_name="big_fanout", output_store="memory://", parent_run=parent,
                                  root_run_id=parent.id)
    OldStep.objects.create(run=parent, key="add_one[k7]", node="add_one", order=1)
    OldEvent.objects.create(run=parent, step_key="emit_many", kind="DYNAMIC_OUTPUT", message="yielded k7",
                            timestamp=timezone.now(),
                            payload={"output_name": "result", "mapping_key": "k7", "ref": "r/k7"})
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT typeof(run_id), length(run_id) FROM runs_step")
            assert cursor.fetchone() == ("text", 32)

    migrate(latest)

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            for table, column in (("runs_run", "id"), ("runs_run", "parent_run_id"), ("runs_step", "run_id"),
                                  ("runs_event", "run_id")):
                cursor.execute(f"SELECT DISTINCT typeof({column}), length({column}) FROM {table} "
                               f"WHERE {column} IS NOT NULL")
                assert cursor.fetchall() == [("blob", 16)], (table, column)
            cursor.execute("PRAGMA foreign_key_check")
            assert cursor.fetchall() == []
        assert fts_ready()  # the key search triggers were made again with the steps table
    run = Run.objects.get(id=parent.id)
    assert Run.objects.get(id=str(child.id)).parent_run == run and Run.objects.get(id=child.id).root_run_id == run.id
    assert list(Step.objects.filter(run_id=run.id).values_list("key", "run_id")) == [("add_one[k7]", run.id)]
    assert list(event_rows.yielded_keys([run.id])) == [("emit_many", "result", "k7", "r/k7")]
    Step.objects.create(run=run, key="add_one[k12]", node="add_one", order=2)
    assert [step.key for step in steps_with_key(run.id, "k12")] == ["add_one[k12]"]
    if connection.vendor == "sqlite":
        assert len(sqlite_candidates(run.id, "k12")) == 1  # found through the trigram index, kept by the triggers
    run.delete()  # cascades through the rewritten foreign keys
    assert not Step.objects.exists() and Run.objects.get(id=child.id).parent_run is None
