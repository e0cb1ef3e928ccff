// The key table: the steps of the selected node, server-paginated and virtualised.
//
// Rows come in blocks of 100 through `run.steps(node, status, keyContains, errorContains)`;
// only the rows in view (plus a margin) exist in the DOM, absolutely placed in a spacer as
// tall as every matching row. Live updates patch loaded rows at once, and visible blocks are
// re-read at most once a second while the run is live.

import { clear, h } from "./dom.js";
import { firstLine, formatCount, formatDuration } from "./format.js";
import { graphql } from "./graphql.js";
import { isFiltered, readFilters } from "./key_filter.js";

const ROW_HEIGHT = 30;
const BLOCK = 100;
const OVERSCAN = 40;
const REFRESH_MS = 1000;

const STEPS = `query KeyTable($id: ID!, $node: String, $status: [StepStatus!], $key: String, $error: String,
                             $first: Int, $after: String) {
  run(id: $id) { steps(node: $node, status: $status, keyContains: $key, errorContains: $error, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { key status attemptCount durationMs error { message } } } } }
}`;

export function createKeyTable(root, { runId, stepIndex, selection, onOpen, onChange = () => {} }) {
  const viewport = root.querySelector("[data-role=viewport]");
  const spacer = root.querySelector("[data-role=spacer]");
  const countLabel = root.querySelector("[data-role=count]");
  const inputs = {
    text: root.querySelector("[data-testid=key-filter]"),
    status: root.querySelector("[data-testid=key-filter-status]"),
    error: root.querySelector("[data-testid=key-filter-error]"),
  };
  const selectAll = root.querySelector("[data-role=select-all]");

  let node = null;
  let filters = { key: "", status: "", error: "" };
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

  function resetFirstLoad() {
    firstLoad = new Promise((resolve) => { resolveFirstLoad = resolve; });
  }
  resetFirstLoad();

  function variables(after) {
    return {
      id: runId, node, status: filters.status ? [filters.status] : null, key: filters.key || null,
      error: filters.error || null, first: BLOCK, after,
    };
  }

  // The `after` cursor of block b: the end of block b-1, or the step index's cursor when unfiltered.
  function startCursor(b) {
    if (b === 0) return null;
    const previous = blocks.get(b - 1);
    if (previous && previous.endCursor) return previous.endCursor;
    if (!isFiltered(filters)) return stepIndex.cursorAt(node, b * BLOCK - 1) || undefined;
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
      const data = await graphql(STEPS, variables(after));
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
      total = connection.totalCount ?? total;
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

  function render() {
    spacer.style.height = `${Math.max(total, 0) * ROW_HEIGHT}px`;
    const top = scrollTop;
    const height = viewportHeight || 400;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(total - 1, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
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
    resetFirstLoad();
    if (node) loadBlock(0);
    render();
  }

  // Re-read what is visible (after a live update, a reconnect or the end of the run).
  function refreshVisible() {
    lastRefresh = performance.now();
    for (const block of blocks.values()) block.stale = true;
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
      const next = readFilters(inputs);
      if (JSON.stringify(next) === JSON.stringify(filters)) return;
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
    selection.setMany([...byKey.keys()], selectAll.checked);
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
    setFilters({ key = "", status = "", error = "" }) {
      inputs.text.value = key;
      inputs.status.value = status;
      inputs.error.value = error;
      filters = readFilters(inputs);
      root.dataset.filtered = isFiltered(filters) ? "true" : "false";
      reset();
    },
    // Live steps (runUpdates): patch loaded rows now; new or moved rows come with the next refresh.
    applySteps(steps, nodeTotal) {
      let patched = false;
      let unseen = false;
      for (const step of steps) {
        if (step.node !== node) continue;
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
    ready: () => firstLoad,
    get node() { return node; },
  };
}
