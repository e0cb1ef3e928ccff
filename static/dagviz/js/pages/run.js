// The run page: wires the header, graph, op counts, status grid, key table, step drawer, timeline,
// re-execute menu and delete button to one live runUpdates subscription, rendered at most ~4 fps.

import { renderCollectOutlooks } from "../collect_outlook.js";
import { createDeleteRunButton } from "../delete_run.js";
import { pageData } from "../dom.js";
import { createFailureGroups, failureGroupKeys } from "../failure_groups.js";
import { createJobGraph } from "../job_graph.js";
import { createKeyTable } from "../key_table.js";
import { onReconnect, subscribe } from "../live.js";
import { countsLine, createNodeList, stateOf } from "../node_list.js";
import { createReexecuteMenu } from "../reexecute.js";
import { createRenderLoop } from "../render_loop.js";
import { createRunConfigPanel } from "../run_config_panel.js";
import { createRunHeader } from "../run_header.js";
import { createRunLog } from "../run_log.js";
import { readRunOutcome } from "../run_outcome.js";
import { createRunState } from "../run_state.js";
import { createSelection } from "../selection.js";
import { createStatusGrid } from "../status_grid.js";
import { createTileGrid } from "../status_tiles.js";
import { openEmitters } from "../status_bar.js";
import { createStepDrawer } from "../step_drawer.js";
import { isFinishedRun, STAT_FIELD, STEP_STATUSES } from "../status.js";
import { createStepIndex } from "../step_index.js";
import { createTimeline } from "../timeline.js";
import { createTimelineSample } from "../timeline_sample.js";
import { renderToleratedBadge } from "../tolerated_badge.js";

// `maxSteps` only for a big run, whose page reads its steps in pages and tiles rather than from updates.
const RUN_UPDATES = `subscription RunUpdates($runId: ID!, $maxSteps: Int) {
  runUpdates(runId: $runId, maxSteps: $maxSteps) {
    status cursor finished
    nodeStats { node total pending running succeeded failed skipped reused canceled }
    steps { key node mappingKeys status startedAt endedAt durationMs attemptCount error { message } }
  }
}`;

const { run, job } = pageData();
const nodes = job ? job.graph.nodes : run.nodeStats.map((entry) => ({
  name: entry.node, opName: entry.node, description: "", isDynamicMapped: entry.total > 1, isDynamicCollect: false,
  mappingDepth: entry.total > 1 ? 1 : 0, inputs: [], outputs: [],
}));
const nodeNames = new Set(nodes.map((node) => node.name));
// Ops with a dynamic output: while one runs (or waits) the run's total of steps is not known yet.
const emitters = nodes.filter((node) => node.outputs.some((output) => output.isDynamic)).map((node) => node.name);
// Ops mapped two or more deep: their keys are grouped by outer key in the key table and the grid.
const groupedNodes = new Set(nodes.filter((node) => node.mappingDepth > 1).map((node) => node.name));
const state = createRunState(run);
const selection = createSelection();
const $ = (selector) => document.querySelector(selector);

const loop = createRenderLoop(render, 250);
const stepIndex = createStepIndex(run.id, () => loop.schedule());
// A run with more steps than this is "large": the page never loads every step (no step index); the grid
// draws tiles, the key table pages through the server and the timeline draws a sample.
const fullIndexMax = Number($(".keys-panel").dataset.fullIndexMaxSteps) || Infinity;
const LIVE_STEPS_LARGE = 200;
// Uncapped, a fast big run's update outgrew the websocket's 1 MiB message limit and ended the subscription;
// an update that reaches this cap left changes out: the step index is read again (at most every few seconds).
const LIVE_STEPS_SMALL = 4000;
const RESYNC_MS = 5000;
let lastResync = -Infinity;
let large = false;
const sample = createTimelineSample(run.id, () => loop.schedule());
const timelineSource = { node: (name) => (large ? sample : stepIndex).node(name) };
const header = createRunHeader($(".run-head"), state, { emitters });
const deleteButton = createDeleteRunButton($("[data-testid=delete-run]"), $("[data-testid=delete-run-error]"), state);
let selectedNode = null;

