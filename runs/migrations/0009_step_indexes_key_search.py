"""Indexes for runs of a million steps, and an index for step key search.

- The single-column indexes on ``run_id`` of steps, events and dynamic outputs go: every other index
  of those tables starts with ``run_id``, and serves the foreign key and cascading deletes as well.
  They are found by introspection and dropped (no table rebuild on SQLite); the reverse recreates them
  under Django's own names.
- Steps get ``(run, node, status, order)`` (node counts, pages of one node and status, status tiles) in
  place of ``(run, node, status)``, ``(run, node, order)`` (pages of one node) and a partial
  ``(run, error_signature, order)`` holding only failed rows in place of the full one.
- Key search (``runs.services.key_search``): on PostgreSQL a pg_trgm GIN index on ``UPPER(key)``, the
  expression Django's ``icontains`` compares; on SQLite an FTS5 trigram table over ``runs_step.key``
  kept in sync by triggers. Either is skipped when the database cannot build it (no pg_trgm extension,
  or an SQLite without FTS5): searches then scan, with the same results.
"""

from __future__ import annotations

import django.db.models.deletion
from django.db import DatabaseError, migrations, models, transaction

FK_TABLES = ("runs_step", "runs_event", "runs_dynamicoutputrecord")
TRGM_INDEX = "runs_step_key_trgm"
FTS_TABLE = "runs_step_key_fts"
FTS_SQL = [
    # detail=none and columnsize=0 keep it small (about 15 bytes a key); LIKE on it stays exact.
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(key, content='runs_step', content_rowid='id', "
    "tokenize='trigram', detail='none', columnsize=0)",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
    f"CREATE TRIGGER {FTS_TABLE}_insert AFTER INSERT ON runs_step BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, key) VALUES (new.id, new.key); END",
    f"CREATE TRIGGER {FTS_TABLE}_delete AFTER DELETE ON runs_step BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, key) VALUES ('delete', old.id, old.key); END",
    # Only a change of the key itself: the event sink's upserts never rewrite it.
    f"CREATE TRIGGER {FTS_TABLE}_update AFTER UPDATE OF id, key ON runs_step BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, key) VALUES ('delete', old.id, old.key); "
    f"INSERT INTO {FTS_TABLE}(rowid, key) VALUES (new.id, new.key); END",
]


def _run_id_indexes(schema_editor, table: str) -> list[str]:
    """The names of the plain one-column indexes on ``run_id`` (not the foreign key constraint itself)."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return [name for name, info in constraints.items()
            if info["columns"] == ["run_id"] and info["index"] and not info["unique"]
            and not info["primary_key"] and not info["foreign_key"]]


def drop_run_id_indexes(apps, schema_editor) -> None:
    for table in FK_TABLES:
        for name in _run_id_indexes(schema_editor, table):
            schema_editor.execute(schema_editor._delete_index_sql(_model_for(apps, table), name))


def restore_run_id_indexes(apps, schema_editor) -> None:
    for table in FK_TABLES:
        if not _run_id_indexes(schema_editor, table):
            model = _model_for(apps, table)
            schema_editor.execute(schema_editor._create_index_sql(model, fields=[model._meta.get_field("run")]))


def _model_for(apps, table: str):
    return next(model for model in apps.get_app_config("runs").get_models() if model._meta.db_table == table)


def add_key_search_index(apps, schema_editor) -> None:
    """The trigram index, in a savepoint: a database that cannot build it keeps working without it."""
    connection = schema_editor.connection
    statements = {
        "postgresql": ["CREATE EXTENSION IF NOT EXISTS pg_trgm",
                       f'CREATE INDEX {TRGM_INDEX} ON runs_step USING gin ((UPPER("key"::text)) gin_trgm_ops)'],
        "sqlite": FTS_SQL,
    }.get(connection.vendor)
    if not statements:
        return
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    except DatabaseError:
        pass  # no pg_trgm (or no right to create it) / no FTS5: key search scans instead


def remove_key_search_index(apps, schema_editor) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP INDEX IF EXISTS {TRGM_INDEX}")
        elif connection.vendor == "sqlite":
            for suffix in ("_insert", "_delete", "_update"):
                cursor.execute(f"DROP TRIGGER IF EXISTS {FTS_TABLE}{suffix}")
            cursor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")


def _fk(related_name: str) -> models.ForeignKey:
    return models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                             related_name=related_name, to="runs.run")


class Migration(migrations.Migration):

    dependencies = [
        ("runs", "0008_run_step_counts"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="step",
            index=models.Index(fields=["run", "node", "status", "order"], name="runs_step_node_status_order"),
        ),
        migrations.AddIndex(
            model_name="step",
            index=models.Index(fields=["run", "node", "order"], name="runs_step_node_order"),
        ),
        migrations.AddIndex(
            model_name="step",
            index=models.Index(condition=models.Q(("error_signature__gt", "")),
                               fields=["run", "error_signature", "order"], name="runs_step_failed_signature"),
        ),
        migrations.RemoveIndex(model_name="step", name="runs_step_run_id_30bd6a_idx"),
        migrations.RemoveIndex(model_name="step", name="runs_step_run_id_f8c49d_idx"),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="step", name="run", field=_fk("steps")),
                migrations.AlterField(model_name="event", name="run", field=_fk("events")),
                migrations.AlterField(model_name="dynamicoutputrecord", name="run", field=_fk("dynamic_outputs")),
            ],
            database_operations=[migrations.RunPython(drop_run_id_indexes, restore_run_id_indexes)],
        ),
        migrations.RunPython(add_key_search_index, remove_key_search_index),
    ]
