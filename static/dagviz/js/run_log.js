// The run log: every event of the run, server-paginated (`run.eventLog`) and virtualised.
//
// Pages of 200 events are appended as the user scrolls down; only the rows in view (plus a
// margin) exist in the DOM, absolutely placed in a spacer as tall as the loaded rows. Filters
// (kind, step key, text) restart the list from the first matching event. A text or step-prefix
// filter may answer a short page (`scanLimited`: the server's scan ran out of its time budget);
// the list then asks again from where the scan stopped until the view is filled. Live: once the
// end of the log is loaded, `notify()` (each runUpdates) fetches the events after the last one,
// at most every LIVE_MS, while the user is at the bottom (a live log starts there and follows it) or
// the list is short; otherwise a "new events" hint counts them and jumps there when clicked.

import { h } from "./dom.js";
import { firstLine, formatClock, formatCount } from "./format.js";
import { graphql } from "./graphql.js";

const ROW_HEIGHT = 26;
const PAGE = 200;
const OVERSCAN = 30;
const LIVE_MS = 500;
const FILTER_DELAY_MS = 250;
const NEAR_BOTTOM_PX = ROW_HEIGHT * 2;

const EVENT_LOG = `query RunLog($id: ID!, $first: Int, $after: String, $kinds: [String!], $stepKey: String,
                                $stepKeyPrefix: String, $text: String) {
  run(id: $id) { eventLog(first: $first, after: $after, kinds: $kinds, stepKey: $stepKey, stepKeyPrefix: $stepKeyPrefix,
                          text: $text) {
    totalCount totalCountCapped scanLimited pageInfo { hasNextPage endCursor }
    edges { node { id timestamp kind level stepKey message } } } }
}`;

// What the step box means: a whole key (it ends with "]", or names an unmapped op's step exactly
// when the user picked it) is matched exactly, from the index; anything else is a key prefix.
export function stepFilterOf(value) {
  const text = value.trim();
  if (!text) return {};
  return text.endsWith("]") ? { stepKey: text } : { stepKeyPrefix: text };
}

