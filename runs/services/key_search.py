"""Step key search (``Run.steps(keyContains:)``): a case-insensitive substring of the key, fast at a million steps.

The result is always what Django's ``key__icontains`` gives on the database (``%``, ``_`` and ``\\`` taken
literally; ASCII case folding on SQLite, full Unicode on PostgreSQL); an index only narrows the rows it is
checked on:

- PostgreSQL: the pg_trgm GIN index on ``UPPER(key)`` (migration 0009) is the expression ``icontains``
  compares, so the planner uses it by itself when the text is selective.
- SQLite: the FTS5 trigram table ``runs_step_key_fts`` (kept by triggers on ``runs_step``) gives the
  ids of the run's steps whose key matches the text with ``%`` and ``_`` as wildcards, a superset of the
  exact matches. Up to ``CANDIDATE_CAP`` of them, the exact filter runs on those ids only, which makes a
  rare match and its totalCount as cheap as a page. A text that matches more keys than that is common,
  and a plain scan in step order fills a page at once; a text with no three plain characters in a row
  gives the trigram index nothing to look up, and scans too.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from django.db import connection
from django.db.models import QuerySet

from dagviz.step_keys import mapped_key_range

FTS_TABLE = "runs_step_key_fts"
FTS_TRIGGERS = (f"{FTS_TABLE}_insert", f"{FTS_TABLE}_delete", f"{FTS_TABLE}_update")
CANDIDATE_CAP = 5000
_PLAIN_RUN = re.compile(r"[^%_]{3,}")  # three characters in a row that are not LIKE wildcards


def steps_with_key(run_id: Any, text: str, node: str | None = None, counting: bool = False) -> QuerySet:
    """The steps of run ``run_id`` (of ``node`` if given) whose key contains ``text``, ignoring case; filter
    them further as needed. ``counting``: the queryset is for a count, not for a page in step order.

    With candidates, the queryset names the rows by id only (no ``run_id`` term): SQLite, which has no
    statistics unless someone runs ANALYZE, would otherwise prefer an index on (run, node, ...) to the
    ids and walk every step of the node. Without them, a page walks the node's steps in order (and stops
    once it is full), and a count on SQLite names a mapped node's steps by their key range (see
    ``_node_terms``).
    """
    from runs.models import Step

    candidates = sqlite_candidates(run_id, text)
    if candidates is None:
        terms = _node_terms(run_id, node) if counting else ({"node": node} if node else {})
        return Step.objects.filter(run_id=run_id, key__icontains=text, **terms)
    steps = Step.objects.filter(id__in=candidates, key__icontains=text)
    return steps.filter(node=node) if node else steps


def _node_terms(run_id: Any, node: str | None) -> dict[str, str]:
    """The filter for ``node``'s steps in a count of the run's keys that contain a text.

    On SQLite (which compares text in code-point order) a mapped node's steps are its keys' range: the
    scan, and above all the count of a common text, then reads the (run, key) index alone instead of a
    table row per step of the node (half the time at a million steps).
    """
    from runs.models import Step

    if not node:
        return {}
    if connection.vendor != "sqlite" or Step.objects.filter(run_id=run_id, key=node).exists():
        return {"node": node}  # a static node: its one step
    low, high = mapped_key_range(node)
    return {"key__gte": low, "key__lt": high}


def sqlite_candidates(run_id: Any, text: str) -> list[int] | None:
    """Ids of the run's steps the trigram index finds for ``text`` (a superset of the exact matches);
    None when it cannot narrow the search: not SQLite, no index, a short text or too many candidates."""
    if connection.vendor != "sqlite" or not _PLAIN_RUN.search(text) or not fts_ready():
        return None
    with connection.cursor() as cursor:
        cursor.execute(*_candidates_sql(run_id, text))
        ids = [row[0] for row in cursor.fetchall()]
    return None if len(ids) > CANDIDATE_CAP else ids


def _candidates_sql(run_id: Any, text: str) -> tuple[str, list]:
    from runs.models import Run

    run_value = Run._meta.get_field("id").get_db_prep_value(run_id, connection)
    # No ESCAPE in an FTS5 LIKE: % and _ in the text stay wildcards here (more candidates, never fewer).
    # CROSS JOIN: SQLite then reads the trigram index first, never the run's steps one by one.
    return (f"SELECT f.rowid FROM {FTS_TABLE} f CROSS JOIN runs_step s ON s.id = f.rowid "
            f"WHERE f.key LIKE %s AND s.run_id = %s LIMIT {CANDIDATE_CAP + 1}", [f"%{text}%", run_value])


def fts_ready() -> bool:
    """Whether the FTS5 table and every trigger keeping it in sync exist (a table rebuilt by a later
    migration loses its triggers: the search then scans rather than trust a stale index)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM sqlite_master WHERE (type = 'table' AND name = %s) "
                       "OR (type = 'trigger' AND tbl_name = 'runs_step' AND name IN (%s, %s, %s))",
                       [FTS_TABLE, *FTS_TRIGGERS])
        return cursor.fetchone()[0] == 1 + len(FTS_TRIGGERS)


def explain_queries(run: Any, node: str, text: str) -> Iterator[tuple[str, str, list]]:
    """(name, SQL, params) of the queries a key search makes, for EXPLAIN."""
    if connection.vendor == "sqlite" and fts_ready():
        sql, params = _candidates_sql(run.id, text)
        yield "key search candidates", sql, params
    page = steps_with_key(run.id, text, node).order_by("order")[:101]
    yield ("key search page", *page.query.sql_with_params())
    yield ("key search count", *steps_with_key(run.id, text, node, counting=True).order_by().values("id")
           .query.sql_with_params())
