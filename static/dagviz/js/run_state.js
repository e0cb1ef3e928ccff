// What the run page knows about the run: its fields and the step counts of every node, kept live.

import { isFinishedRun } from "./status.js";

export function createRunState(run) {
  const stats = new Map();
  for (const entry of run.nodeStats || []) stats.set(entry.node, entry);
  return {
    run: { ...run },
    stats,
    cursor: null,
    get finished() { return isFinishedRun(this.run.status); },
    // Applies one runUpdates message; true when the run's status changed.
    apply(update) {
      // The last update may still say STARTED (the worker ends the run just after its last
      // event); a status that is already final is never replaced by a running one.
      const status = isFinishedRun(this.run.status) && !isFinishedRun(update.status) ? this.run.status : update.status;
      const changed = status !== this.run.status;
      this.run.status = status;
      if (update.cursor) this.cursor = update.cursor;
      for (const entry of update.nodeStats || []) stats.set(entry.node, entry);
      return changed;
    },
    merge(fields) {
      Object.assign(this.run, fields);
      if (fields.nodeStats) for (const entry of fields.nodeStats) stats.set(entry.node, entry);
    },
    totals() {
      const sum = { total: 0, pending: 0, running: 0, succeeded: 0, failed: 0, skipped: 0, reused: 0, canceled: 0 };
      for (const entry of stats.values()) for (const field of Object.keys(sum)) sum[field] += entry[field] || 0;
      return sum;
    },
  };
}
