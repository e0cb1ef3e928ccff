// Keeps the status and duration of run rows live: one runUpdates subscription per unfinished run shown.

import { formatDuration } from "./format.js";
import { subscribe } from "./live.js";
import { readRunOutcome } from "./run_outcome.js";
import { isFinishedRun, setStatusClass } from "./status.js";

const STATUS_ONLY = `subscription RunStatus($runId: ID!) { runUpdates(runId: $runId) { status cursor finished } }`;

export function keepRunRowsLive(root = document) {
  const rows = [...root.querySelectorAll("[data-live-run][data-run-id]")];
  const clocks = new Map();

  function setDuration(row, text) {
    const cell = row.querySelector("[data-role=duration]");
    if (cell) cell.textContent = text;
  }

  function showStatus(row, status) {
    row.dataset.status = status;
    for (const badge of row.querySelectorAll("[data-role=status]")) {
      badge.textContent = status;
      setStatusClass(badge, status);
    }
  }

  const reads = new Map();  // row -> number of its latest read: only that one is shown
  async function refreshTimes(row, runId, cursor) {
    const mine = (reads.get(row) || 0) + 1;
    reads.set(row, mine);
    try {
      const run = await readRunOutcome(runId, cursor);
      if (!run || reads.get(row) !== mine) return;
      if (isFinishedRun(row.dataset.status) && !isFinishedRun(run.status)) return;
      showStatus(row, run.status);
      const started = row.querySelector("[data-role=started]");
      if (started && run.startedAt) started.textContent = new Date(run.startedAt).toISOString().slice(0, 19).replace("T", " ");
      if (run.startedAt && !isFinishedRun(run.status)) clocks.set(row, Date.parse(run.startedAt));
      else clocks.delete(row);
      setDuration(row, run.durationMs === null ? "" : formatDuration(run.durationMs));
    } catch { /* the row keeps its last values */ }
  }

  for (const row of rows) {
    const runId = row.dataset.runId;
    const cell = row.querySelector("[data-role=duration][data-started-at]");
    if (cell) clocks.set(row, Date.parse(cell.dataset.startedAt));
    let lastStatus = row.dataset.status;
    subscribe(STATUS_ONLY, { runId }, {
      next: ({ runUpdates }) => {
        const status = runUpdates.status;
        if (status === lastStatus && !runUpdates.finished) return;
        lastStatus = status;
        if (!(isFinishedRun(row.dataset.status) && !isFinishedRun(status))) showStatus(row, status);
        refreshTimes(row, runId, runUpdates.finished ? runUpdates.cursor : null);
      },
    });
  }

  if (rows.length) {
    setInterval(() => {
      const now = Date.now();
      for (const [row, started] of clocks) setDuration(row, formatDuration(now - started));
    }, 1000);
  }
}
