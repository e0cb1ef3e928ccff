// The timeline: a Gantt chart of the run's steps on canvas, one row per op; a mapped op unfolds
// into one row per key on click. Only the rows in view are drawn, so 10,000 keys scroll freely.

import { formatDuration } from "./format.js";
import { STATUS_CODE, STATUS_COLOR, STATUS_ICON, STATUS_LABEL, STEP_STATUSES } from "./status.js";

const ROW = 22;
const AXIS = 24;
const LABEL = 230;
const MAX_HEIGHT = 360;

function niceStep(span, pixels) {
  const target = span / Math.max(1, pixels / 90);
  const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000, 1800000, 3600000];
  return steps.find((step) => step >= target) || target;
}

// `known`: the node's real counts per status when `entry` holds only a sample of its keys.
function aggregate(entry, now, known = null) {
  let start = Infinity;
  let end = -Infinity;
  const counts = known ? [...known] : new Array(STEP_STATUSES.length).fill(0);
  for (let index = 0; index < entry.keys.length; index += 1) {
    if (!known) counts[entry.codes[index]] += 1;
    const s = entry.start[index];
    if (!Number.isNaN(s)) {
      if (s < start) start = s;
      const e = Number.isNaN(entry.end[index]) ? (entry.codes[index] === STATUS_CODE.RUNNING ? now : s) : entry.end[index];
      if (e > end) end = e;
    }
  }
  let state = "PENDING";
  if (counts[STATUS_CODE.FAILURE]) state = "FAILURE";
  else if (counts[STATUS_CODE.CANCELED]) state = "CANCELED";
  else if (counts[STATUS_CODE.RUNNING]) state = "RUNNING";
  else if (counts[STATUS_CODE.SUCCESS]) state = "SUCCESS";
  else if (counts[STATUS_CODE.REUSED]) state = "REUSED";
  else if (counts[STATUS_CODE.SKIPPED]) state = "SKIPPED";
  return { start, end, counts, state };
}

// Band order of an op's bar: one horizontal band per status, as tall as its share of the op's steps,
// so an op whose keys were mostly reused or skipped does not read as one green bar.
const BAND_ORDER = ["SUCCESS", "REUSED", "SKIPPED", "FAILURE", "CANCELED", "RUNNING", "PENDING"]
  .filter((status) => STATUS_CODE[status] !== undefined);

function drawStatusBands(context, counts, x, y, width, height) {
  const total = counts.reduce((sum, value) => sum + value, 0) || 1;
  let top = y;
  for (const status of BAND_ORDER) {
    const value = counts[STATUS_CODE[status]];
    if (!value) continue;
    const band = (height * value) / total;
    context.fillStyle = STATUS_COLOR[status];
    context.fillRect(x, top, width, Math.max(1, band));
    top += band;
  }
}

// "✓ 2 ♻ 10": the op's counts per status with their icons.
function countsText(counts) {
  const present = BAND_ORDER.filter((status) => counts[STATUS_CODE[status]]);
  if (present.length === 1 && counts[STATUS_CODE[present[0]]] === 1) return `${STATUS_ICON[present[0]]} ${STATUS_LABEL[present[0]]}`;
  return BAND_ORDER.filter((status) => counts[STATUS_CODE[status]])
    .map((status) => `${STATUS_ICON[status]} ${counts[STATUS_CODE[status]]}`).join(" ");
}

