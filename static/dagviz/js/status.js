// Statuses of runs and steps: their order, text and icon, so status is never shown by colour alone.

// CANCELED (a step that was running when its run was terminated) comes last, so the older codes keep their numbers.
export const STEP_STATUSES = ["PENDING", "RUNNING", "SUCCESS", "FAILURE", "SKIPPED", "REUSED", "CANCELED"];

// nodeStats field for each step status
export const STAT_FIELD = {
  PENDING: "pending", RUNNING: "running", SUCCESS: "succeeded",
  FAILURE: "failed", SKIPPED: "skipped", REUSED: "reused", CANCELED: "canceled",
};

export const STATUS_ICON = {
  QUEUED: "…", STARTING: "◔", STARTED: "▶", CANCELING: "■", CANCELED: "■",
  PENDING: "○", RUNNING: "▶", SUCCESS: "✓", FAILURE: "✗", SKIPPED: "⤼", REUSED: "♻",
};

export const STATUS_LABEL = {
  PENDING: "pending", RUNNING: "running", SUCCESS: "succeeded",
  FAILURE: "failed", SKIPPED: "skipped", REUSED: "reused", CANCELED: "canceled",
};

// Colours for canvas drawings; CSS uses the same values through .status-* classes.
export const STATUS_COLOR = {
  PENDING: "#c9ced6", RUNNING: "#3b82f6", SUCCESS: "#2e9e5b", FAILURE: "#d9383a",
  SKIPPED: "#a78b5b", REUSED: "#8b6fd6", CANCELED: "#e39a26",
};

// nodeStats fields of the steps that have settled (a progress bar counts them as done)
export const SETTLED_FIELDS = ["succeeded", "failed", "skipped", "reused", "canceled"];

export function settledCount(stats) {
  return SETTLED_FIELDS.reduce((sum, field) => sum + ((stats && stats[field]) || 0), 0);
}

export const STATUS_CODE = Object.fromEntries(STEP_STATUSES.map((status, index) => [status, index]));

export const FINISHED_RUN = new Set(["SUCCESS", "FAILURE", "CANCELED"]);

export function isFinishedRun(status) {
  return FINISHED_RUN.has(status);
}

export function setStatusClass(element, status) {
  for (const name of [...element.classList]) if (name.startsWith("status-")) element.classList.remove(name);
  element.classList.add("status", `status-${status}`);
}
