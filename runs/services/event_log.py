"""Reading a run's event log a page at a time, filtered by kind, step key and text, with the indexes.

Every page is "the first ``size`` matching events with an id above ``after``", so pages are exact
and stable whatever the filter; only how the database finds them differs:

- kinds only (or nothing): one ordered query per kind on ``(run, kind, id)`` (or ``(run, id)``),
  merged; each reads at most ``size + 1`` index entries.
- an exact step key: the step's event ids from ``(run, step_key, kind)``, when there are at most
  ``NARROW_CAP`` of them (a step has a handful; an emitter of 100,000 keys has more), sorted here;
  likewise the ids of rare kinds combined with a text (the text is matched on those rows only).
- anything else (a text, a step-key prefix, a step with very many events): an id-ordered walk of
  the run's events in windows of ``WINDOW_IDS`` ids, each window a bounded index range with the
  filters applied by the database. The walk stops when the page is full, or once it has spent
  ``SCAN_BUDGET_S``: the page is then shorter than asked, ``scan_limited`` is set and the end
  cursor is the id the walk reached, so the next request resumes exactly there. A text that
  matches nothing in 400,000 events is answered in a few such requests, each within budget,
  instead of one full scan (there is no text index: the message is matched with the database's
  case-insensitive ``LIKE``).

Counts are only given when the indexes give them cheaply: up to ``COUNT_CAP`` (``capped`` above),
never with a text filter.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Substr

from runs.models import Event, Run

MAX_PAGE = 500
MAX_TEXT = 200
MAX_KINDS = 32
MAX_STEP_KEY = 1000
NARROW_CAP = 2_000
COUNT_CAP = 10_000
WINDOW_IDS = 10_000
SCAN_BUDGET_S = 0.03
FIELDS = ("id", "timestamp", "kind", "step_key", "message")


class EventLogInputError(ValueError):
    """An argument of the event log is out of bounds; ``argument`` names it."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(message)
        self.argument = argument


@dataclass(frozen=True)
class EventLogFilter:
    """Events of these kinds, of this step (or the steps under a prefix), whose message contains the text."""

    kinds: tuple[str, ...] = ()
    step_key: str | None = None
    step_key_prefix: str | None = None
    text: str | None = None

    @property
    def needs_walk(self) -> bool:
        """Whether the filter has a part no index answers in id order (text, prefix)."""
        return bool(self.text or self.step_key_prefix)


@dataclass
class EventLogPage:
    rows: list[dict[str, Any]]
    has_next_page: bool
    end_cursor: int | None
    scan_limited: bool = False
    total_count: int | None = None
    count_capped: bool = False


def validated_filter(kinds: list[str] | None, step_key: str | None, step_key_prefix: str | None,
                     text: str | None) -> EventLogFilter:
    """The filter, or ``EventLogInputError`` naming the argument that is out of bounds."""
    kinds = list(kinds or [])
    if len(kinds) > MAX_KINDS:
        raise EventLogInputError("kinds", f"kinds lists {len(kinds)} kinds; at most {MAX_KINDS} are allowed.")
    for kind in kinds:
        if not kind or len(kind) > 32 or not kind.replace("_", "").isalnum():
            raise EventLogInputError("kinds", f"{kind!r} is not an event kind (such as STEP_FAILURE or LOG).")
    for name, value in (("stepKey", step_key), ("stepKeyPrefix", step_key_prefix)):
        if value is not None and len(value) > MAX_STEP_KEY:
            raise EventLogInputError(name, f"{name} has {len(value)} characters; at most {MAX_STEP_KEY} are allowed.")
    if text is not None and len(text) > MAX_TEXT:
        raise EventLogInputError("text", f"text has {len(text)} characters; at most {MAX_TEXT} are allowed.")
    return EventLogFilter(kinds=tuple(dict.fromkeys(kinds)), step_key=step_key or None,
                          step_key_prefix=step_key_prefix or None, text=text or None)


def validated_first(first: int | None, default: int = 100) -> int:
    if first is None:
        return default
    if first < 0 or first > MAX_PAGE:
        raise EventLogInputError("first", f"first must be between 0 and {MAX_PAGE}, got {first}.")
    return first


