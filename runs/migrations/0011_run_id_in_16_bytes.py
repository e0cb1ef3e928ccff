"""Run ids in 16 bytes on SQLite (a BLOB, was 32 hex characters), in the runs table and in every column and
index entry that refers to a run: ~150 bytes less on disk a mapped key. PostgreSQL already stored ``uuid``.

On SQLite, Django rebuilds the runs table and the tables whose foreign keys point at it, copying the old
text as it is; ``ids_to_bytes`` then turns it into bytes, and the step key search triggers, dropped with the
old steps table, are made again.
"""

import importlib
import uuid

from django.db import migrations

import runs.fields

RUN_ID_COLUMNS = (("runs_run", "id"), ("runs_run", "parent_run_id"), ("runs_step", "run_id"),
                  ("runs_event", "run_id"))
key_search = importlib.import_module("runs.migrations.0009_step_indexes_key_search")


def _convert(schema_editor, function) -> None:
    connection = schema_editor.connection
    if connection.vendor != "sqlite":
        return
    connection.ensure_connection()
    connection.connection.create_function("dagviz_run_id", 1, function, deterministic=True)
    with connection.cursor() as cursor:
        for table, column in RUN_ID_COLUMNS:
            cursor.execute(f'UPDATE "{table}" SET "{column}" = dagviz_run_id("{column}") WHERE "{column}" IS NOT NULL')


def _restore_key_search_triggers(schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s", [key_search.FTS_TABLE])
        if cursor.fetchone():
            for statement in key_search.FTS_SQL:
                if statement.startswith("CREATE TRIGGER"):
                    cursor.execute(statement.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1))


def restore_key_search_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        _restore_key_search_triggers(schema_editor)


def ids_to_bytes(apps, schema_editor) -> None:
    _convert(schema_editor, lambda value: uuid.UUID(hex=value).bytes if isinstance(value, str) else value)


def ids_to_text(apps, schema_editor) -> None:
    _convert(schema_editor, lambda value: uuid.UUID(bytes=value).hex if isinstance(value, bytes) else value)


class Migration(migrations.Migration):

    dependencies = [
        ('runs', '0010_drop_dynamic_output_record'),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, restore_key_search_triggers),
        migrations.AlterField(
            model_name='run',
            name='id',
            field=runs.fields.CompactUUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False),
        ),
        migrations.RunPython(ids_to_bytes, ids_to_text),
        # Both ways: the tables rebuilt above (or, going back, below) lost the triggers.
        migrations.RunPython(restore_key_search_triggers, restore_key_search_triggers),
    ]
