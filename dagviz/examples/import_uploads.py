"""Importing uploaded files, one mapped step per file, where some files fail for one of three reasons.

A realistic fan-out to triage: most uploads import, but a few have a bad date, name an unknown
customer or cannot be read. The run page's Failures panel shows the three causes as three groups
(with how many files each), and "Re-execute this group" re-runs one cause's files. The failures
are simulated from each file's number and happen only in the first run: a re-execution stands for
"the files were fixed", so its keys succeed.
"""

from __future__ import annotations

import time

from dagviz import DynamicOut, DynamicOutput, Field, job, op


def upload_problem(number: int) -> Exception | None:
    """The simulated problem of upload ``number`` (1-based), or None for a good file."""
    if number % 10 == 3:
        return ValueError(f"invalid date '2026-13-{number % 28 + 1:02d}' in row {number * 17}")
    if number % 20 == 7:
        return KeyError(f"customer_{number}")
    if number % 15 == 0:
        return PermissionError(f"Permission denied: '/srv/uploads/incoming/upload_{number:04d}.csv'")
    return None


@op(out=DynamicOut(), config_schema={"files": Field(int, default_value=60, description="Number of uploads.")})
def list_uploads(context):
    """Yield one key per uploaded file (upload_001, upload_002, ...) with its number as value."""
    for number in range(1, context.op_config["files"] + 1):
        yield DynamicOutput(number, mapping_key=f"upload_{number:03d}")


@op(config_schema={"work_ms": Field(int, default_value=30, description="Time to import one file, in ms.")})
def import_upload(context, number: int) -> int:
    """Import one file: the number of rows imported, or the file's problem raised (first run only)."""
    time.sleep(context.op_config["work_ms"] / 1000)
    problem = upload_problem(number)
    if problem is not None and context.parent_run_id is None:
        raise problem
    rows = 100 + number % 7
    context.log.info(f"{context.get_mapping_key()}: {rows} rows imported")
    return rows


@op
def report_imports(context, rows: list) -> int:
    """Total rows imported over every file."""
    context.log.info(f"{len(rows)} files, {sum(rows)} rows")
    return sum(rows)


@job(description="60 uploaded files imported one per mapped step; 13 fail in the first run for three different "
                 "reasons (bad date, unknown customer, unreadable file): triage them in the Failures panel.")
def import_uploads():
    report_imports(list_uploads().map(import_upload).collect())
