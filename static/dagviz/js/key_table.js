// The key table: the steps of the selected node, server-paginated and virtualised.
//
// Rows come in blocks of 100 through `run.steps(node, status, keyContains, errorContains)`;
// only the rows in view (plus a margin) exist in the DOM, absolutely placed in a spacer as
// tall as every matching row. Live updates patch loaded rows at once, and visible blocks are
// re-read at most once a second while the run is live.

import { clear, h } from "./dom.js";
import { firstLine, formatCount, formatDuration } from "./format.js";
import { graphql } from "./graphql.js";
import { describeFilters, isFiltered, readFilters } from "./key_filter.js";
import { groupSummary } from "./key_groups.js";
import { STEP_STATUSES } from "./status.js";

const ROW_HEIGHT = 30;
const BLOCK = 100;
const OVERSCAN = 40;
const REFRESH_MS = 1000;

const STEPS = `query KeyTable($id: ID!, $node: String, $status: [StepStatus!], $key: String, $error: String,
                             $signature: String, $first: Int, $after: String) {
  run(id: $id) { steps(node: $node, status: $status, keyContains: $key, errorContains: $error,
                       errorSignature: $signature, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { key status attemptCount durationMs error { message } } } } }
}`;

// The same page without its count, for a big run's unfiltered node, whose count the node stats already give
// (counting a million rows would take longer than reading the page).
const STEPS_UNCOUNTED = STEPS.replace("totalCount ", "");

