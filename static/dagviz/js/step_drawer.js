// The step drawer: one step's status, attempts with times, live logs, error with stack trace,
// metadata, output preview, and links to the steps around it.

import { add, clear, h } from "./dom.js";
import { formatClock, formatDuration } from "./format.js";
import { graphql } from "./graphql.js";
import { subscribe } from "./live.js";
import { metadataTable } from "./step_metadata.js";
import { relatedSteps } from "./step_links.js";

const STEP = `query Step($id: ID!, $key: String!, $after: String) {
  run(id: $id) { step(key: $key) {
    key node mappingKeys status startedAt endedAt durationMs attemptCount skipReason outputPreview
    attempts { number status startedAt endedAt error { message className stack } }
    error { message className stack }
    metadata { label value source outputName mappingKey }
    logs(first: 1000, after: $after) { pageInfo { hasNextPage endCursor } edges { node { cursor timestamp level message } } }
  } }
}`;

const EVENTS = `subscription StepEvents($runId: ID!, $after: String) {
  runEvents(runId: $runId, after: $after) { cursor timestamp kind stepKey message payload }
}`;

export function createStepDrawer(drawer, { runId, nodes, isLive, latestCursor, onNavigate, onClose = () => {} }) {
  const title = drawer.querySelector("[data-role=title]");
  const body = drawer.querySelector("[data-role=body]");
  let key = null;
  let step = null;
  let logs = [];
  let logCursors = new Set();
  let unsubscribe = null;
  let refreshTimer = null;
  let generation = 0;

  drawer.querySelector("[data-role=close]").addEventListener("click", () => close());
  document.addEventListener("keydown", (event) => { if (event.key === "Escape" && !drawer.hidden) close(); });

  function addLogs(entries) {
    for (const entry of entries) {
      if (logCursors.has(entry.cursor)) continue;
      logCursors.add(entry.cursor);
      logs.push(entry);
    }
    logs.sort((a, b) => Number(a.cursor) - Number(b.cursor));
  }

  async function fetchStep() {
    const mine = generation;
    const data = await graphql(STEP, { id: runId, key, after: null });
    if (mine !== generation) return;
    step = data.run && data.run.step;
    if (step) addLogs(step.logs.edges.map((edge) => edge.node));
    render();
  }

  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => { refreshTimer = null; if (key) fetchStep().catch(() => {}); }, 300);
  }

  function follow() {
    if (unsubscribe) unsubscribe();
    unsubscribe = null;
    if (!isLive()) return;
    const last = logs.length ? logs[logs.length - 1].cursor : null;
    const after = [latestCursor(), last].filter(Boolean).map(Number).reduce((a, b) => Math.max(a, b), 0);
    const watched = key;
    unsubscribe = subscribe(EVENTS, { runId, after: after ? String(after) : null }, {
      next: ({ runEvents: event }, variables) => {
        variables.after = event.cursor;  // resume here after a reconnect
        if (event.stepKey !== watched || watched !== key) return;
        if (event.kind === "LOG") {
          const payload = typeof event.payload === "string" ? JSON.parse(event.payload || "{}") : event.payload || {};
          addLogs([{ cursor: event.cursor, timestamp: event.timestamp, level: payload.level || "INFO", message: event.message }]);
          renderLogs();
        } else {
          refreshSoon();
        }
      },
    });
  }

  function section(label, testid, ...content) {
    return h("section.drawer-section", testid ? { "data-testid": testid } : {}, h("h3", { text: label }), ...content);
  }

  let logList = null;
  function renderLogs() {
    if (!logList) return;
    clear(logList);
    if (!logs.length) logList.append(h("li.muted", { text: step && step.status === "RUNNING" ? "No logs yet (live)." : "No logs." }));
    for (const entry of logs) {
      logList.append(h(`li.log.level-${entry.level}`, {},
        h("time", { text: formatClock(entry.timestamp) }), h("span.level", { text: entry.level }),
        h("span.message", { text: entry.message })));
    }
  }

  function render() {
    clear(body);
    title.textContent = key;
    drawer.dataset.stepKey = key;
    if (!step) {
      body.append(h("p.muted", { text: "This step does not exist (yet)." }));
      return;
    }
    drawer.dataset.status = step.status;
    const links = relatedSteps(step, nodes);
    add(body,
      h("p.step-status", {}, h("span.status", { className: `status status-${step.status}`, "data-testid": "step-status", text: step.status }),
        step.skipReason ? h("span.muted", { text: ` ${step.skipReason}` }) : null),
      h("dl.facts", {},
        h("dt", { text: "Op" }), h("dd.mono", { text: step.node }),
        h("dt", { text: "Mapping keys" }), h("dd.mono", { "data-testid": "step-mapping-keys",
          text: step.mappingKeys.length ? step.mappingKeys.join(" › ") : "none (not mapped)" }),
        h("dt", { text: "Started" }), h("dd", { text: formatClock(step.startedAt) }),
        h("dt", { text: "Ended" }), h("dd", { text: formatClock(step.endedAt) }),
        h("dt", { text: "Duration" }), h("dd", { text: formatDuration(step.durationMs) }),
        h("dt", { text: "Attempts" }), h("dd", { text: String(step.attemptCount) })),
      links.length ? section("Related steps", "step-related", h("ul.related", {}, links.map((link) =>
        h("li", {}, h("span.muted", { text: `${link.label} ` }),
          h("button.link.mono", { type: "button", "data-testid": "step-link",
            text: link.key || `${link.prefix}…]`, onclick: () => onNavigate(link) }))))) : null,
    );
    if (step.attempts.length) {
      body.append(section("Attempts", "step-attempts", h("table.table.compact", {},
        h("thead", {}, h("tr", {}, ["#", "status", "started", "ended", "error"].map((name) => h("th", { text: name })))),
        h("tbody", {}, step.attempts.map((attempt) => h("tr", {},
          h("td", { text: String(attempt.number) }),
          h("td", {}, h("span", { className: `status status-${attempt.status}`, text: attempt.status })),
          h("td", { text: formatClock(attempt.startedAt) }), h("td", { text: formatClock(attempt.endedAt) }),
          h("td.error-text", { text: attempt.error ? attempt.error.message : "" })))))));
    }
    if (step.error) {
      body.append(h("section.drawer-section.step-error", { "data-testid": "step-error" },
        h("h3", { text: "✗ Error" }),
        h("p.error-message", {}, step.error.className ? h("strong", { text: `${step.error.className}: ` }) : null, step.error.message),
        step.error.stack ? h("pre.stack", { text: step.error.stack }) : null));
    }
    body.append(section("Metadata", "step-metadata", metadataTable(step.metadata)));
    logList = h("ol.logs");
    body.append(section("Logs", null, h("div", { "data-testid": "step-logs", className: "logs-box" }, logList)));
    renderLogs();
    add(body, section("Output preview", null, step.outputPreview
      ? h("pre.preview", { "data-testid": "step-output", text: step.outputPreview })
      : h("p.muted", { "data-testid": "step-output", text: "No output." })));
  }

  function close() {
    generation += 1;
    if (unsubscribe) unsubscribe();
    unsubscribe = null;
    drawer.hidden = true;
    document.body.classList.remove("drawer-open");
    key = null;
    onClose();
  }

  return {
    async open(stepKey) {
      generation += 1;
      key = stepKey;
      step = null;
      logs = [];
      logCursors = new Set();
      drawer.hidden = false;
      document.body.classList.add("drawer-open");
      title.textContent = stepKey;
      clear(body).append(h("p.muted", { text: "Loading…" }));
      try {
        await fetchStep();
        follow();
      } catch (error) {
        clear(body).append(h("p.error-text", { text: `Could not load ${stepKey}: ${error.message}` }));
      }
    },
    close,
    get key() { return key; },
    // Live step changes (runUpdates): refresh the open step when it changed.
    applySteps(steps) {
      if (key && steps.some((item) => item.key === key)) refreshSoon();
    },
    refresh() { if (key) { fetchStep().catch(() => {}); if (!isLive() && unsubscribe) { unsubscribe(); unsubscribe = null; } } },
  };
}