def read_event_log(run: Run, log_filter: EventLogFilter, after: int | None, size: int,
                   with_count: bool = False) -> EventLogPage:
    """The first ``size`` events of ``run`` matching ``log_filter`` with ids above ``after``, in id order."""
    narrow = None
    if log_filter.step_key and not log_filter.step_key_prefix:
        narrow = _step_event_ids(run, log_filter, after)
    elif log_filter.kinds and log_filter.text and not log_filter.step_key_prefix:
        narrow = _kind_event_ids(run, log_filter, after)
    if narrow is not None:
        page = _page_from_ids(run, narrow, log_filter, size, after)
        if with_count and not log_filter.text:
            page.total_count = len(narrow)
        return page
    if log_filter.needs_walk or log_filter.step_key:
        page = _walk(run, log_filter, after, size)
    else:
        page = _ordered_by_index(run, log_filter, after, size)
    if with_count and not log_filter.text:
        page.total_count, page.count_capped = _capped_count(run, log_filter, after)
    return page


# -- strategies -------------------------------------------------------------------------------------------


def _events(run: Run) -> QuerySet:
    return Event.objects.filter(run=run)


def _with_level(rows: QuerySet) -> QuerySet:
    """Only the fields a log row shows; a LOG's level from its payload (the rest of the payload stays unread)."""
    return rows.annotate(log_level=KT("payload__level"), run_succeeded=KT("payload__success"),
                         run_canceled=KT("payload__canceled")).values(*FIELDS, "log_level", "run_succeeded",
                                                                      "run_canceled")


def _text_q(text: str | None) -> Q:
    return Q(message__icontains=text) if text else Q()


def _ordered_by_index(run: Run, log_filter: EventLogFilter, after: int | None, size: int) -> EventLogPage:
    """No filter but kinds: the first size + 1 ids of each kind in index order, merged."""
    def first_ids(rows: QuerySet) -> list[int]:
        if after is not None:
            rows = rows.filter(id__gt=after)
        return list(rows.order_by("id").values_list("id", flat=True)[: size + 1])

    if log_filter.kinds:
        ids = list(heapq.merge(*(first_ids(_events(run).filter(kind=kind)) for kind in log_filter.kinds)))[: size + 1]
    else:
        ids = first_ids(_events(run))
    return _rows_for(ids, size, after)


def _step_event_ids(run: Run, log_filter: EventLogFilter, after: int | None) -> list[int] | None:
    """The ids of the step's events (above ``after``, of the kinds) in id order; None when over NARROW_CAP."""
    rows = _events(run).filter(step_key=log_filter.step_key)
    if log_filter.kinds:
        rows = rows.filter(kind__in=log_filter.kinds)
    if after is not None:
        rows = rows.filter(id__gt=after)
    # No ORDER BY: the database reads the (run, step_key, kind) index, never the run's whole log.
    ids = list(rows.order_by().values_list("id", flat=True)[: NARROW_CAP + 1])
    return None if len(ids) > NARROW_CAP else sorted(ids)


def _kind_event_ids(run: Run, log_filter: EventLogFilter, after: int | None) -> list[int] | None:
    """The ids of the events of the kinds (above ``after``) in id order; None when over NARROW_CAP (rare kinds
    with a text: the text is then matched on those rows only, not on a walk through every event)."""
    rows = _events(run).filter(id__gt=after) if after is not None else _events(run)
    per_kind = [list(rows.filter(kind=kind).order_by("id").values_list("id", flat=True)[: NARROW_CAP + 1])
                for kind in log_filter.kinds]
    if sum(len(ids) for ids in per_kind) > NARROW_CAP:
        return None
    return list(heapq.merge(*per_kind))


def _page_from_ids(run: Run, ids: list[int], log_filter: EventLogFilter, size: int, after: int | None) -> EventLogPage:
    if not log_filter.text:
        return _rows_for(ids[: size + 1], size, after)
    found: list[int] = []
    for start in range(0, len(ids), 1000):
        batch = _events(run).filter(id__in=ids[start:start + 1000]).filter(_text_q(log_filter.text))
        found += batch.order_by("id").values_list("id", flat=True)[: size + 1 - len(found)]
        if len(found) > size:
            break
    return _rows_for(found, size, after)


