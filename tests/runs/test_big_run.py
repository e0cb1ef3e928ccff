"""A 50,000-key run end to end through the real worker: every key recorded, the collect right, and disk per key bounded.

A million-key run is a benchmark (bench/million_keys.py); this is the same path at a size CI can afford,
checking what must hold at any size: one step row per key, about two stored event rows per key, outputs
packed into a few segment files, and the whole run (database rows, indexes, outputs) within a per-key
disk budget.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.db import connection
from django.db.models import Count

from dagviz.storage.output_store import open_output_store
from runs.event_rows import yielded_keys
from runs.models import Event, Step
from runs.services.launch import launch_run
from tests.runs.support import assert_finished_as

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]

KEYS = 50_000
# Bytes per key of the whole run (rows, indexes, outputs), about 10% above what it takes today: 860 on
# SQLite, 1,274 on PostgreSQL (pg_total_relation_size, with the key-search index). Under the 1 KB a key
# that a million keys in 1 GB needs, on SQLite. A file per output (8 KB a key), a row per yielded key
# (+350 B), a second copy of every yielded key (+280 B) or 32-character run ids (+150 B) would not fit.
DISK_BUDGET_PER_KEY = {"sqlite": 950, "postgresql": 1_400}


def _database_bytes() -> int:
    """Bytes the run tables and their indexes hold now (only this test's run is in them)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'runs_%' OR name LIKE 'sqlite_autoindex_runs_%'")
        else:
            cursor.execute("SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c "
                           "WHERE c.relkind = 'r' AND c.relname LIKE 'runs_%'")
        return int(cursor.fetchone()[0] or 0)


def _allocated(path: Path) -> tuple[int, int]:
    files = [item for item in path.rglob("*") if item.is_file()]
    return len(files), sum(item.stat().st_blocks * 512 for item in files)


def test_fifty_thousand_keys_are_all_recorded_collected_and_within_the_disk_budget():
    run = launch_run("big_fanout", {"ops": {"emit_many": {"config": {"n": KEYS}}}})
    run = assert_finished_as(run.id, "SUCCESS", timeout=540)

    counts = dict(Step.objects.filter(run=run).values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    assert counts == {"SUCCESS": KEYS + 2}
    total = Step.objects.get(run=run, key="sum_all")
    assert open_output_store(run.output_store).get(total.outputs["result"]) == sum(range(1, KEYS + 1))
    last = Step.objects.get(run=run, key=f"add_one[k{KEYS - 1}]")
    assert open_output_store(run.output_store).get(last.outputs["result"]) == KEYS
    assert Step.objects.filter(run=run, node="add_one").order_by("order").values_list("key", flat=True)[:3][2] == "add_one[k2]"

    yielded = [mapping_key for _, _, mapping_key, _ in yielded_keys([run.id])]
    assert yielded == [f"k{index}" for index in range(KEYS)]

    event_rows = Event.objects.filter(run=run).count()
    assert event_rows <= 2.1 * KEYS, f"{event_rows} event rows for {KEYS} keys: quick steps are not stored compactly"

    files, output_bytes = _allocated(Path(urlparse(run.output_store).path) / str(run.id))
    assert files <= 10, f"{files} files for {2 * KEYS} small outputs: they are not packed into segments"
    per_key = (_database_bytes() + output_bytes) / KEYS
    budget = DISK_BUDGET_PER_KEY[connection.vendor]
    assert per_key <= budget, f"{per_key:.0f} bytes per key on disk (budget {budget})"
