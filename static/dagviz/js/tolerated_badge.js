// The "N tolerated failures" badge of a run that succeeded although some steps failed: tolerant
// collects (.collect(min_success_ratio=...)) ran on the keys that succeeded.

import { formatCount } from "./format.js";

export function renderToleratedBadge(badge, run) {
  const count = run.toleratedFailures || 0;
  if (badge.dataset.count === String(count) && badge.hidden === !count) return;
  badge.dataset.count = String(count);
  badge.hidden = !count;
  badge.textContent = `⚠ ${formatCount(count)} tolerated failure${count === 1 ? "" : "s"}`;
}
