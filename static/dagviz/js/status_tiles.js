// The status grid of a big run: the selected node's keys as tiles, each a range of their yield order
// with its count per status (Run.statusTiles), so a million keys cost a few thousand tiles; a click on
// a tile (or Ctrl+wheel, or the zoom buttons) narrows the range until its keys are few enough to be
// drawn as real cells (Run.steps in that window), where a click opens the step as in the small grid.
//
// The browser never holds more than one window of keys. While the run is live the tiles are read
// again at most once a second.

import { sizeCanvas } from "./dom.js";
import { graphql } from "./graphql.js";
import { formatCount } from "./format.js";
import { STATUS_CODE, STATUS_COLOR, STATUS_ICON, STATUS_LABEL, STEP_STATUSES } from "./status.js";

const MAX_HEIGHT = 260;
const MIN_TILE_PX = 8;
const MAX_TILES = 4000;      // the server allows 20,000; more would not be told apart on screen
const REFRESH_MS = 1000;   // while live; longer when a read takes long, so the server is never kept busy
const MAX_CELLS = 1000;      // one page of Run.steps
const EMPTY_COLOR = "#eef0f3";
// Bands of a tile from the top: what needs attention first, so one failure among 500 keys still shows.
const BANDS = ["FAILURE", "CANCELED", "RUNNING", "SUCCESS", "REUSED", "SKIPPED", "PENDING"].map((s) => STATUS_CODE[s]);

const TILES = `query GridTiles($id: ID!, $node: String!, $tiles: Int!, $from: Int, $to: Int) {
  run(id: $id) { statusTiles(node: $node, tiles: $tiles, fromOrder: $from, toOrder: $to) {
    fromOrder toOrder span tileCount total maxTileCount statuses counts } }
}`;
const CELLS = `query GridCells($id: ID!, $node: String, $after: String, $first: Int) {
  run(id: $id) { steps(node: $node, after: $after, first: $first) { edges { cursor node { key status } } } }
}`;