export function createRunLog(root, { runId, onOpenStep, isLive = () => false }) {
  const viewport = root.querySelector("[data-role=viewport]");
  const spacer = root.querySelector("[data-role=spacer]");
  const countLabel = root.querySelector("[data-role=count]");
  const emptyMessage = root.querySelector("[data-testid=run-log-empty]");
  const newEventsHint = root.querySelector("[data-testid=run-log-new-events]");
  const inputs = {
    kind: root.querySelector("[data-testid=run-log-kind]"),
    step: root.querySelector("[data-testid=run-log-step]"),
    text: root.querySelector("[data-testid=run-log-text]"),
  };

  let filters = readFilters();
  let rows = [];            // loaded events, in id order
  let endCursor = null;     // where the next page starts
  let hasNext = true;       // more matching events may follow endCursor
  let scanning = false;     // the last page stopped on the server's scan budget
  let total = null;         // matching events (null: not countable fast)
  let totalCapped = false;
  let loading = null;       // the request in flight
  let generation = 0;       // bumped by every reset: answers of older filters are dropped
  let liveTimer = null;
  let lastLive = 0;
  let newEvents = 0;        // events known to have arrived below while the user looked elsewhere
  let following = isLive(); // a live log sticks to its last row until the user scrolls up
  let started = false;      // the first page waits until the panel comes near the view
  let scrollTop = 0;
  let viewportHeight = 0;
  const elements = new Map(); // event id -> row element

  function readFilters() {
    return {
      kinds: inputs.kind.value ? [inputs.kind.value] : null,
      ...stepFilterOf(inputs.step.value),
      text: inputs.text.value.trim() || null,
    };
  }

  function variables(after, first = PAGE) {
    return { id: runId, first, after, kinds: filters.kinds, stepKey: filters.stepKey || null,
      stepKeyPrefix: filters.stepKeyPrefix || null, text: filters.text };
  }

  function atBottom() {
    return scrollTop + viewportHeight >= rows.length * ROW_HEIGHT - NEAR_BOTTOM_PX;
  }

  // A scroll the user made since this code last placed the viewport (its scroll event may not be handled
  // yet, as when a live page lands right after it): a live log then follows only from the bottom.
  function noticeUserScroll() {
    scrollTop = viewport.scrollTop;
    if (Math.abs(scrollTop - ownScrollTop) <= 1) return;
    following = !hasNext && atBottom();
    ownScrollTop = scrollTop;
  }

  function isShort() {
    return rows.length * ROW_HEIGHT <= (viewportHeight || 400);
  }

  // Load the next page; keep going while a scan-limited answer leaves the view unfilled.
  // `live`: the end of the log was loaded before, so every event that comes is a new one.
  async function loadMore({ live = false } = {}) {
    if (!started || loading || !hasNext) return loading;
    const mine = generation;
    const firstPage = endCursor === null;
    loading = (async () => {
      try {
        const log = (await graphql(EVENT_LOG, variables(endCursor))).run.eventLog;
        if (mine !== generation) return;
        const added = append(log.edges.map((edge) => edge.node));
        if (log.pageInfo.endCursor !== null) endCursor = log.pageInfo.endCursor;
        hasNext = log.pageInfo.hasNextPage;
        scanning = log.scanLimited;
        if (firstPage) {  // the count is that of the whole log; later pages are part of it
          total = log.totalCount;
          totalCapped = log.totalCountCapped;
        } else if (live && total !== null && !totalCapped) {
          total += added;
        }
        if (!hasNext && total !== null && !totalCapped) total = rows.length;  // all loaded: the count is exact
        root.dataset.loaded = "true";
        noticeUserScroll();
        if (following && !hasNext) scrollToBottom();
      } catch (error) {
        if (mine === generation) {
          countLabel.textContent = `Could not load the run log: ${error.message}`;
          hasNext = false;
        }
      } finally {
        if (mine === generation) loading = null;
      }
      if (mine === generation) {
        render();
        if (hasNext && rows.length * ROW_HEIGHT < scrollTop + (viewportHeight || 400) * 2) loadMore();
      }
    })();
    return loading;
  }

  function append(events) {
    const last = rows.length ? Number(rows[rows.length - 1].id) : -1;
    const before = rows.length;
    for (const event of events) if (Number(event.id) > last) rows.push(event);
    return rows.length - before;
  }

  function scrollToBottom() {
    sizeSpacer();  // first, or the browser would clamp the scroll to the old height
    setScroll(Math.max(0, rows.length * ROW_HEIGHT - viewportHeight));
  }

  // Scrolls made here do not count as the user's: they do not stop a live log from following.
  let ownScrollTop = 0;
  function setScroll(value) {
    viewport.scrollTop = value;
    scrollTop = viewport.scrollTop;
    ownScrollTop = scrollTop;
  }

  function rowElement(event, index) {
    let element = elements.get(event.id);
    if (!element) {
      const step = event.stepKey
        ? h("button.link.mono.run-log-step-link",
          { type: "button", "data-testid": "run-log-step-link", title: `Open step ${event.stepKey}` }, event.stepKey)
        : h("span.muted", {}, "–");
      element = h(`div.run-log-row.level-${event.level}`, {
        role: "row", "data-testid": "run-log-row", "data-event-id": event.id, "data-kind": event.kind,
        "data-level": event.level, "data-step-key": event.stepKey || undefined,
      },
      h("span.mono.muted", { role: "gridcell", title: event.timestamp },
        formatClock(event.timestamp).replace(" UTC", "")),
      h("span.run-log-kind", { role: "gridcell" }, event.kind),
      h("span.run-log-step", { role: "gridcell" }, step),
      h("span.run-log-message", { role: "gridcell", title: event.message }, firstLine(event.message)));
      elements.set(event.id, element);
      spacer.append(element);
    }
    element.style.transform = `translateY(${index * ROW_HEIGHT}px)`;
    return element;
  }

  function sizeSpacer() {
    const pending = hasNext ? 1 : 0;  // room for a "loading…" line below the last row
    spacer.style.height = `${(rows.length + pending) * ROW_HEIGHT}px`;
  }

  function render() {
    sizeSpacer();
    const height = viewportHeight || 400;
    const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(rows.length - 1, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
    const keep = new Set();
    for (let index = first; index <= last; index += 1) {
      rowElement(rows[index], index);
      keep.add(rows[index].id);
    }
    for (const [id, element] of elements) {
      if (!keep.has(id)) { element.remove(); elements.delete(id); }
    }
    if (hasNext && !loading && (last + OVERSCAN >= rows.length - 1)) loadMore();
    const filtered = Boolean(filters.kinds || filters.stepKey || filters.stepKeyPrefix || filters.text);
    root.dataset.filtered = filtered ? "true" : "false";
    emptyMessage.hidden = !(rows.length === 0 && !hasNext);
    emptyMessage.textContent = filtered ? "No event matches these filters." : "No events yet.";
    countLabel.textContent = countText(filtered);
    newEventsHint.hidden = newEvents === 0;
    newEventsHint.textContent = newEventsText();
    root.dataset.rows = String(rows.length);
    root.dataset.complete = hasNext ? "false" : "true";
  }

  function newEventsText() {
    if (!newEvents) return "";
    if (newEvents === Infinity) return "New events ↓";  // a text filter: not counted
    return `${formatCount(newEvents)} new event${newEvents === 1 ? "" : "s"} ↓`;
  }

  function countText(filtered) {
    const match = filtered ? " match" : "";
    if (total !== null && total !== undefined) {
      return `${formatCount(total)}${totalCapped ? "+" : ""} event${total === 1 ? "" : "s"}${match}`;
    }
    if (scanning && hasNext) return `${formatCount(rows.length)} found so far, searching…`;
    return `${formatCount(rows.length)}${hasNext ? "+" : ""} event${rows.length === 1 ? "" : "s"}${match}`;
  }

  function reset() {
    generation += 1;
    loading = null;
    rows = [];
    endCursor = null;
    hasNext = true;
    scanning = false;
    total = null;
    totalCapped = false;
    newEvents = 0;
    for (const element of elements.values()) element.remove();
    elements.clear();
    following = isLive();
    setScroll(0);
    root.dataset.loaded = "false";
    render();
    loadMore();
  }

  // New events after the last loaded one: appended when the user can see them arrive, else counted.
  async function catchUp() {
    liveTimer = null;
    lastLive = performance.now();
    if (hasNext || loading) return;  // the end of the log is not loaded yet: scrolling will get there
    if (following || atBottom() || isShort()) {
      newEvents = 0;
      hasNext = true;
      await loadMore({ live: true });
    } else {
      const mine = generation;
      try {
        const log = (await graphql(EVENT_LOG, variables(endCursor, 0))).run.eventLog;
        if (mine !== generation) return;
        newEvents = log.totalCount === null ? (log.pageInfo.hasNextPage ? Infinity : 0) : log.totalCount;
      } catch { /* the next update tries again */ }
      render();
    }
  }

  let filterTimer = null;
  function filtersChanged() {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      const next = readFilters();
      if (JSON.stringify(next) === JSON.stringify(filters)) return;
      filters = next;
      reset();
    }, FILTER_DELAY_MS);
  }

  inputs.kind.addEventListener("change", filtersChanged);
  inputs.step.addEventListener("input", filtersChanged);
  inputs.text.addEventListener("input", filtersChanged);
  new ResizeObserver(([observed]) => {
    viewportHeight = observed.contentRect.height;
    render();
  }).observe(viewport);
  let scrollQueued = false;
  viewport.addEventListener("scroll", () => {
    noticeUserScroll();
    if (newEvents && atBottom()) { newEvents = 0; notify(); }
    if (scrollQueued) return;
    scrollQueued = true;
    requestAnimationFrame(() => { scrollQueued = false; render(); });
  });
  spacer.addEventListener("click", (event) => {
    const link = event.target.closest("[data-testid=run-log-step-link]");
    if (!link) return;
    onOpenStep(link.closest("[data-testid=run-log-row]").dataset.stepKey);
  });
  newEventsHint.addEventListener("click", async () => {
    newEvents = 0;
    following = isLive();  // back at the newest event: stay there
    hasNext = true;
    await loadMore({ live: true });
    scrollToBottom();
    render();
  });

  // Called on every live update: at most one catch-up per LIVE_MS.
  function notify() {
    if (liveTimer) return;
    liveTimer = setTimeout(catchUp, Math.max(0, LIVE_MS - (performance.now() - lastLive)));
  }

  // The log is far down the page: its first page is read when it comes near the view, so it never
  // competes with what the page shows first.
  render();
  new IntersectionObserver((entries, observer) => {
    if (!entries.some((entry) => entry.isIntersecting)) return;
    observer.disconnect();
    started = true;
    loadMore();
  }, { rootMargin: "400px" }).observe(root);
  return { notify, render };
}
