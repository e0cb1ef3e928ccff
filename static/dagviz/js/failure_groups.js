// The Failures panel: a run's failed keys grouped by cause (Run.failureGroups, grouped in the database),
// one row per group with its error class, normalised message, count, sample keys and first/last time.
// A click on a row shows that group's keys (the page filters the key table and selects them); "Re-execute
// this group" previews and launches a re-execution of the group's keys and everything downstream.
// While the run goes on, the panel is re-read at most once a second when failures arrive.

import { clear, h } from "./dom.js";
import { formatClock, formatCount } from "./format.js";
import { graphql } from "./graphql.js";

const GROUPS = `query FailureGroups($id: ID!) { run(id: $id) {
  failureGroups(first: 50) { signature errorClass message count sampleKeys firstFailedAt lastFailedAt } } }`;

const GROUP_KEYS = `query FailureGroupKeys($id: ID!, $signature: String, $after: String) { run(id: $id) {
  steps(errorSignature: $signature, first: 1000, after: $after) {
    pageInfo { hasNextPage endCursor } edges { node { key } } } } }`;

const REFRESH_MS = 1000;

// Every failed step key of a group, in step order (pages of 1,000).
export async function failureGroupKeys(runId, signature) {
  const keys = [];
  let after = null;
  for (;;) {
    const { run } = await graphql(GROUP_KEYS, { id: runId, signature, after });
    keys.push(...run.steps.edges.map((edge) => edge.node.key));
    if (!run.steps.pageInfo.hasNextPage) return keys;
    after = run.steps.pageInfo.endCursor;
  }
}

export function createFailureGroups(panel, { runId, onShow, onReexecute, canReexecute }) {
  const list = panel.querySelector("[data-role=groups]");
  const summary = panel.querySelector("[data-role=summary]");
  let groups = [];
  let active = null;  // the signature of the group shown in the key table
  let lastLoad = 0;
  let timer = null;
  let loading = null;

  function row(group) {
    const reexecute = h("button.reexecute-group", {
      type: "button", "data-testid": "reexecute-group", disabled: !canReexecute(),
      title: canReexecute() ? "Re-run this group's keys and everything downstream (FROM_SELECTED)"
        : "Available once the run has finished",
      text: "↻ Re-execute this group",
    });
    reexecute.addEventListener("click", (event) => { event.stopPropagation(); onReexecute(group); });
    const element = h("li.failure-group", {
      "data-testid": "failure-group", "data-count": String(group.count), "data-signature": group.signature,
      tabindex: "0", role: "button", "aria-pressed": group.signature === active ? "true" : "false",
      title: "Show this group's keys in the table and select them",
    },
      h("div.fg-head", {},
        h("span.fg-count", { "data-role": "count", text: `✗ ${formatCount(group.count)}` }),
        h("strong.fg-class.mono", { text: group.errorClass || "Error" }),
        h("span.fg-message.mono", { text: group.message || "(no message)", title: group.message })),
      h("div.fg-detail.muted.small", {},
        h("span.fg-keys.mono", { "data-role": "sample-keys",
          text: `${group.sampleKeys.join(", ")}${group.count > group.sampleKeys.length ? ", …" : ""}` }),
        h("span.fg-times", { text: group.firstFailedAt === group.lastFailedAt ? formatClock(group.firstFailedAt)
          : `${formatClock(group.firstFailedAt)} – ${formatClock(group.lastFailedAt)}` })),
      reexecute);
    const show = () => {
      active = active === group.signature ? null : group.signature;  // a second click shows every key again
      render();
      onShow(active ? group : null);
    };
    element.addEventListener("click", show);
    element.addEventListener("keydown", (event) => {
      if (event.target === element && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); show(); }
    });
    return element;
  }

  function render() {
    const failed = groups.reduce((sum, group) => sum + group.count, 0);
    panel.hidden = groups.length === 0;
    panel.dataset.groups = String(groups.length);
    summary.textContent = groups.length
      ? `${formatCount(failed)} failed key${failed === 1 ? "" : "s"} in ${groups.length} group${groups.length === 1 ? "" : "s"}`
      : "No failures";
    clear(list).append(...groups.map(row));
  }

  async function load() {
    lastLoad = performance.now();
    const mine = (loading = graphql(GROUPS, { id: runId }));
    try {
      const { run } = await mine;
      if (mine !== loading) return;  // a newer read started meanwhile
      groups = run.failureGroups;
      if (active && !groups.some((group) => group.signature === active)) active = null;
      render();
    } catch (error) {
      summary.textContent = `Could not load failures: ${error.message}`;
    }
  }

  return {
    load,
    // Live: failures arrived; re-read at most once per REFRESH_MS.
    refreshSoon() {
      if (timer) return;
      const wait = Math.max(0, REFRESH_MS - (performance.now() - lastLoad));
      timer = setTimeout(() => { timer = null; load(); }, wait);
    },
    // The key table's filters changed elsewhere: no group is shown any more.
    clearActive() {
      if (!active) return;
      active = null;
      render();
    },
  };
}
