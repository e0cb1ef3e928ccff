// The run page: wires the header, graph, op counts, status grid, key table, step drawer, timeline,
// re-execute menu and delete button to one live runUpdates subscription, rendered at most ~4 fps.

import { createDeleteRunButton } from "../delete_run.js";
import { pageData } from "../dom.js";
import { createJobGraph } from "../job_graph.js";
import { createKeyTable } from "../key_table.js";
import { onReconnect, subscribe } from "../live.js";
import { countsLine, createNodeList, stateOf } from "../node_list.js";
import { createReexecuteMenu } from "../reexecute.js";
import { createRenderLoop } from "../render_loop.js";
import { createRunHeader } from "../run_header.js";
import { readRunOutcome } from "../run_outcome.js";
import { createRunState } from "../run_state.js";
import { createSelection } from "../selection.js";
import { createStatusGrid } from "../status_grid.js";
import { createStepDrawer } from "../step_drawer.js";
import { isFinishedRun } from "../status.js";
import { createStepIndex } from "../step_index.js";
import { createTimeline } from "../timeline.js";

const RUN_UPDATES = `subscription RunUpdates($runId: ID!) {
  runUpdates(runId: $runId) {
    status cursor finished
    nodeStats { node total pending running succeeded failed skipped reused }
    steps { key node mappingKeys status startedAt endedAt durationMs attemptCount error { message } }
  }
}`;

const { run, job } = pageData();
const nodes = job ? job.graph.nodes : run.nodeStats.map((entry) => ({
  name: entry.node, opName: entry.node, description: "", isDynamicMapped: entry.total > 1, isDynamicCollect: false,
  mappingDepth: entry.total > 1 ? 1 : 0, inputs: [], outputs: [],
}));
const nodeNames = new Set(nodes.map((node) => node.name));
const state = createRunState(run);
const selection = createSelection();
const $ = (selector) => document.querySelector(selector);

const loop = createRenderLoop(render, 250);
const stepIndex = createStepIndex(run.id, () => loop.schedule());
const header = createRunHeader($(".run-head"), state);
const deleteButton = createDeleteRunButton($("[data-testid=delete-run]"), $("[data-testid=delete-run-error]"), state);
let selectedNode = null;

let graph = null;  // drawn once Cytoscape is loaded, after the rest of the page is usable
const nodeList = createNodeList($("[data-testid=node-list]"), nodes, {
  onSelect: (name) => selectNode(name),
  onStatus: (name, status) => { selectNode(name); table.setFilters({ status }); },
});
const grid = createStatusGrid($("[data-testid=status-grid]"), {
  stepIndex, selection, onOpen: (key) => openStep(key), legend: $("[data-role=grid-legend]"),
});
const table = createKeyTable($("[data-testid=key-table]"), {
  runId: run.id, stepIndex, selection, onOpen: (key) => openStep(key),
});
const drawer = createStepDrawer($("[data-testid=step-drawer]"), {
  runId: run.id, nodes, isLive: () => !state.finished, latestCursor: () => state.cursor,
  onNavigate: (link) => {
    if (link.node && nodeNames.has(link.node)) selectNode(link.node);
    if (link.key) openStep(link.key);
    else if (link.prefix) table.setFilters({ key: link.prefix });
  },
  onClose: () => setUrl({ step: null }),
});
const timeline = createTimeline($("[data-testid=timeline]"), {
  nodes, stepIndex, onOpen: (key) => openStep(key),
  runTimes: () => ({ start: state.run.startedAt ? Date.parse(state.run.startedAt) : NaN,
    end: state.run.endedAt ? Date.parse(state.run.endedAt) : null }),
});
createReexecuteMenu($("[data-testid=reexecute-menu]"), $("[data-testid=reexecute-preview]"), { runId: run.id, selection });
selection.onChange(() => {
  $("[data-role=selection-info]").textContent = selection.size ? `${selection.size} selected for re-execution` : "";
  loop.schedule();
});

function setUrl(changes) {
  const url = new URL(location.href);
  for (const [name, value] of Object.entries(changes)) {
    if (value) url.searchParams.set(name, value); else url.searchParams.delete(name);
  }
  history.replaceState(null, "", url);
}

function selectNode(name, { now = true } = {}) {
  if (!nodeNames.has(name)) return;
  selectedNode = name;
  if (graph) graph.select(name);
  nodeList.select(name);
  $("[data-role=selected-node]").textContent = name;
  grid.setNode(name);
  table.setNode(name);
  setUrl({ node: name });
  if (now) loop.flush();  // a click is answered at once; only live updates are coalesced
  else loop.schedule();
}

function openStep(key) {
  setUrl({ step: key });
  drawer.open(key);
}

function render() {
  header.render();
  deleteButton.render();
  nodeList.render(state.stats);
  if (graph) {
    graph.cy.batch(() => {
      for (const node of nodes) {
        const stats = state.stats.get(node.name);
        graph.setState(node.name, countsLine(stats), stateOf(stats));
      }
    });
  }
  grid.renderLegend(state.stats.get(selectedNode));
  grid.render();
  table.render();
  timeline.render();
}

let refreshes = 0;
async function refreshRun(cursor = null) {
  const mine = ++refreshes;
  try {
    const fields = await readRunOutcome(run.id, cursor);
    // Only the latest read counts, and a finished run never goes back to running.
    if (fields && mine === refreshes && !(state.finished && !isFinishedRun(fields.status))) state.merge(fields);
  } catch { /* keep what we have; the next update tries again */ }
  loop.schedule();
}

function finish(cursor) {
  refreshRun(cursor);
  table.reload();
  stepIndex.reload();
  drawer.refresh();
}

function follow() {
  subscribe(RUN_UPDATES, { runId: run.id }, {
    next: ({ runUpdates: update }) => {
      const statusChanged = state.apply(update);
      stepIndex.apply(update.steps);
      const selectedTotal = state.stats.get(selectedNode)?.total;
      table.applySteps(update.steps, selectedTotal);
      drawer.applySteps(update.steps);
      if (update.finished) finish(update.cursor);
      else if (statusChanged) refreshRun();
      loop.schedule();
    },
    error: (error) => console.warn("runUpdates:", error.message),
  });
  onReconnect(() => { table.reload(); stepIndex.reload(); refreshRun(); });
}

// A pause that lets the browser paint and handle input between two start-up steps.
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

// Start: the op from the URL (or the first mapped op), the step from the URL, then live;
// the graph comes last, in its own task, so the page answers clicks before Cytoscape loads.
const params = new URLSearchParams(location.search);
const firstMapped = nodes.find((node) => node.isDynamicMapped);
selectNode(params.get("node") && nodeNames.has(params.get("node")) ? params.get("node") : (firstMapped || nodes[0] || {}).name,
  { now: false });
if (params.get("step")) drawer.open(params.get("step"));
if (!state.finished) follow();
table.ready().then(() => {
  performance.mark("dagviz:interactive");
  document.body.dataset.ready = "true";
});
window.dagviz = { state, stepIndex, table, graph: null };
await nextTask();
graph = await createJobGraph($("[data-testid=graph-canvas]"), nodes, {
  toolbar: $(".graph-toolbar"), liveLine: "…", onSelect: (name) => selectNode(name),
});
window.dagviz.graph = graph;
graph.select(selectedNode);
loop.schedule();
await nextTask();
stepIndex.load();