let graph = null;  // drawn once Cytoscape is loaded, after the rest of the page is usable
const nodeList = createNodeList($("[data-testid=node-list]"), nodes, {
  onSelect: (name) => selectNode(name),
  onStatus: (name, status) => { selectNode(name); table.setFilters({ status }); },
});
const grid = createStatusGrid($("[data-testid=status-grid]"), {
  stepIndex, selection, onOpen: (key) => openStep(key), legend: $("[data-role=grid-legend]"), groupedNodes,
});
const tiles = createTileGrid($("[data-testid=status-grid]"), {
  runId: run.id, selection, onOpen: (key) => openStep(key), isLive: () => !state.finished,
  cellLimit: Math.min(1000, fullIndexMax), controls: $("[data-role=grid-zoom]"), hint: $("[data-role=grid-hint]"),
});
const table = createKeyTable($("[data-testid=key-table]"), {
  runId: run.id, stepIndex, selection, onOpen: (key) => openStep(key), groupedNodes, isLarge: () => large,
  knownTotal: (name) => (large ? state.stats.get(name)?.total ?? null : null),
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
  nodes, stepIndex: timelineSource, onOpen: (key) => openStep(key), countsOf: (name) => (large ? countsOf(name) : null),
  runTimes: () => ({ start: state.run.startedAt ? Date.parse(state.run.startedAt) : NaN,
    end: state.run.endedAt ? Date.parse(state.run.endedAt) : null }),
});
const reexecuteMenu = createReexecuteMenu($("[data-testid=reexecute-menu]"), $("[data-testid=reexecute-preview]"),
  { runId: run.id, selection });
const failures = createFailureGroups($("[data-testid=failure-groups]"), {
  runId: run.id, canReexecute: () => state.finished, onShow: (group) => showFailureGroup(group),
  onReexecute: (group) => reexecuteMenu.openPreview({
    strategy: "FROM_SELECTED", failureGroup: group.signature,
    title: `Re-execute ${group.count} ${group.errorClass} failure${group.count === 1 ? "" : "s"} and downstream`,
  }),
});
createRunConfigPanel($("[data-testid=run-config]"), { run, job });
const runLog = createRunLog($("[data-testid=run-log]"), {
  runId: run.id, onOpenStep: (key) => openStep(key), isLive: () => !state.finished,
});
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
  tiles.setNode(name);
  table.setNode(name);
  setUrl({ node: name });
  if (now) loop.flush();  // a click is answered at once; only live updates are coalesced
  else loop.schedule();
}

function openStep(key) {
  setUrl({ step: key });
  drawer.open(key);
}

// A failure group clicked in the Failures panel: its op's keys filtered to the group, and all of them
// selected (for "Re-execute selected keys"); null shows every key again and clears the selection.
let shownGroup = 0;
async function showFailureGroup(group) {
  const mine = ++shownGroup;
  if (!group) {  // the group was clicked again: undo what showing it did
    table.setFilters({});
    selection.clear();
    return;
  }
  const firstKey = group.sampleKeys[0] || "";
  const node = firstKey.includes("[") ? firstKey.slice(0, firstKey.indexOf("[")) : firstKey;
  if (node !== selectedNode) selectNode(node);
  table.setFilters({ status: "FAILURE", signature: group.signature });  // the status menu shows a filter is on
  try {
    const keys = await failureGroupKeys(run.id, group.signature);
    if (mine !== shownGroup) return;  // another group was clicked meanwhile
    selection.clear();
    selection.setMany(keys, true);
  } catch (error) {
    console.warn("failure group keys:", error.message);
  }
}

function render() {
  header.render();
  renderToleratedBadge($("[data-testid=tolerated-failures]"), state.run);
  deleteButton.render();
  const openEnded = !state.finished && openEmitters(emitters, state.stats).open;
  nodeList.render(state.stats, { openEnded });
  renderCollectOutlooks($("[data-testid=node-list]"), nodes, state.stats, state.finished);
  if (graph) {
    graph.cy.batch(() => {
      for (const node of nodes) {
        const stats = state.stats.get(node.name);
        const open = openEnded && node.isDynamicMapped;  // more keys may come: "≥" and no settled state yet
        graph.setState(node.name, countsLine(stats, open), stateOf(stats, open));
      }
    });
  }
  grid.renderLegend(state.stats.get(selectedNode));
  if (!large && state.totals().total > fullIndexMax) becomeLarge();  // a live run grew past the limit
  if (large) tiles.render(); else grid.render();
  table.render();
  timeline.render();
  if (!large) stepIndex.reconcile(state.stats);  // the grid and the timeline never stay short of the counts
}