// `cellLimit`: a window with at most this many keys is drawn as cells; `controls`: the zoom buttons' container.
export function createTileGrid(canvas, { runId, selection, onOpen, isLive, cellLimit = MAX_CELLS, controls, hint }) {
  const context = canvas.getContext("2d");
  const limit = Math.max(1, Math.min(MAX_CELLS, cellLimit));
  const zoomLabel = controls ? controls.querySelector("[data-role=grid-zoom-label]") : null;
  let active = false;
  let node = null;
  let view = null;        // {from, to}: the zoomed range of orders (null: the whole node)
  let whole = null;       // {lo, hi}: the node's first and last order, from the last unzoomed answer
  let data = null;        // {mode: "tiles", lo, span, n, counts, total, maxTile} | {mode: "cells", keys, codes, orders}
  let layout = null;      // {cell, cols, rows, width, height, count}
  let available = 0;
  let generation = 0;
  let loading = false;
  let lastLoad = -Infinity;
  let lastCost = 0;       // ms the last read took
  let timer = null;
  let again = false;      // a refresh was asked for while a read was in flight
  let selectionDrawn = 0;  // keys selected when the cells were last drawn (a cleared selection redraws once)

  const tileCapacity = () => {
    const width = Math.max(120, available - 4);
    return Math.max(1, Math.min(MAX_TILES, Math.floor(width / MIN_TILE_PX) * Math.floor(MAX_HEIGHT / MIN_TILE_PX)));
  };

  async function load() {
    if (!active || !node || !available) return;
    const mine = ++generation;
    loading = true;
    lastLoad = performance.now();
    try {
      const answer = (await graphql(TILES, { id: runId, node, tiles: tileCapacity(), from: view ? view.from : null,
        to: view ? view.to : null })).run.statusTiles;
      if (mine !== generation) return;
      if (!view && answer.fromOrder !== null) whole = { lo: answer.fromOrder, hi: answer.toOrder };
      if (answer.total > 0 && answer.total <= limit) {
        const edges = (await graphql(CELLS, { id: runId, node, after: String(answer.fromOrder - 1),
          first: Math.min(MAX_CELLS, answer.total + 50) })).run.steps.edges;
        if (mine !== generation) return;
        const inside = edges.filter((edge) => !view || Number(edge.cursor) <= view.to);
        data = { mode: "cells", keys: inside.map((edge) => edge.node.key),
          codes: inside.map((edge) => STATUS_CODE[edge.node.status] ?? 0), orders: inside.map((edge) => Number(edge.cursor)) };
      } else {
        const order = answer.statuses.map((status) => STATUS_CODE[status]);
        const counts = new Int32Array(answer.tileCount * STEP_STATUSES.length);
        const width = answer.statuses.length;
        for (let tile = 0; tile < answer.tileCount; tile += 1) {
          for (let s = 0; s < width; s += 1) counts[tile * STEP_STATUSES.length + order[s]] = answer.counts[tile * width + s];
        }
        data = { mode: "tiles", lo: answer.fromOrder, span: answer.span, n: answer.tileCount, counts, total: answer.total,
          maxTile: answer.maxTileCount };
      }
      lastCost = performance.now() - lastLoad;
      draw();
    } catch (error) {
      if (mine === generation) canvas.title = `Could not read the grid: ${error.message}`;
    } finally {
      if (mine === generation) {
        loading = false;
        if (again) { again = false; refresh(); }
      }
    }
  }

  // Read again at most once a second (the last call within the second is not lost).
  function refresh(now = false) {
    if (!active) return;
    if (loading) { again = true; return; }
    const wait = now ? 0 : Math.max(REFRESH_MS, 3 * lastCost) - (performance.now() - lastLoad);
    if (wait <= 0) { clearTimeout(timer); timer = null; load(); return; }
    if (!timer) timer = setTimeout(() => { timer = null; load(); }, wait);
  }

  function tileBounds(index) {
    const { lo, span, n } = data;
    return [lo + Math.ceil((index * span) / n), lo + Math.ceil(((index + 1) * span) / n) - 1];
  }

  function countsOf(index) {
    const base = index * STEP_STATUSES.length;
    return data.counts.subarray(base, base + STEP_STATUSES.length);
  }

  function computeLayout(count) {
    const width = Math.max(120, available - 4);
    const cell = Math.max(4, Math.min(22, Math.floor(Math.sqrt((width * MAX_HEIGHT) / Math.max(1, count)))));
    const cols = Math.max(1, Math.floor(width / cell));
    const rows = Math.max(1, Math.ceil(count / cols));
    return { cell, cols, rows, width: cols * cell, height: rows * cell, count, dpr: window.devicePixelRatio || 1 };
  }

  function drawTile(index, x, y, size) {
    const counts = countsOf(index);
    let total = 0;
    for (const value of counts) total += value;
    if (!total) { context.fillStyle = EMPTY_COLOR; context.fillRect(x, y, size, size); return; }
    let top = y;
    let left = size;
    for (const code of BANDS) {  // stacked bands as tall as each status's share, at least 1.5 px when present
      if (!counts[code]) continue;
      const band = Math.min(left, Math.max(1.5, (size * counts[code]) / total));
      context.fillStyle = STATUS_COLOR[STEP_STATUSES[code]];
      context.fillRect(x, top, size, band);
      top += band;
      left -= band;
      if (left <= 0) break;
    }
  }

  function drawCell(index, x, y, size) {
    const code = data.codes[index];
    context.fillStyle = STATUS_COLOR[STEP_STATUSES[code]];
    context.fillRect(x, y, size, size);
    if (selection.size && selection.has(data.keys[index])) {
      context.strokeStyle = "#111827";
      context.lineWidth = Math.max(1.5, size / 6);
      context.strokeRect(x + 0.75, y + 0.75, size - 1.5, size - 1.5);
    }
  }

  function draw() {
    if (!active || !available) return;
    const count = !data ? 0 : data.mode === "tiles" ? data.n : data.keys.length;
    layout = computeLayout(count);
    sizeCanvas(canvas, context, layout.width, layout.height, layout.dpr);
    selectionDrawn = selection.size;
    const { cell, cols } = layout;
    const gap = cell >= 8 ? 1 : cell >= 5 ? 0.5 : 0;
    for (let index = 0; index < count; index += 1) {
      const x = (index % cols) * cell;
      const y = Math.floor(index / cols) * cell;
      if (data.mode === "tiles") drawTile(index, x, y, cell - gap); else drawCell(index, x, y, cell - gap);
    }
    describe();
  }

  // What the grid shows, for people (the zoom label) and for tests (data attributes).
  function describe() {
    const sums = Object.fromEntries(STEP_STATUSES.map((status) => [status, 0]));
    let keys = 0;
    if (data && data.mode === "tiles") {
      for (let i = 0; i < data.counts.length; i += 1) sums[STEP_STATUSES[i % STEP_STATUSES.length]] += data.counts[i];
      keys = data.total;
    } else if (data) {
      for (const code of data.codes) sums[STEP_STATUSES[code]] += 1;
      keys = data.keys.length;
    }
    const mode = data ? data.mode : "tiles";
    canvas.dataset.mode = mode;
    canvas.dataset.keys = String(keys);
    canvas.dataset.tiles = String(data && data.mode === "tiles" ? data.n : 0);
    canvas.dataset.keysPerTile = String(data && data.mode === "tiles" ? data.maxTile : 1);
    canvas.dataset.statusCounts = JSON.stringify(sums);
    canvas.dataset.zoomed = String(Boolean(view));
    canvas.dataset.grouped = "false";
    canvas.dataset.groups = "0";
    canvas.setAttribute("aria-label", mode === "tiles"
      ? `Status of ${formatCount(keys)} keys of the selected op in ${formatCount(data ? data.n : 0)} tiles`
      : `Status of ${formatCount(keys)} keys of the selected op, one cell per key`);
    if (zoomLabel) {
      const where = view ? "zoomed in" : "whole op";
      zoomLabel.textContent = mode === "tiles"
        ? `${where} · ${formatCount(keys)} keys · up to ${formatCount(data ? data.maxTile : 0)} per tile`
        : `${where} · ${formatCount(keys)} keys, one cell each`;
    }
    if (hint) {
      hint.textContent = mode === "tiles"
        ? "Each tile is a range of keys in yield order, banded by status. Click a tile (or Ctrl+wheel) to zoom in."
        : "Click a cell to open its step; Ctrl/Shift-click to select keys for re-execution.";
    }
  }

  function indexAt(event) {
    if (!layout || !data) return -1;
    const rect = canvas.getBoundingClientRect();
    const col = Math.floor((event.clientX - rect.left) / layout.cell);
    const row = Math.floor((event.clientY - rect.top) / layout.cell);
    if (col < 0 || col >= layout.cols || row < 0) return -1;
    const index = row * layout.cols + col;
    return index < layout.count ? index : -1;
  }

  function current() {
    if (view) return view;
    return whole ? { from: whole.lo, to: whole.hi } : null;
  }

  function zoomTo(from, to) {
    if (!whole) return;
    from = Math.max(whole.lo, Math.floor(from));
    to = Math.min(whole.hi, Math.ceil(to));
    view = from <= whole.lo && to >= whole.hi ? null : { from, to: Math.max(from, to) };
    refresh(true);
  }

  // Zoom by `factor` (> 1: in) keeping `order` where it is.
  function zoomAround(order, factor) {
    const range = current();
    if (!range) return;
    const span = range.to - range.from + 1;
    const next = Math.max(1, Math.round(span / factor));
    const share = span > 1 ? (order - range.from) / (span - 1) : 0.5;
    const from = Math.round(order - share * (next - 1));
    zoomTo(from, from + next - 1);
  }

  function orderAt(index) {
    if (!data || index < 0) return null;
    if (data.mode === "cells") return data.orders[index];
    const [from, to] = tileBounds(index);
    return Math.round((from + to) / 2);
  }

  canvas.addEventListener("mousemove", (event) => {
    if (!active) return;
    const index = indexAt(event);
    if (index < 0) { canvas.title = ""; return; }
    if (data.mode === "cells") { canvas.title = `${data.keys[index]} — ${STEP_STATUSES[data.codes[index]]}`; return; }
    const counts = countsOf(index);
    const total = counts.reduce((sum, value) => sum + value, 0);
    const parts = STEP_STATUSES.map((status, code) => [status, counts[code]]).filter(([, value]) => value)
      .map(([status, value]) => `${STATUS_ICON[status]} ${formatCount(value)} ${STATUS_LABEL[status]}`);
    canvas.title = total ? `${formatCount(total)} key${total === 1 ? "" : "s"}: ${parts.join(" · ")} — click to zoom in`
      : "no key of this op here";
  });
  canvas.addEventListener("click", (event) => {
    if (!active) return;
    const index = indexAt(event);
    if (index < 0) return;
    if (data.mode === "cells") {
      const key = data.keys[index];
      if (event.ctrlKey || event.metaKey || event.shiftKey) selection.toggle(key); else onOpen(key);
      return;
    }
    const [from, to] = tileBounds(index);
    if (countsOf(index).some((value) => value > 0)) zoomTo(from, to);
  });
  canvas.addEventListener("wheel", (event) => {
    if (!active || !(event.ctrlKey || event.metaKey)) return;  // a plain wheel scrolls the page
    event.preventDefault();
    const order = orderAt(indexAt(event));
    const range = current();
    if (!range) return;
    zoomAround(order ?? Math.round((range.from + range.to) / 2), event.deltaY < 0 ? 2 : 0.5);
  }, { passive: false });
  if (controls) {
    const middle = () => { const range = current(); return range ? Math.round((range.from + range.to) / 2) : 0; };
    controls.querySelector("[data-testid=grid-zoom-in]").addEventListener("click", () => zoomAround(middle(), 4));
    controls.querySelector("[data-testid=grid-zoom-out]").addEventListener("click", () => zoomAround(middle(), 0.25));
    controls.querySelector("[data-testid=grid-zoom-reset]").addEventListener("click", () => { view = null; refresh(true); });
  }
  new ResizeObserver(([observed]) => {
    const width = Math.floor(observed.contentRect.width);
    if (width === available) return;
    const before = available ? tileCapacity() : 0;
    available = width;
    if (!active) return;
    if (tileCapacity() !== before) refresh(true); else draw();
  }).observe(canvas.parentElement);

  return {
    setActive(on) {
      active = on;
      if (controls) controls.hidden = !on;
      if (on) { data = null; refresh(true); }
    },
    setNode(name) {
      if (name === node) return;
      node = name;
      view = null;
      whole = null;
      data = null;
      generation += 1;
      loading = false;
      if (active) { draw(); refresh(true); }
    },
    // Live: read again (at most once a second while the run goes on; at once when it ended).
    refresh(now = false) { if (now || isLive()) refresh(now); },
    render() { if (active && data && data.mode === "cells" && (selection.size || selectionDrawn)) draw(); },
    zoomTo,
    get mode() { return data ? data.mode : null; },
    get view() { return view; },
  };
}
