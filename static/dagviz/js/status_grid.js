// The status grid: one canvas cell per key of the selected node, in yield order.
//
// Cells are redrawn only when their status changes, so 10,000+ keys cost a few milliseconds.
// Big cells get a glyph per status (✗ cross, ▶ dot, ⤼ bar, ♻ ring) and every cell has a text
// tooltip, so status never rests on colour alone.

import { h, clear, sizeCanvas } from "./dom.js";
import { groupSummary } from "./key_groups.js";
import { STATUS_COLOR, STATUS_ICON, STATUS_LABEL, STEP_STATUSES, STAT_FIELD } from "./status.js";

const MAX_HEIGHT = 260;
const GROUP_LABEL = 16;  // px of the label line above each outer key's cells
const GROUP_GAP = 4;
const MAX_CANVAS_PX = 30000;  // Chromium draws nothing on a canvas taller than 32,767 px

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

// `groupedNodes`: ops mapped two or more deep, whose cells are grouped by outer key.
export function createStatusGrid(canvas, { stepIndex, selection, onOpen, legend, groupedNodes = new Set() }) {
  const context = canvas.getContext("2d");
  let node = null;
  let layout = null;   // {cell, cols, rows, width, count, dpr}
  let drawn = [];      // status code drawn per cell (-1: never)
  let labelsDrawn = []; // the label text drawn per group (grouped layout)
  let currentFill = null; // the context's fillStyle as last set by drawCell (null: unknown)
  let selectedDrawn = new Set();

  let available = 0;  // the container's width, from a ResizeObserver (reading it would force a layout)
  let active = true;  // false while a big run's tiles (status_tiles.js) draw on this canvas instead

  // Flat: cells in yield order. Grouped (an op mapped 2+ deep): each outer key's cells start on a
  // new line under a label line with its counts, so a group reads as one block.
  function computeLayout(count, groups) {
    const width = Math.max(120, available - 4);
    const cell = Math.max(4, Math.min(22, Math.floor(Math.sqrt((width * MAX_HEIGHT) / Math.max(1, count)))));
    const cols = Math.max(1, Math.floor(width / cell));
    const rows = Math.max(1, Math.ceil(count / cols));
    const next = { cell, cols, rows, width: cols * cell, height: rows * cell, count, dpr: window.devicePixelRatio || 1,
      groupY: null, shape: "" };
    if (groups) {
      next.groupY = new Array(groups.length);
      let y = 0;
      const sizes = [];
      for (let i = 0; i < groups.length; i += 1) {
        next.groupY[i] = y;
        const groupRows = Math.max(1, Math.ceil(groups[i].indices.length / cols));
        sizes.push(groupRows);
        y += GROUP_LABEL + groupRows * cell + GROUP_GAP;
      }
      next.height = Math.max(cell, y);
      next.shape = sizes.join(",");
    }
    return next;
  }

  function resize(next) {
    sizeCanvas(canvas, context, next.width, next.height, next.dpr);
    currentFill = null;  // resizing a canvas resets its drawing state
  }

  function cellOrigin(entry, index) {
    const { cell, cols } = layout;
    if (!layout.groupY) return [(index % cols) * cell, Math.floor(index / cols) * cell];
    const group = entry.groupOf[index];
    const slot = entry.slotOf[index];
    return [(slot % cols) * cell, layout.groupY[group.ordinal] + GROUP_LABEL + Math.floor(slot / cols) * cell];
  }

  function drawLabel(group) {
    const text = groupSummary(group);
    if (labelsDrawn[group.ordinal] === text) return;
    labelsDrawn[group.ordinal] = text;
    currentFill = null;
    const y = layout.groupY[group.ordinal];
    context.clearRect(0, y, layout.width, GROUP_LABEL);
    context.fillStyle = "#d5d9e0";
    context.fillRect(0, y + 1, layout.width, 1);  // the separator above each group
    context.fillStyle = "#3d4652";
    context.font = "11px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
    context.textBaseline = "middle";
    context.fillText(text, 2, y + GROUP_LABEL / 2 + 1, layout.width - 4);
  }

  function drawCell(entry, index, code, selected) {
    const { cell } = layout;
    const [x, y] = cellOrigin(entry, index);
    const gap = cell >= 8 ? 1 : cell >= 5 ? 0.5 : 0;
    // A redraw of every cell (100,000 at a time) is fill-bound: a cell never drawn since the canvas
    // was cleared needs no clearing, and the fill colour is set only when it changes.
    if (drawn[index] !== undefined) context.clearRect(x, y, cell, cell);
    const color = STATUS_COLOR[STEP_STATUSES[code]];
    if (currentFill !== color) { context.fillStyle = color; currentFill = color; }
    context.fillRect(x, y, cell - gap, cell - gap);
    if (cell >= 10) { glyph(context, code, x, y, cell - gap); currentFill = null; }
    if (selected) {
      context.strokeStyle = "#111827";
      context.lineWidth = Math.max(1.5, cell / 6);
      context.strokeRect(x + 0.75, y + 0.75, cell - gap - 1.5, cell - gap - 1.5);
    }
  }

  function render(force = false) {
    if (!available || !active) return;
    const entry = node ? stepIndex.node(node) : null;
    const count = entry ? entry.keys.length : 0;
    let grouped = Boolean(entry && groupedNodes.has(node) && entry.groups.length);
    let next = computeLayout(count, grouped ? entry.groups : null);
    if (grouped && next.height * next.dpr > MAX_CANVAS_PX) {  // thousands of small groups: too tall to draw
      grouped = false;
      next = computeLayout(count, null);
    }
    if (force || !layout || next.cell !== layout.cell || next.cols !== layout.cols || next.rows !== layout.rows
        || next.dpr !== layout.dpr || next.shape !== layout.shape || Boolean(next.groupY) !== Boolean(layout.groupY)) {
      layout = next;
      resize(layout);
      drawn = [];
      labelsDrawn = [];
      selectedDrawn = new Set();
      canvas.dataset.groupTops = layout.groupY && layout.groupY.length <= 50 ? layout.groupY.join(",") : "";  // for tests
    }
    layout.count = count;
    canvas.dataset.grouped = String(grouped);
    canvas.dataset.groups = String(grouped ? entry.groups.length : 0);
    if (!entry) return;
    if (grouped) for (const group of entry.groups) drawLabel(group);
    const nowSelected = new Set();
    for (let index = 0; index < count; index += 1) {
      const selected = selection.size > 0 && selection.has(entry.keys[index]);
      if (selected) nowSelected.add(index);
      if (drawn[index] !== entry.codes[index] || selected !== selectedDrawn.has(index)) {
        drawCell(entry, index, entry.codes[index], selected);
        drawn[index] = entry.codes[index];
      }
    }
    selectedDrawn = nowSelected;
    canvas.dataset.keys = String(count);
    canvas.dataset.mode = "cells";
    canvas.dataset.keysPerTile = "1";
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
    if (col < 0 || col >= layout.cols) return null;
    const entry = stepIndex.node(node);
    let index;
    if (layout.groupY) {
      const y = event.clientY - rect.top;
      let low = 0;
      let high = layout.groupY.length;
      while (low < high) { const mid = (low + high) >> 1; if (layout.groupY[mid] <= y) low = mid + 1; else high = mid; }
      const group = entry.groups[low - 1];
      if (!group) return null;
      const within = y - layout.groupY[low - 1] - GROUP_LABEL;
      if (within < 0) return null;  // the group's label line
      const slot = Math.floor(within / layout.cell) * layout.cols + col;
      index = slot < group.indices.length ? group.indices[slot] : -1;
    } else {
      index = Math.floor((event.clientY - rect.top) / layout.cell) * layout.cols + col;
    }
    return index >= 0 && index < entry.keys.length ? { key: entry.keys[index], code: entry.codes[index] } : null;
  }

  canvas.addEventListener("mousemove", (event) => {
    if (!active) return;
    const hit = keyAt(event);
    canvas.title = hit ? `${hit.key} — ${STEP_STATUSES[hit.code]}` : "";
  });
  canvas.addEventListener("click", (event) => {
    if (!active) return;
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
    setActive(on) {
      active = on;
      layout = null;  // the other grid drew on the canvas: the next render starts afresh
      if (on) render(true);
    },
    render,
    renderLegend,
  };
}
