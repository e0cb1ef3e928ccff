// Progress bars that say what settled steps became: one segment per status, in that status's
// colour (status.js), so reused or skipped steps are never drawn as a green "succeeded" bar.

import { STAT_FIELD, STATUS_COLOR, STATUS_LABEL } from "./status.js";

// Settled statuses, in the order their segments are drawn.
const SEGMENT_STATUSES = ["SUCCESS", "REUSED", "SKIPPED", "FAILURE", "CANCELED"].filter((status) => STATUS_COLOR[status]);

// Fills `container` (a flex box) with one segment per settled status, sized by its count.
export function renderSegments(container, stats) {
  if (container.childElementCount !== SEGMENT_STATUSES.length) {
    container.replaceChildren(...SEGMENT_STATUSES.map((status) => {
      const segment = document.createElement("span");
      segment.className = "bar-segment";
      segment.dataset.status = status;
      segment.style.background = STATUS_COLOR[status];
      return segment;
    }));
  }
  SEGMENT_STATUSES.forEach((status, index) => {
    const count = (stats && stats[STAT_FIELD[status]]) || 0;
    const segment = container.children[index];
    segment.style.flexGrow = String(count);
    segment.hidden = count === 0;
    segment.title = `${count} ${STATUS_LABEL[status]}`;
  });
}

// Emitters (ops with a dynamic output) whose keys are not all yielded yet: running, or not started.
export function openEmitters(emitters, statsByNode) {
  const running = [];
  const waiting = [];
  for (const name of emitters) {
    const stats = statsByNode.get(name);
    if (!stats) continue;
    if (stats.running) running.push(name);
    else if (stats.pending) waiting.push(name);
  }
  return { running, waiting, open: running.length + waiting.length > 0 };
}

// Share of a bar given to the known part while the total is still open; the rest is the unknown tail.
export const KNOWN_SHARE = 0.8;
