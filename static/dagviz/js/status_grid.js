// The status grid: one canvas cell per key of the selected node, in yield order.
//
// Cells are redrawn only when their status changes, so 10,000+ keys cost a few milliseconds.
// Big cells get a glyph per status (✗ cross, ▶ dot, ⤼ bar, ♻ ring) and every cell has a text
// tooltip, so status never rests on colour alone.

import { h, clear } from "./dom.js";
import { STATUS_COLOR, STATUS_ICON, STATUS_LABEL, STEP_STATUSES, STAT_FIELD } from "./status.js";

const MAX_HEIGHT = 260;

function glyph(context, code, x, y, size) {
  const status = STEP_STATUSES[code];
  const mid = size / 2;
  context.strokeStyle = "#ffffff";
  context.fillStyle = "#ffffff";
  context.lineWidth = Math.max(1, size / 8);
  context.beginPath();
  if (status === "FAILURE") {
    context.moveTo(x + size * 0.25, y + size * 0.25); context.lineTo(x + size * 0.7, y + size * 0.7);
    context.moveTo(x + size * 0.7, y + size * 0.25); context.lineTo(x + size * 0.25, y + size * 0.7);
    context.stroke();
  } else if (status === "RUNNING") {
    context.arc(x + mid - 0.5, y + mid - 0.5, size / 5, 0, Math.PI * 2); context.fill();
  } else if (status === "SKIPPED") {
    context.moveTo(x + size * 0.2, y + mid - 0.5); context.lineTo(x + size * 0.75, y + mid - 0.5); context.stroke();
  } else if (status === "REUSED") {
    context.arc(x + mid - 0.5, y + mid - 0.5, size / 4.5, 0, Math.PI * 2); context.stroke();
  }
}

export function createStatusGrid(canvas, { stepIndex, selection, onOpen, legend }) {
  const context = canvas.getContext("2d");
  let node = null;
  let layout = null;   // {cell, cols, rows, width, count, dpr}
  let drawn = [];      // status code drawn per cell (-1: never)
  let selectedDrawn = new Set();

  let available = 0;  // the container's width, from a ResizeObserver (reading it would force a layout)

  function computeLayout(count) {
    const width = Math.max(120, available - 4);
    const cell = Math.max(4, Math.min(22, Math.floor(Math.sqrt((width * MAX_HEIGHT) / Math.max(1, count)))));
    const cols = Math.max(1, Math.floor(width / cell));
    const rows = Math.max(1, Math.ceil(count / cols));
    return { cell, cols, rows, width: cols * cell, count, dpr: window.devicePixelRatio || 1 };
  }

  function resize(next) {
    canvas.style.width = `${next.width}px`;
    canvas.style.height = `${next.rows * next.cell}px`;
    canvas.width = Math.round(next.width * next.dpr);
    canvas.height = Math.round(next.rows * next.cell * next.dpr);
    context.setTransform(next.dpr, 0, 0, next.dpr, 0, 0);
    context.clearRect(0, 0, next.width, next.rows * next.cell);
  }

  function drawCell(index, code, selected) {
    const { cell, cols } = layout;
    const x = (index % cols) * cell;
    const y = Math.floor(index / cols) * cell;
    const gap = cell >= 8 ? 1 : cell >= 5 ? 0.5 : 0;
    context.clearRect(x, y, cell, cell);
    context.fillStyle = STATUS_COLOR[STEP_STATUSES[code]];
    context.fillRect(x, y, cell - gap, cell - gap);
    if (cell >= 10) glyph(context, code, x, y, cell - gap);
    if (selected) {
      context.strokeStyle = "#111827";
      context.lineWidth = Math.max(1.5, cell / 6);
      context.strokeRect(x + 0.75, y + 0.75, cell - gap - 1.5, cell - gap - 1.5);
    }
  }

  function render(force = false) {
    if (!available) return;
    const entry = node ? stepIndex.node(node) : null;
    const count = entry ? entry.keys.length : 0;
    const next = computeLayout(count);
    if (force || !layout || next.cell !== layout.cell || next.cols !== layout.cols || next.rows !== layout.rows
        || next.dpr !== layout.dpr) {
      layout = next;
      resize(layout);
      drawn = [];
      selectedDrawn = new Set();
    }
    layout.count = count;
    if (!entry) return;
    const nowSelected = new Set();
    for (let index = 0; index < count; index += 1) {
      const selected = selection.size > 0 && selection.has(entry.keys[index]);
      if (selected) nowSelected.add(index);
      if (drawn[index] !== entry.codes[index] || selected !== selectedDrawn.has(index)) {
        drawCell(index, entry.codes[index], selected);
        drawn[index] = entry.codes[index];
      }
    }
    selectedDrawn = nowSelected;
    canvas.dataset.keys = String(count);
  }

  function renderLegend(stats) {
    if (!legend) return;
    clear(legend);
    for (const status of STEP_STATUSES) {
      const value = stats ? stats[STAT_FIELD[status]] : 0;
      legend.append(h("span.legend-item", { title: `${value} ${STATUS_LABEL[status]}` },
        h("span.swatch", { style: `background:${STATUS_COLOR[status]}` }),
        `${STATUS_ICON[status]} ${STATUS_LABEL[status]} ${value}`));
    }
  }

  function keyAt(event) {
    if (!layout || !node) return null;
    const rect = canvas.getBoundingClientRect();
    const col = Math.floor((event.clientX - rect.left) / layout.cell);
    const row = Math.floor((event.clientY - rect.top) / layout.cell);
    if (col < 0 || col >= layout.cols) return null;
    const index = row * layout.cols + col;
    const entry = stepIndex.node(node);
    return index >= 0 && index < entry.keys.length ? { key: entry.keys[index], code: entry.codes[index] } : null;
  }

  canvas.addEventListener("mousemove", (event) => {
    const hit = keyAt(event);
    canvas.title = hit ? `${hit.key} — ${STEP_STATUSES[hit.code]}` : "";
  });
  canvas.addEventListener("click", (event) => {
    const hit = keyAt(event);
    if (!hit) return;
    if (event.ctrlKey || event.metaKey || event.shiftKey) selection.toggle(hit.key);
    else onOpen(hit.key);
  });
  new ResizeObserver(([observed]) => {
    const width = Math.floor(observed.contentRect.width);
    if (width === available) return;
    available = width;
    render();
  }).observe(canvas.parentElement);

  return {
    setNode(name) { node = name; render(true); },
    render,
    renderLegend,
  };
}
