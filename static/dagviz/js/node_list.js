// The live counts of every op, as DOM elements (`node-<op>` with data-total, data-pending, ...):
// a mini progress bar and counts with icons; a click selects the op, a click on a count filters by it.

import { clear, h } from "./dom.js";
import { STAT_FIELD, STATUS_ICON, STATUS_LABEL, STEP_STATUSES, settledCount } from "./status.js";
import { KNOWN_SHARE, renderSegments } from "./status_bar.js";

const FIELDS = ["total", "pending", "running", "succeeded", "failed", "skipped", "reused", "canceled"];

// `open`: more keys may still come (an emitter runs), so an op is never shown as settled yet.
export function stateOf(stats, open = false) {
  if (!stats || !stats.total) return "";
  if (open && !stats.failed && !stats.canceled && !stats.running) return "";
  if (stats.failed) return "failed";
  if (stats.canceled) return "canceled";
  if (stats.running) return "running";
  if (stats.pending) return "";
  if (stats.reused && !stats.succeeded) return "reused";
  if (stats.skipped && !stats.succeeded) return "skipped";
  return "succeeded";
}

export function countsLine(stats, open = false) {
  if (!stats || !stats.total) return "no steps yet";
  const parts = [];
  for (const status of STEP_STATUSES) {
    const value = stats[STAT_FIELD[status]];
    if (value) parts.push(`${STATUS_ICON[status]}${value}`);
  }
  return `${parts.join(" ")} / ${open ? "≥" : ""}${stats.total}`;
}

export function createNodeList(list, nodes, { onSelect, onStatus }) {
  const items = new Map();
  clear(list);
  for (const node of nodes) {
    const counts = h("div.counts");
    const item = h("li.node-item", { "data-testid": `node-${node.name}`, "data-node": node.name },
      h("button.node-name.mono", { type: "button", text: node.isDynamicMapped ? `${node.name}${"[*]".repeat(node.mappingDepth)}` : node.name,
        title: "Show this op's keys" }),
      node.isDynamicMapped ? h("span.tag.tag-dynamic", { text: "⇉ mapped" }) : node.isDynamicCollect ? h("span.tag.tag-collect", { text: "⊕ collect" }) : null,
      h("div.mini-progress", { "aria-hidden": "true" }, h("span.mini-fill"), h("span.mini-unknown", { hidden: true })),
      counts);
    for (const field of FIELDS) item.dataset[field] = "0";
    items.set(node.name, { item, counts, fill: item.querySelector(".mini-fill"), tail: item.querySelector(".mini-unknown"),
      mapped: Boolean(node.isDynamicMapped), version: "" });
    list.append(item);
  }
  list.addEventListener("click", (event) => {
    const item = event.target.closest("[data-node]");
    if (!item) return;
    const status = event.target.closest("[data-count-status]")?.dataset.countStatus;
    if (status) onStatus(item.dataset.node, status);
    else onSelect(item.dataset.node);
  });

  return {
    select(name) {
      for (const [node, entry] of items) entry.item.classList.toggle("selected", node === name);
    },
    // `openEnded`: an emitter of the run is still running or waiting, so mapped ops may get more keys.
    render(statsByNode, { openEnded = false } = {}) {
      for (const [node, entry] of items) {
        const stats = statsByNode.get(node) || {};
        // A mapped op's total grows while an emitter still yields: "≥ n steps" and an unknown tail.
        const openTotal = Boolean(openEnded && entry.mapped);
        const version = FIELDS.map((field) => stats[field] || 0).join(",") + (openTotal ? "+" : "");
        if (version === entry.version) continue;
        entry.version = version;
        for (const field of FIELDS) entry.item.dataset[field] = String(stats[field] || 0);
        entry.item.dataset.totalKnown = String(!openTotal);
        const done = settledCount(stats);
        const share = openTotal ? KNOWN_SHARE : 1;
        entry.fill.style.width = stats.total ? `${(100 * share * done) / stats.total}%` : "0%";
        renderSegments(entry.fill, stats);
        entry.tail.hidden = !openTotal;
        entry.item.dataset.state = stateOf(stats, openTotal);
        clear(entry.counts);
        entry.counts.append(h("span.count-total", {
          text: `${openTotal ? "≥" : ""}${stats.total || 0} step${stats.total === 1 ? "" : "s"}`,
          title: openTotal ? "More keys may come: an emitter is still running" : null }));
        for (const status of STEP_STATUSES) {
          const value = stats[STAT_FIELD[status]] || 0;
          if (!value) continue;
          entry.counts.append(h("button.count", { type: "button", className: `count status-${status}`,
            "data-count-status": status, title: `Show the ${STATUS_LABEL[status]} keys`, text: `${value} ${STATUS_LABEL[status]}` }));
        }
      }
    },
  };
}
