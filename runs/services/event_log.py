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

The strategies pick stored rows; one row can hold several events (a quick step's start, outputs and
success; an emitter's keys: ``runs/event_rows.py``), whose kinds its stored kind names, so kind
filters and counts still come from the indexes (every event of such a row is counted). Their
messages are not stored: a text filter keeps those rows and matches the rebuilt messages here
(case-insensitively, as Python lowercases).
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Substr

from runs import event_rows
from runs.errors import ArgumentOutOfBoundsError
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
    """The filter, or ``ArgumentOutOfBoundsError`` naming the argument that is out of bounds."""
    kinds = list(kinds or [])
    if len(kinds) > MAX_KINDS:
        raise ArgumentOutOfBoundsError("kinds", f"kinds lists {len(kinds)} kinds; at most {MAX_KINDS} are allowed.")
    for kind in kinds:
        if not kind or len(kind) > 32 or not kind.replace("_", "").isalnum():
            raise ArgumentOutOfBoundsError("kinds", f"{kind!r} is not an event kind (such as STEP_FAILURE or LOG).")
    for name, value in (("stepKey", step_key), ("stepKeyPrefix", step_key_prefix)):
        if value is not None and len(value) > MAX_STEP_KEY:
            raise ArgumentOutOfBoundsError(name, f"{name} has {len(value)} characters; at most {MAX_STEP_KEY} are allowed.")
    if text is not None and len(text) > MAX_TEXT:
        raise ArgumentOutOfBoundsError("text", f"text has {len(text)} characters; at most {MAX_TEXT} are allowed.")
    return EventLogFilter(kinds=tuple(dict.fromkeys(kinds)), step_key=step_key or None,
                          step_key_prefix=step_key_prefix or None, text=text or None)


def validated_first(first: int | None, default: int = 100) -> int:
    if first is None:
        return default
    if first < 0 or first > MAX_PAGE:
        raise ArgumentOutOfBoundsError("first", f"first must be between 0 and {MAX_PAGE}, got {first}.")
    return first


def read_event_log(run: Run, log_filter: EventLogFilter, after: int | None, size: int,
                   with_count: bool = False) -> EventLogPage:
    """The first ``size`` events of ``run`` matching ``log_filter`` with ids above ``after``, in id order."""
    narrow = None
    if log_filter.step_key and not log_filter.step_key_prefix:
        narrow = _step_event_rows(run, log_filter, after)
    elif log_filter.kinds and log_filter.text and not log_filter.step_key_prefix:
        narrow = _kind_event_rows(run, log_filter, after)
    if narrow is not None:
        page = _page_from_rows(run, narrow, log_filter, size, after)
        if with_count and not log_filter.text:
            page.total_count = event_rows.count_visible(narrow, log_filter.kinds, after)
        return page
    if log_filter.needs_walk or log_filter.step_key:
        page = _walk(run, log_filter, after, size)
    else:
        page = _ordered_by_index(run, log_filter, after, size)
    if with_count and not log_filter.text:
        page.total_count, page.count_capped = _capped_count(run, log_filter, after)
    return page


# -- strategies -------------------------------------------------------------------------------------------
# They choose stored rows (a folded row holds several events: see runs/event_rows.py); ``_visible`` turns
# rows into the matching events. A row can hold events above ``after`` while its own id is at most
# MAX_FOLD - 1 below it, so every strategy starts that far back and drops the events at or below ``after``.


def _events(run: Run) -> QuerySet:
    return Event.objects.filter(run=run)


def _with_level(rows: QuerySet) -> QuerySet:
    """Only the fields a log row shows; a LOG's level from its payload (the rest of the payload stays unread)."""
    return rows.annotate(log_level=KT("payload__level"), run_succeeded=KT("payload__success"),
                         run_canceled=KT("payload__canceled")).values(*FIELDS, "log_level", "run_succeeded",
                                                                      "run_canceled")


def _text_q(text: str | None) -> Q:
    """Rows whose message contains the text, and every folded row (their messages are not stored: ``_visible``
    matches the text on the rebuilt messages)."""
    return Q(message__icontains=text) | Q(kind__in=event_rows.FOLD_KINDS) if text else Q()


def _start(after: int | None) -> int | None:
    """The lowest row id above which rows can hold events above ``after``, minus one."""
    return None if after is None else after - event_rows.MAX_FOLD + 1


def _visible(row_ids: list[int], log_filter: EventLogFilter, after: int | None) -> list[dict[str, Any]]:
    """The events of the stored rows ``row_ids`` (already filtered by the database) that match ``log_filter``
    and are above ``after``, in id order, with their levels."""
    if not row_ids:
        return []
    rows = sorted(_with_level(Event.objects.filter(id__in=row_ids)), key=lambda row: row["id"])
    folded = [row["id"] for row in rows if event_rows.is_folded(row["kind"])]
    payloads = dict(Event.objects.filter(id__in=folded).values_list("id", "payload")) if folded else {}
    text = (log_filter.text or "").lower()
    events: list[dict[str, Any]] = []
    for row in rows:
        if row["id"] not in payloads:
            row["level"] = event_level(row)
            if after is None or row["id"] > after:
                events.append(row)
            continue
        for event in event_rows.expand_row({**row, "payload": payloads[row["id"]]}):
            if (after is None or event["id"] > after) and (not log_filter.kinds or event["kind"] in log_filter.kinds) \
                    and text in event["message"].lower():
                del event["payload"]
                event["level"] = event_level(event)
                events.append(event)
    return events


def _page(events: list[dict[str, Any]], size: int, after: int | None) -> EventLogPage:
    """The page for ``events`` (matching, in order; one more than ``size`` only says there is a next page)."""
    rows = events[:size]
    return EventLogPage(rows, len(events) > size, rows[-1]["id"] if rows else after)


def _ordered_by_index(run: Run, log_filter: EventLogFilter, after: int | None, size: int) -> EventLogPage:
    """No filter but kinds: the first rows of each stored kind in index order, merged (each row holds at least
    one matching event, and at most MAX_FOLD - 1 rows hold only events at or below ``after``)."""
    limit = size + event_rows.MAX_FOLD

    def first_ids(rows: QuerySet) -> list[int]:
        return list(event_rows.rows_after(rows, after).values_list("id", flat=True)[:limit])

    if log_filter.kinds:
        kinds = event_rows.stored_kinds(log_filter.kinds)
        ids = list(heapq.merge(*(first_ids(_events(run).filter(kind=kind)) for kind in kinds)))[:limit]
    else:
        ids = first_ids(_events(run))
    return _page(_visible(ids, log_filter, after), size, after)


def _step_event_rows(run: Run, log_filter: EventLogFilter, after: int | None) -> list[tuple[int, str]] | None:
    """The step's rows ``(id, kind)`` that can hold matching events above ``after``, in id order; None when
    over NARROW_CAP."""
    rows = _events(run).filter(step_key=log_filter.step_key)
    if log_filter.kinds:
        rows = rows.filter(kind__in=event_rows.stored_kinds(log_filter.kinds))
    if after is not None:
        rows = rows.filter(id__gt=_start(after))
    # No ORDER BY: the database reads the (run, step_key, kind) index, never the run's whole log.
    found = list(rows.order_by().values_list("id", "kind")[: NARROW_CAP + 1])
    return None if len(found) > NARROW_CAP else sorted(found)


def _kind_event_rows(run: Run, log_filter: EventLogFilter, after: int | None) -> list[tuple[int, str]] | None:
    """The rows ``(id, kind)`` of the kinds (that can hold events above ``after``) in id order; None when over
    NARROW_CAP (rare kinds with a text: the text is then matched on those rows only, not on a walk through
    every event)."""
    rows = event_rows.rows_after(_events(run), after)
    per_kind = [list(rows.filter(kind=kind).values_list("id", "kind")[: NARROW_CAP + 1])
                for kind in event_rows.stored_kinds(log_filter.kinds)]
    if sum(len(found) for found in per_kind) > NARROW_CAP:
        return None
    return list(heapq.merge(*per_kind))


def _page_from_rows(run: Run, rows: list[tuple[int, str]], log_filter: EventLogFilter, size: int,
                    after: int | None) -> EventLogPage:
    ids = [row_id for row_id, _ in rows]
    if not log_filter.text:
        return _page(_visible(ids[: size + event_rows.MAX_FOLD], log_filter, after), size, after)
    found: list[dict[str, Any]] = []
    for start in range(0, len(ids), 1000):
        batch = _events(run).filter(id__in=ids[start:start + 1000]).filter(_text_q(log_filter.text))
        found += _visible(list(batch.order_by("id").values_list("id", flat=True)), log_filter, after)
        if len(found) > size:
            break
    return _page(found, size, after)


def _walk(run: Run, log_filter: EventLogFilter, after: int | None, size: int) -> EventLogPage:
    """Id windows from ``after`` on, each filtered by the database, until the page is full or the budget spent."""
    first = _events(run).order_by("id").values_list("id", flat=True).first()
    last_row = _events(run).order_by("-id").values_list("id", "kind").first()
    if first is None or last_row is None:
        return EventLogPage([], False, after)
    last = last_row[0]
    position = max(_start(after) if after is not None else first - 1, first - 1)
    matching = _events(run).filter(_text_q(log_filter.text))
    if log_filter.kinds:
        matching = matching.filter(kind__in=event_rows.stored_kinds(log_filter.kinds))
    if log_filter.step_key:
        matching = matching.filter(step_key=log_filter.step_key)
    if log_filter.step_key_prefix:
        prefix = log_filter.step_key_prefix
        # SUBSTR rather than LIKE: exact and case-sensitive on every database, with no pattern to escape.
        matching = matching.alias(step_head=Substr("step_key", 1, len(prefix))).filter(step_head=prefix)
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + SCAN_BUDGET_S
    while position < last:
        # The first window reaches WINDOW_IDS past ``after``: it starts early only for rows folded across it.
        end = min(max(position, after or position) + WINDOW_IDS, last)
        found += _window(matching, position, end, log_filter, after, size + 1 - len(found))
        if len(found) > size:
            break
        position = end
        if position < last and time.monotonic() > deadline:
            # Every row up to ``position`` was read whole: the next request resumes after it (or after the
            # last event found, which a folded row may hold above ``position``).
            page = _page(found, size, after)
            page.has_next_page, page.scan_limited = True, True
            page.end_cursor = max(position, found[-1]["id"] if found else position)
            return page
    page = _page(found, size, after)
    if not page.has_next_page:  # everything up to the run's last event was considered
        page.end_cursor = max(event_rows.last_visible_id(*last_row), after or 0)
    return page


def _window(matching: QuerySet, position: int, end: int, log_filter: EventLogFilter, after: int | None,
            wanted: int) -> list[dict[str, Any]]:
    """The matching events of the rows with ids in ``(position, end]``, until ``wanted`` are found."""
    found: list[dict[str, Any]] = []
    chunk = wanted + event_rows.MAX_FOLD
    while len(found) < wanted:
        ids = list(matching.filter(id__gt=position, id__lte=end).order_by("id").values_list("id", flat=True)[:chunk])
        found += _visible(ids, log_filter, after)
        if len(ids) < chunk:
            break
        position = ids[-1]
    return found


def _capped_count(run: Run, log_filter: EventLogFilter, after: int | None) -> tuple[int | None, bool]:
    """(matching events after ``after`` up to COUNT_CAP, whether there are more), from the indexes only."""
    if log_filter.text or log_filter.step_key_prefix:
        return None, False
    rows = _events(run)
    if log_filter.step_key:
        rows = rows.filter(step_key=log_filter.step_key)
    if log_filter.kinds:
        rows = rows.filter(kind__in=event_rows.stored_kinds(log_filter.kinds))
    if after is not None:
        rows = rows.filter(id__gt=_start(after))
    limit = COUNT_CAP + event_rows.MAX_FOLD  # so many rows hold more than COUNT_CAP events above ``after``
    found = list(rows.order_by().values_list("id", "kind")[:limit])
    if len(found) >= limit:
        return COUNT_CAP, True
    total = event_rows.count_visible(found, log_filter.kinds, after)
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