// `countsOf(name)`: for a big run, whose `stepIndex` holds a sample of the keys (timeline_sample.js), the node's
// counts per status (from the live node stats); null otherwise.
export function createTimeline(root, { nodes, stepIndex, onOpen, runTimes, countsOf = () => null }) {
  const viewport = root.querySelector("[data-role=viewport]");
  const spacer = root.querySelector("[data-role=spacer]");
  const canvas = root.querySelector("[data-role=canvas]");
  const context = canvas.getContext("2d");
  const expanded = new Set();
  let rows = [];

  function buildRows() {
    rows = [];
    for (const node of nodes) {
      const entry = stepIndex.node(node.name);
      rows.push({ type: "node", node: node.name, mapped: node.isDynamicMapped, entry });
      if (expanded.has(node.name)) {
        for (let index = 0; index < entry.keys.length; index += 1) rows.push({ type: "key", node: node.name, index, entry });
      }
    }
  }

  let available = 0;  // from the ResizeObserver below: reading clientWidth here would force a layout
  let scrollTop = 0;

  function render() {
    if (!available) return;
    buildRows();
    const width = Math.max(300, available);
    const height = Math.min(MAX_HEIGHT, AXIS + rows.length * ROW + 2);
    viewport.style.height = `${height}px`;
    spacer.style.height = `${AXIS + rows.length * ROW}px`;
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
      canvas.style.width = `${width}px`;
      canvas.style.height = `${height}px`;
    }
    context.setTransform(dpr, 0, 0, dpr, 0, 0);
    context.clearRect(0, 0, width, height);
    context.font = "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
    context.textBaseline = "middle";

    const now = Date.now();
    const times = runTimes();
    const aggregates = new Map(nodes.map((node) => [node.name, aggregate(stepIndex.node(node.name), now, countsOf(node.name))]));
    root.dataset.steps = String(nodes.reduce((sum, node) => sum + stepIndex.node(node.name).keys.length, 0));
    root.dataset.sampled = String(nodes.some((node) => countsOf(node.name) !== null));
    let t0 = times.start;
    let t1 = times.end || now;
    for (const value of aggregates.values()) {
      if (Number.isFinite(value.start)) t0 = Number.isFinite(t0) ? Math.min(t0, value.start) : value.start;
      if (Number.isFinite(value.end)) t1 = Math.max(t1, value.end);
    }
    if (!Number.isFinite(t0)) {
      context.fillStyle = "#6b7583";
      context.fillText("No step has started yet.", 12, AXIS + ROW / 2);
      return;
    }
    const span = Math.max(1, t1 - t0);
    const plot = width - LABEL - 16;
    const x = (t) => LABEL + ((t - t0) / span) * plot;

    const scroll = scrollTop;
    const first = Math.max(0, Math.floor(scroll / ROW));
    const last = Math.min(rows.length - 1, Math.ceil((scroll + height - AXIS) / ROW));
    for (let index = first; index <= last; index += 1) {
      const row = rows[index];
      const y = AXIS + index * ROW - scroll;
      if (index % 2) { context.fillStyle = "#f6f7f9"; context.fillRect(0, y, width, ROW); }
      if (row.type === "node") {
        const value = aggregates.get(row.node);
        const count = value.counts.reduce((sum, n) => sum + n, 0);
        const sampled = countsOf(row.node) !== null && row.entry.keys.length < count;
        context.fillStyle = "#1d2430";
        const marker = row.mapped || count > 1 ? (expanded.has(row.node) ? "▾ " : "▸ ") : "  ";
        const keys = sampled ? ` (${count} keys, ${row.entry.keys.length} sampled)` : ` (${count} keys)`;
        context.fillText(`${marker}${row.node}${row.mapped ? keys : ""}`, 6, y + ROW / 2, LABEL - 12);
        if (Number.isFinite(value.start)) {
          const x0 = x(value.start);
          const x1 = Math.max(x0 + 2, x(value.end));
          context.globalAlpha = row.mapped ? 0.7 : 1;
          drawStatusBands(context, value.counts, x0, y + 4, x1 - x0, ROW - 8);
          context.globalAlpha = 1;
          context.fillStyle = "#1d2430";
          const text = `${countsText(value.counts)} · ${formatDuration(value.end - value.start)}`;
          context.fillText(text, Math.min(x1 + 4, width - 120), y + ROW / 2);
        } else if (count) {  // reused or skipped without running: said in words, not drawn as a bar
          context.fillStyle = "#6b7583";
          context.fillText(countsText(value.counts), LABEL, y + ROW / 2);
        }
      } else {
        const entry = row.entry;
        const code = entry.codes[row.index];
        const status = STEP_STATUSES[code];
        context.fillStyle = "#3d4652";
        context.fillText(`    ${entry.keys[row.index]}`, 6, y + ROW / 2, LABEL - 12);
        const start = entry.start[row.index];
        if (!Number.isNaN(start)) {
          const end = Number.isNaN(entry.end[row.index]) ? (status === "RUNNING" ? now : start) : entry.end[row.index];
          const x0 = x(start);
          const x1 = Math.max(x0 + 2, x(end));
          context.fillStyle = STATUS_COLOR[status];
          context.fillRect(x0, y + 5, x1 - x0, ROW - 10);
          context.fillStyle = "#1d2430";
          context.fillText(`${STATUS_ICON[status]} ${status.toLowerCase()}`, Math.min(x1 + 4, width - 80), y + ROW / 2);
        } else {
          context.fillStyle = "#6b7583";
          context.fillText(`${STATUS_ICON[status]} ${status.toLowerCase()}`, LABEL, y + ROW / 2);
        }
      }
    }
    // the time axis, drawn last so it stays on top while rows scroll under it
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, width, AXIS);
    context.strokeStyle = "#d5d9e0";
    context.beginPath(); context.moveTo(0, AXIS - 0.5); context.lineTo(width, AXIS - 0.5); context.stroke();
    const step = niceStep(span, plot);
    context.fillStyle = "#6b7583";
    for (let t = 0; t <= span + 1; t += step) {
      const px = x(t0 + t);
      context.fillRect(px, AXIS - 6, 1, 6);
      context.fillText(`+${formatDuration(t)}`, px + 2, AXIS / 2);
    }
    context.fillText("op / key", 6, AXIS / 2);
  }

  function rowAt(event) {
    const rect = canvas.getBoundingClientRect();
    const y = event.clientY - rect.top;
    if (y < AXIS) return null;
    return rows[Math.floor((y - AXIS + scrollTop) / ROW)] || null;
  }

  canvas.addEventListener("click", (event) => {
    const row = rowAt(event);
    if (!row) return;
    if (row.type === "node") {
      if (row.entry.keys.length === 1 && !row.mapped) { onOpen(row.entry.keys[0]); return; }
      if (expanded.has(row.node)) expanded.delete(row.node); else expanded.add(row.node);
      render();
    } else {
      onOpen(row.entry.keys[row.index]);
    }
  });
  canvas.addEventListener("mousemove", (event) => {
    const row = rowAt(event);
    if (!row) { canvas.title = ""; return; }
    if (row.type === "node") canvas.title = `${row.node}: ${row.entry.keys.length} step(s) — click to ${expanded.has(row.node) ? "fold" : "unfold"}`;
    else {
      const entry = row.entry;
      const start = entry.start[row.index];
      const end = entry.end[row.index];
      canvas.title = `${entry.keys[row.index]} — ${STEP_STATUSES[entry.codes[row.index]]}${
        !Number.isNaN(start) && !Number.isNaN(end) ? ` in ${formatDuration(end - start)}` : ""}`;
    }
  });
  let queued = false;
  viewport.addEventListener("scroll", () => {
    scrollTop = viewport.scrollTop;
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; render(); });
  });
  new ResizeObserver(([observed]) => {
    const width = Math.floor(observed.contentRect.width);
    if (width === available) return;
    available = width;
    render();
  }).observe(viewport);

  return { render, expand(name) { expanded.add(name); render(); } };
}