def _walk(run: Run, log_filter: EventLogFilter, after: int | None, size: int) -> EventLogPage:
    """Id windows from ``after`` on, each filtered by the database, until the page is full or the budget spent."""
    first = _events(run).order_by("id").values_list("id", flat=True).first()
    last = _events(run).order_by("-id").values_list("id", flat=True).first()
    if first is None:
        return EventLogPage([], False, after)
    position = max(after if after is not None else first - 1, first - 1)
    matching = _events(run).filter(_text_q(log_filter.text))
    if log_filter.kinds:
        matching = matching.filter(kind__in=log_filter.kinds)
    if log_filter.step_key:
        matching = matching.filter(step_key=log_filter.step_key)
    if log_filter.step_key_prefix:
        prefix = log_filter.step_key_prefix
        # SUBSTR rather than LIKE: exact and case-sensitive on every database, with no pattern to escape.
        matching = matching.alias(step_head=Substr("step_key", 1, len(prefix))).filter(step_head=prefix)
    found: list[int] = []
    deadline = time.monotonic() + SCAN_BUDGET_S
    while position < last:
        end = min(position + WINDOW_IDS, last)
        window = matching.filter(id__gt=position, id__lte=end).order_by("id")
        found += window.values_list("id", flat=True)[: size + 1 - len(found)]
        if len(found) > size:
            break
        position = end
        if position < last and time.monotonic() > deadline:
            page = _rows_for(found, size, after)
            page.has_next_page, page.end_cursor, page.scan_limited = True, position, True
            return page
    page = _rows_for(found, size, after)
    if not page.has_next_page:
        page.end_cursor = position  # everything up to the run's last event was considered
    return page


def _rows_for(ids: list[int], size: int, after: int | None) -> EventLogPage:
    """The page for ``ids`` (up to size + 1, in order; the extra one only says there is a next page)."""
    has_next = len(ids) > size
    ids = ids[:size]
    rows = sorted(_with_level(Event.objects.filter(id__in=ids)), key=lambda row: row["id"]) if ids else []
    for row in rows:
        row["level"] = event_level(row)
    end = ids[-1] if ids else after
    return EventLogPage(rows, has_next, end)


def _capped_count(run: Run, log_filter: EventLogFilter, after: int | None) -> tuple[int | None, bool]:
    """(matching events after ``after`` up to COUNT_CAP, whether there are more), from the indexes only."""
    if log_filter.text or log_filter.step_key_prefix:
        return None, False

    def capped(rows: QuerySet) -> int:
        if after is not None:
            rows = rows.filter(id__gt=after)
        return rows.order_by().values_list("id", flat=True)[: COUNT_CAP + 1].count()

    rows = _events(run)
    if log_filter.step_key:
        rows = rows.filter(step_key=log_filter.step_key)
    counts = [capped(rows.filter(kind=kind)) for kind in log_filter.kinds] if log_filter.kinds else [capped(rows)]
    total = sum(counts)
    return min(total, COUNT_CAP), total > COUNT_CAP


# -- levels -----------------------------------------------------------------------------------------------

WARNING_KINDS = frozenset({"STEP_UP_FOR_RETRY", "STEP_CANCELED"})


def event_level(row: dict[str, Any]) -> str:
    """DEBUG/INFO/WARNING/ERROR/CRITICAL: a LOG's own level; failures ERROR; retries and cancels WARNING."""
    kind = row["kind"]
    if kind == "LOG":
        return str(row.get("log_level") or "INFO").upper()
    if kind == "STEP_FAILURE":
        return "ERROR"
    if kind == "RUN_FINISHED":
        if _truthy(row.get("run_canceled")):
            return "WARNING"
        return "INFO" if _truthy(row.get("run_succeeded")) else "ERROR"
    return "WARNING" if kind in WARNING_KINDS else "INFO"


def _truthy(value: Any) -> bool:
    # KT() gives JSON booleans as text: "true" on PostgreSQL, "1" on SQLite.
    return str(value).lower() in ("true", "1")