// `groupedNodes`: ops mapped two or more deep, whose keys are listed by outer key when unfiltered.
// `isLarge`: a big run, whose page holds no step index: blocks are read one after the other from the
// server's cursors (the table grows as it is scrolled, with no jump deep into it) and keys are not grouped.
// `knownTotal(node)`: the node's number of steps when known without counting (null: count them).
export function createKeyTable(root, { runId, stepIndex, selection, onOpen, onChange = () => {}, groupedNodes = new Set(),
  isLarge = () => false, knownTotal = () => null }) {
  const viewport = root.querySelector("[data-role=viewport]");
  const spacer = root.querySelector("[data-role=spacer]");
  const countLabel = root.querySelector("[data-role=count]");
  const inputs = {
    text: root.querySelector("[data-testid=key-filter]"),
    status: root.querySelector("[data-testid=key-filter-status]"),
    error: root.querySelector("[data-testid=key-filter-error]"),
  };
  const selectAll = root.querySelector("[data-role=select-all]");
  // Said when a filter matches nothing, so an empty table is never mistaken for "still loading".
  const emptyNote = h("p.kt-empty", { "data-testid": "key-table-empty", role: "status", hidden: true });
  viewport.append(emptyNote);

  let node = null;
  // signature: a failure group's error signature (set by the Failures panel; typing in a box drops it)
  let filters = { key: "", status: "", error: "", signature: "" };
  let blocks = new Map();   // block number -> {rows, endCursor, hasNext, stale}
  let byKey = new Map();    // step key -> row object (loaded rows)
  let total = 0;
  let totalKnown = false;
  let generation = 0;
  let loadingBlocks = new Set();   // blocks being read in this generation
  const elements = new Map(); // step key -> row element
  let lastRefresh = 0;
  let refreshTimer = null;
  let firstLoad = null;
  let resolveFirstLoad = null;
  let firstLoadDone = false;

  // A reset before the first page came keeps the promise already handed out: the next first page resolves it.
  function resetFirstLoad() {
    if (firstLoad && !firstLoadDone) return;
    firstLoadDone = false;
    firstLoad = new Promise((resolve) => { resolveFirstLoad = () => { firstLoadDone = true; resolve(); }; });
  }
  resetFirstLoad();

  // A failure group's keys may belong to several ops (one cause, e.g. a missing customer, fails each op that
  // looks it up): shown, they are listed across ops, not only the selected op's.
  function queriedNode() {
    return filters.signature ? null : node;
  }

  function variables(after) {
    return {
      id: runId, node: queriedNode(), status: filters.status ? [filters.status] : null, key: filters.key || null,
      error: filters.error || null, signature: filters.signature || null, first: BLOCK, after,
    };
  }

  // The `after` cursor of block b: the end of block b-1, or the step index's cursor when unfiltered.
  function startCursor(b) {
    if (b === 0) return null;
    const previous = blocks.get(b - 1);
    if (previous && previous.endCursor) return previous.endCursor;
    if (!isFiltered(filters) && !isLarge()) return stepIndex.cursorAt(node, b * BLOCK - 1) || undefined;
    return undefined;
  }

  async function loadBlock(b) {
    if (loadingBlocks.has(b) || !node) return;
    let after = startCursor(b);
    if (after === undefined) {  // unknown: load the blocks before it first
      if (b > 0) loadBlock(b - 1);
      return;
    }
    const loading = loadingBlocks;
    loading.add(b);
    const mine = generation;
    try {
      const known = isFiltered(filters) ? null : knownTotal(node);
      const data = await graphql(known === null ? STEPS : STEPS_UNCOUNTED, variables(after));
      if (mine !== generation) return;
      const connection = data.run.steps;
      const rows = connection.edges.map((edge) => ({
        key: edge.node.key, status: edge.node.status, attempts: edge.node.attemptCount,
        durationMs: edge.node.durationMs, error: edge.node.error ? edge.node.error.message : "",
        cursor: edge.cursor,
      }));
      const old = blocks.get(b);
      if (old) for (const row of old.rows) if (byKey.get(row.key) === row) byKey.delete(row.key);
      for (const row of rows) byKey.set(row.key, row);
      blocks.set(b, { rows, endCursor: connection.pageInfo.endCursor || after, hasNext: connection.pageInfo.hasNextPage, stale: false });
      total = connection.totalCount ?? known ?? total;
      totalKnown = true;
      render();
      onChange();
      if (b === 0) resolveFirstLoad();
    } catch (error) {
      countLabel.textContent = `Could not load keys: ${error.message}`;
      if (b === 0) resolveFirstLoad();
    } finally {
      loading.delete(b);
    }
  }

  // Rows of the blocks read one after the other from the first (a big run's table extends as it is scrolled).
  function loadedRows() {
    let b = 0;
    while (blocks.has(b)) b += 1;
    return b * BLOCK;
  }

  function rowAt(index) {
    const block = blocks.get(Math.floor(index / BLOCK));
    return block ? block.rows[index % BLOCK] : undefined;
  }

  function rowElement(row, index) {
    let element = elements.get(row.key);
    if (!element) {
      element = h("div.kt-row", { role: "row", "data-testid": "key-row", "data-step-key": row.key, tabindex: "0" },
        h("span", { role: "gridcell" }, h("input", { type: "checkbox", "aria-label": `Select ${row.key}` })),
        h("span.mono.key", { role: "gridcell" }),
        h("span", { role: "gridcell" }, h("span.status")),
        h("span.num", { role: "gridcell" }),
        h("span.num", { role: "gridcell" }),
        h("span.error-text", { role: "gridcell" }));
      elements.set(row.key, element);
      spacer.append(element);
    }
    const [check, keyCell, statusCell, attemptsCell, durationCell, errorCell] = element.children;
    if (element.dataset.version !== `${row.status}|${row.attempts}|${row.durationMs}|${row.error}`) {
      element.dataset.version = `${row.status}|${row.attempts}|${row.durationMs}|${row.error}`;
      element.dataset.status = row.status;
      keyCell.textContent = row.key;
      keyCell.title = row.key;
      statusCell.firstChild.textContent = row.status;
      statusCell.firstChild.className = `status status-${row.status}`;
      attemptsCell.textContent = row.attempts ? String(row.attempts) : "–";
      durationCell.textContent = row.durationMs === null || row.durationMs === undefined ? "–" : formatDuration(row.durationMs);
      errorCell.textContent = firstLine(row.error);
      errorCell.title = row.error || "";
    }
    const selected = selection.has(row.key);
    check.firstChild.checked = selected;
    element.setAttribute("aria-selected", selected ? "true" : "false");
    element.style.transform = `translateY(${index * ROW_HEIGHT}px)`;
    return element;
  }

  // -- Nested fan-outs: keys grouped by outer key --------------------------------------------
  // An op mapped two or more deep, unfiltered, lists one row per outer key (collapsed at first,
  // with its counts per status) and, under an expanded one, its keys. Groups, keys and statuses
  // come from the step index (all keys, grouped as they arrive); attempts and errors of the keys
  // in view are read per group and block (`keyContains: "op[outer]["`).
  let expandedGroups = new Set();   // outer keys
  let details = new Map();          // step key -> { attempts, durationMs, error }
  let groupBlocks = new Map();      // "outer\u0000block" -> { endCursor, stale, loading }

  function isGrouped() {
    return groupedNodes.has(node) && !isFiltered(filters) && !isLarge();
  }

  function resetGroups() {
    expandedGroups = new Set();
    details = new Map();
    groupBlocks = new Map();
  }

  async function loadGroupBlock(group, b) {
    const id = `${group.outer}\u0000${b}`;
    const known = groupBlocks.get(id);
    if (known && (known.loading || !known.stale)) return;
    const entry = stepIndex.node(node);
    let after = null;
    if (b > 0) {
      after = entry.cursors[group.indices[b * BLOCK - 1]] || groupBlocks.get(`${group.outer}\u0000${b - 1}`)?.endCursor;
      if (!after) { loadGroupBlock(group, b - 1); return; }
    }
    const mine = generation;
    groupBlocks.set(id, { endCursor: known?.endCursor, stale: true, loading: true });
    try {
      const data = await graphql(STEPS, { ...variables(after), key: `${node}[${group.outer}][` });
      if (mine !== generation) return;
      const connection = data.run.steps;
      for (const edge of connection.edges) {
        details.set(edge.node.key, { attempts: edge.node.attemptCount, durationMs: edge.node.durationMs,
          error: edge.node.error ? edge.node.error.message : "" });
      }
      groupBlocks.set(id, { endCursor: connection.pageInfo.endCursor, stale: false, loading: false });
      render();
    } catch (error) {
      if (mine === generation) groupBlocks.set(id, { stale: true, loading: false });
      countLabel.textContent = `Could not load keys: ${error.message}`;
    }
  }

  function groupRowElement(group, index) {
    const id = `group\u0000${group.outer}`;
    let element = elements.get(id);
    if (!element) {
      element = h("div.kt-row.kt-group", { role: "row", "data-testid": "key-group", "data-outer-key": group.outer,
        tabindex: "0", "aria-expanded": "false" },
        h("span", { role: "gridcell" }, h("input", { type: "checkbox", "aria-label": `Select the keys of ${group.outer}` })),
        h("span.kt-group-label", { role: "gridcell" }, h("span.caret", { "aria-hidden": "true", text: "▸" }), h("span.summary")));
      elements.set(id, element);
      spacer.append(element);
    }
    const expanded = expandedGroups.has(group.outer);
    const summary = groupSummary(group);
    const version = `${summary}|${expanded}`;
    if (element.dataset.version !== version) {
      element.dataset.version = version;
      element.dataset.count = String(group.indices.length);
      element.setAttribute("aria-expanded", String(expanded));
      element.querySelector(".caret").textContent = expanded ? "▾" : "▸";
      element.querySelector(".summary").textContent = summary;
    }
    const check = element.firstChild.firstChild;
    const keys = stepIndex.node(node).keys;
    check.checked = selection.size > 0 && group.indices.every((at) => selection.has(keys[at]));
    element.style.transform = `translateY(${index * ROW_HEIGHT}px)`;
    return id;
  }

  function groupKeys(group) {
    const entry = stepIndex.node(node);
    return group.indices.map((index) => entry.keys[index]);
  }

  function groupedRow(entry, index) {
    const key = entry.keys[index];
    const known = details.get(key);
    const start = entry.start[index];
    const end = entry.end[index];
    return { key, status: STEP_STATUSES[entry.codes[index]], attempts: known ? known.attempts : null,
      durationMs: known ? known.durationMs : Number.isFinite(start) && Number.isFinite(end) ? end - start : null,
      error: known ? known.error : "" };
  }

  function renderGrouped() {
    const entry = stepIndex.node(node);
    const groups = entry.groups;
    const starts = new Array(groups.length);
    let rows = 0;
    for (let i = 0; i < groups.length; i += 1) {
      starts[i] = rows;
      rows += 1 + (expandedGroups.has(groups[i].outer) ? groups[i].indices.length : 0);
    }
    spacer.style.height = `${rows * ROW_HEIGHT}px`;
    const height = viewportHeight || 400;
    const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(rows - 1, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
    const keep = new Set();
    let g = Math.max(0, upperBound(starts, first) - 1);
    for (let index = first; index <= last && g < groups.length; index += 1) {
      while (g + 1 < groups.length && starts[g + 1] <= index) g += 1;
      const group = groups[g];
      const slot = index - starts[g] - 1;
      if (slot < 0) { keep.add(groupRowElement(group, index)); continue; }
      const block = Math.floor(slot / BLOCK);
      const state = groupBlocks.get(`${group.outer}\u0000${block}`);
      if (!state || (state.stale && !state.loading)) loadGroupBlock(group, block);
      const row = groupedRow(entry, group.indices[slot]);
      rowElement(row, index).classList.add("kt-in-group");
      keep.add(row.key);
    }
    for (const [key, element] of elements) {
      if (!keep.has(key)) { element.remove(); elements.delete(key); }
    }
    const keys = entry.keys.length;
    countLabel.textContent = groups.length || stepIndex.complete
      ? `${formatCount(keys)} key${keys === 1 ? "" : "s"} in ${formatCount(groups.length)} group${groups.length === 1 ? "" : "s"}`
      : "loading…";
    emptyNote.hidden = true;
    root.dataset.total = String(keys);
    root.dataset.grouped = "true";
    root.dataset.loading = groups.length || stepIndex.complete ? "false" : "true";
  }

  // The number of items of the sorted `values` that are <= value.
  function upperBound(values, value) {
    let low = 0;
    let high = values.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (values[mid] <= value) low = mid + 1; else high = mid;
    }
    return low;
  }

  function toggleGroup(outer, open = !expandedGroups.has(outer)) {
    if (open) expandedGroups.add(outer); else expandedGroups.delete(outer);
    render();
  }

  spacer.addEventListener("click", (event) => {
    const element = event.target.closest("[data-testid=key-group]");
    if (!element) return;
    const outer = element.dataset.outerKey;
    if (event.target.matches("input[type=checkbox]")) {
      const group = stepIndex.node(node).groupByOuter.get(outer);
      if (group) selection.setMany(groupKeys(group), event.target.checked);
    } else {
      toggleGroup(outer);
    }
  });
  spacer.addEventListener("keydown", (event) => {
    const element = event.target.closest("[data-testid=key-group]");
    if (!element || event.target !== element) return;
    const outer = element.dataset.outerKey;
    if (event.key === "Enter" || event.key === " ") toggleGroup(outer);
    else if (event.key === "ArrowRight") toggleGroup(outer, true);
    else if (event.key === "ArrowLeft") toggleGroup(outer, false);
    else return;
    event.preventDefault();
  });

  function render() {
    if (isGrouped()) { renderGrouped(); return; }
    root.dataset.grouped = "false";
    const rows = isLarge() ? Math.min(total, loadedRows() + BLOCK) : total;
    spacer.style.height = `${Math.max(rows, 0) * ROW_HEIGHT}px`;
    const top = scrollTop;
    const height = viewportHeight || 400;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(rows - 1, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    const keep = new Set();
    for (let b = Math.floor(first / BLOCK); b <= Math.floor(Math.max(first, last) / BLOCK); b += 1) {
      const block = blocks.get(b);
      if ((!block || block.stale) && total > 0) loadBlock(b);
    }
    for (let index = first; index <= last; index += 1) {
      const row = rowAt(index);
      if (!row) continue;
      rowElement(row, index);
      keep.add(row.key);
    }
    for (const [key, element] of elements) {
      if (!keep.has(key)) { element.remove(); elements.delete(key); }
    }
    const shown = totalKnown ? `${formatCount(total)} key${total === 1 ? "" : "s"}${isFiltered(filters) ? " match" : ""}` : "loading…";
    countLabel.textContent = shown;
    const empty = totalKnown && total === 0 && isFiltered(filters);
    emptyNote.hidden = !empty;
    if (empty) emptyNote.textContent = `No keys match ${describeFilters(filters)}.`;
    root.dataset.total = String(total);
    root.dataset.loading = totalKnown ? "false" : "true";
  }

  function reset() {
    generation += 1;
    loadingBlocks = new Set();
    blocks = new Map();
    byKey = new Map();
    for (const element of elements.values()) element.remove();
    elements.clear();
    total = 0;
    totalKnown = false;
    viewport.scrollTop = 0;
    scrollTop = 0;
    resetGroups();
    resetFirstLoad();
    if (node) loadBlock(0);
    render();
  }

  // Re-read what is visible (after a live update, a reconnect or the end of the run).
  function refreshVisible() {
    lastRefresh = performance.now();
    for (const block of blocks.values()) block.stale = true;
    for (const block of groupBlocks.values()) block.stale = true;
    if (!blocks.size && node) loadBlock(0);
    render();
  }

  function refreshSoon() {
    if (refreshTimer) return;
    const wait = Math.max(0, REFRESH_MS - (performance.now() - lastRefresh));
    refreshTimer = setTimeout(() => { refreshTimer = null; refreshVisible(); }, wait);
  }

  let filterTimer = null;
  function filtersChanged() {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      const next = { ...readFilters(inputs), signature: "" };  // editing the filters leaves the failure group
      if (JSON.stringify(next) === JSON.stringify(filters)) return;
      root.dataset.errorSignature = "";
      filters = next;
      root.dataset.filtered = isFiltered(filters) ? "true" : "false";
      reset();
    }, 200);
  }

  inputs.text.addEventListener("input", filtersChanged);
  inputs.error.addEventListener("input", filtersChanged);
  inputs.status.addEventListener("change", filtersChanged);
  // Sizes come from events, never read while rendering, so rendering forces no layout.
  let scrollTop = 0;
  let viewportHeight = 0;
  new ResizeObserver(([observed]) => {
    viewportHeight = observed.contentRect.height;
    render();
  }).observe(viewport);
  let scrollQueued = false;
  viewport.addEventListener("scroll", () => {
    scrollTop = viewport.scrollTop;
    if (scrollQueued) return;
    scrollQueued = true;
    requestAnimationFrame(() => { scrollQueued = false; render(); });
  });
  spacer.addEventListener("click", (event) => {
    const element = event.target.closest("[data-testid=key-row]");
    if (!element) return;
    const key = element.dataset.stepKey;
    if (event.target.matches("input[type=checkbox]")) selection.toggle(key, event.target.checked);
    else if (event.ctrlKey || event.metaKey || event.shiftKey) selection.toggle(key);
    else onOpen(key);
  });
  spacer.addEventListener("keydown", (event) => {
    const element = event.target.closest("[data-testid=key-row]");
    if (element && (event.key === "Enter" || event.key === " ") && event.target === element) {
      event.preventDefault();
      onOpen(element.dataset.stepKey);
    }
  });
  selectAll.addEventListener("change", () => {
    const shown = isGrouped() ? stepIndex.node(node).groups.filter((group) => expandedGroups.has(group.outer)).flatMap(groupKeys)
      : [...byKey.keys()];
    selection.setMany(shown, selectAll.checked);
  });
  selection.onChange(() => {
    if (!selection.size) selectAll.checked = false;
    render();
  });

  return {
    setNode(name) {
      if (name === node) return;
      node = name;
      reset();
    },
    // Set filters from elsewhere (e.g. a click on a "failed" count, or a link to nested keys).
    // `signature` keeps only the failed keys of that failure group.
    setFilters({ key = "", status = "", error = "", signature = "" }) {
      inputs.text.value = key;
      inputs.status.value = status;
      inputs.error.value = error;
      filters = { ...readFilters(inputs), signature };
      root.dataset.errorSignature = signature;
      root.dataset.filtered = isFiltered(filters) ? "true" : "false";
      reset();
    },
    // Live steps (runUpdates): patch loaded rows now; new or moved rows come with the next refresh.
    applySteps(steps, nodeTotal) {
      if (isGrouped()) {  // statuses come from the step index; keep the attempts and errors read so far current
        for (const step of steps) {
          if (step.node === node && details.has(step.key)) {
            details.set(step.key, { attempts: step.attemptCount, durationMs: step.durationMs,
              error: step.error ? step.error.message : "" });
          }
        }
        return true;
      }
      let patched = false;
      let unseen = false;
      const shownNode = queriedNode();
      for (const step of steps) {
        if (shownNode !== null && step.node !== shownNode) continue;
        const row = byKey.get(step.key);
        if (row) {
          row.status = step.status;
          row.attempts = step.attemptCount;
          row.durationMs = step.durationMs;
          row.error = step.error ? step.error.message : "";
          patched = true;
        } else {
          unseen = true;
        }
      }
      if (!isFiltered(filters) && nodeTotal !== undefined && nodeTotal !== total && totalKnown) {
        total = nodeTotal;
        const highest = Math.max(-1, ...blocks.keys());
        if (highest >= 0) blocks.get(highest).stale = true;
        patched = true;
      }
      if (unseen || (patched && isFiltered(filters))) refreshSoon();
      return patched;
    },
    render,
    reload: refreshVisible,
    // A live update of a big run (whose updates carry only some of the changed steps): the rows in view
    // are read again, at most once a second.
    refreshLive: refreshSoon,
    ready: () => firstLoad,
    get node() { return node; },
  };
}
