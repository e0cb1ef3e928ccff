"""Run ids in 16 bytes on SQLite (a BLOB, was 32 hex characters), in the runs table and in every column and
index entry that refers to a run: ~150 bytes less on disk a mapped key. PostgreSQL already stored ``uuid``.

No table is rebuilt: an SQLite column keeps a BLOB as it is whatever type it was declared with, so the
values are rewritten in place (``ids_to_bytes``), indexes, foreign keys and triggers untouched.
"""

import uuid

from django.db import migrations

import runs.fields

RUN_ID_COLUMNS = (("runs_run", "id"), ("runs_run", "parent_run_id"), ("runs_step", "run_id"),
                  ("runs_event", "run_id"))


def _convert(schema_editor, function) -> None:
    connection = schema_editor.connection
    if connection.vendor != "sqlite":
        return
    connection.ensure_connection()
    connection.connection.create_function("dagviz_run_id", 1, function, deterministic=True)
    with connection.cursor() as cursor:
        for table, column in RUN_ID_COLUMNS:
            cursor.execute(f'UPDATE "{table}" SET "{column}" = dagviz_run_id("{column}") WHERE "{column}" IS NOT NULL')


def ids_to_bytes(apps, schema_editor) -> None:
    _convert(schema_editor, lambda value: uuid.UUID(hex=value).bytes if isinstance(value, str) else value)


def ids_to_text(apps, schema_editor) -> None:
    _convert(schema_editor, lambda value: uuid.UUID(bytes=value).hex if isinstance(value, bytes) else value)


class Migration(migrations.Migration):

    dependencies = [
        ('runs', '0010_drop_dynamic_output_record'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='run',
                    name='id',
                    field=runs.fields.CompactUUIDField(default=uuid.uuid4, editable=False, primary_key=True,
                                                       serialize=False),
                ),
            ],
            database_operations=[migrations.RunPython(ids_to_bytes, ids_to_text)],
        ),
    ]
