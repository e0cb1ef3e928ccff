// What a collecting op that has not run yet is going to do, said while the keys it gathers still run.
//
// The engine settles a collect only once every key has, so the op stays PENDING until then; this
// says why it waits: a plain collect with a failed key will be skipped (certain once a key has
// failed for good), a tolerant one (min_success_ratio) waits for every key and then decides.

import { formatCount } from "./format.js";

function collectInput(node) {
  return node.isDynamicCollect ? node.inputs.find((input) => input.kind === "COLLECT") : null;
}

export function collectOutlook(node, statsByNode) {
  const input = collectInput(node);
  const own = statsByNode.get(node.name);
  if (!input || (own && own.total && !own.pending)) return null;
  const upstream = statsByNode.get(input.fromNode) || {};
  const failed = (upstream.failed || 0) + (upstream.canceled || 0);
  const keys = `${formatCount(failed)} key${failed === 1 ? "" : "s"} of ${input.fromNode}`;
  if (input.minSuccessRatio != null) {
    const needed = `${Math.round(input.minSuccessRatio * 1000) / 10}%`;
    return { kind: "waits", text: `waits for every key, then runs if ≥${needed} succeeded${failed ? ` (${keys} failed so far)` : ""}` };
  }
  if (!failed) return null;
  return { kind: "will-skip", text: node.mappingDepth ? `will be skipped where ${keys} failed` : `will be skipped: ${keys} failed` };
}

// Shows each collect's outlook under its entry in the op list (`collect-outlook`), or nothing.
export function renderCollectOutlooks(list, nodes, statsByNode, runFinished) {
  for (const node of nodes) {
    if (!node.isDynamicCollect) continue;
    const item = list.querySelector(`[data-node="${CSS.escape(node.name)}"]`);
    if (!item) continue;
    const outlook = runFinished ? null : collectOutlook(node, statsByNode);
    let line = item.querySelector("[data-testid=collect-outlook]");
    if (!outlook) { if (line) line.remove(); continue; }
    if (!line) {
      line = document.createElement("div");
      line.className = "collect-outlook muted small";
      line.dataset.testid = "collect-outlook";
      item.append(line);
    }
    line.dataset.outlook = outlook.kind;
    if (line.textContent !== outlook.text) line.textContent = outlook.text;
  }
}
