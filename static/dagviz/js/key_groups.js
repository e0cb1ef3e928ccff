// Keys of a nested fan-out grouped by outer key (the groups themselves are kept by step_index.js):
// the one line that sums a group up, shared by the key table's group rows and the status grid.

import { formatCount } from "./format.js";
import { STATUS_ICON, STEP_STATUSES } from "./status.js";

// Counts shown after a group's size, settled problems first: "10 ✓ 2 ✗".
const SUMMARY_ORDER = ["SUCCESS", "FAILURE", "CANCELED", "SKIPPED", "REUSED", "RUNNING", "PENDING"]
  .filter((status) => STEP_STATUSES.includes(status));

export function groupCounts(group) {
  return SUMMARY_ORDER.map((status) => [status, group.counts[STEP_STATUSES.indexOf(status)]])
    .filter(([, count]) => count > 0)
    .map(([status, count]) => `${formatCount(count)} ${STATUS_ICON[status]}`).join(" ");
}

// "eu — 12 keys: 10 ✓ 2 ✗"
export function groupSummary(group) {
  const size = group.indices.length;
  return `${group.outer} — ${formatCount(size)} key${size === 1 ? "" : "s"}: ${groupCounts(group)}`;
}