// The node's counts per status in the order of STEP_STATUSES, from the live node stats.
function countsOf(name) {
  const stats = state.stats.get(name);
  return STEP_STATUSES.map((status) => (stats ? stats[STAT_FIELD[status]] || 0 : 0));
}

// Leave the full step index for tiles, pages and a sample (at the start, or when a live run grows past the limit).
function becomeLarge() {
  large = true;
  document.body.dataset.largeRun = "true";
  stepIndex.stop();
  grid.setActive(false);
  table.reload();
  // The key table's first page comes first (the server answers one query at a time): tiles and sample after it.
  table.ready().then(() => {
    tiles.setActive(true);
    sample.refresh(state.stats, true);
  });
  if (following) { following(); following = null; follow(); }  // again, with the live steps capped
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
  refreshRun(cursor).then(() => failures.load());  // once more at the end, with the final status
  table.reload();
  if (large) { tiles.refresh(true); sample.refresh(state.stats, true); } else stepIndex.reload();
  drawer.refresh();
}

let following = null;  // ends the runUpdates subscription
let hookedReconnect = false;
let failedSoFar = 0;

function follow() {
  following = subscribe(RUN_UPDATES, { runId: run.id, maxSteps: large ? LIVE_STEPS_LARGE : LIVE_STEPS_SMALL }, {
    next: ({ runUpdates: update }) => {
      const statusChanged = state.apply(update);
      if (!large && update.steps.length >= LIVE_STEPS_SMALL) {  // some changes were left out of this update
        table.refreshLive();
        if (performance.now() - lastResync > RESYNC_MS) { lastResync = performance.now(); stepIndex.resync(); }
      }
      stepIndex.apply(update.steps);
      const selectedTotal = state.stats.get(selectedNode)?.total;
      table.applySteps(update.steps, selectedTotal);
      drawer.applySteps(update.steps);
      runLog.notify();
      const failed = state.totals().failed;
      if (update.steps.some((step) => step.status === "FAILURE") || failed !== failedSoFar) failures.refreshSoon();
      failedSoFar = failed;
      if (large) {  // updates carry only some steps: what is in view is read again, at most once a second
        tiles.refresh();
        table.refreshLive();
        sample.refresh(state.stats);
      }
      if (update.finished) finish(update.cursor);
      else if (statusChanged) refreshRun();
      loop.schedule();
    },
    error: (error) => console.warn("runUpdates:", error.message),
  });
  if (hookedReconnect) return;
  hookedReconnect = true;
  onReconnect(() => {
    table.reload();
    if (large) tiles.refresh(true); else stepIndex.reload();
    refreshRun();
  });
}

// A pause that lets the browser paint and handle input between two start-up steps.
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

// Start: the op from the URL (or the first mapped op), the step from the URL, then live;
// the graph comes last, in its own task, so the page answers clicks before Cytoscape loads.
const params = new URLSearchParams(location.search);
if (state.totals().total > fullIndexMax) becomeLarge();
const firstMapped = nodes.find((node) => node.isDynamicMapped);
selectNode(params.get("node") && nodeNames.has(params.get("node")) ? params.get("node") : (firstMapped || nodes[0] || {}).name,
  { now: false });
if (params.get("step")) drawer.open(params.get("step"));
if (!state.finished) follow();
failures.load();
table.ready().then(() => {
  performance.mark("dagviz:interactive");
  document.body.dataset.ready = "true";
});
window.dagviz = { state, stepIndex, table, grid, tiles, graph: null, isLarge: () => large };
await nextTask();
graph = await createJobGraph($("[data-testid=graph-canvas]"), nodes, {
  toolbar: $(".graph-toolbar"), liveLine: "…", onSelect: (name) => selectNode(name),
});
window.dagviz.graph = graph;
graph.select(selectedNode);
loop.schedule();
await nextTask();
if (!large) stepIndex.load();
