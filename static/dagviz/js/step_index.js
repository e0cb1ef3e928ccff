// Every step of the run in yield order, per node: key, status, start, end and page cursor.
//
// Loaded page by page (1,000 steps a query) in the background, then kept current from live
// updates. The status grid and the timeline draw from it; the key table uses its cursors to
// jump straight to any page of an unfiltered node.

import { graphql } from "./graphql.js";
import { STATUS_CODE, STEP_STATUSES } from "./status.js";

const PAGE = 1000;
const STEPS = `query StepIndex($id: ID!, $after: String, $first: Int) {
  run(id: $id) { steps(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { key node status startedAt endedAt } } } }
}`;

const RETRY_MS = [300, 1000, 2000, 4000, 8000];
const CATCH_UP_MS = 1000;
const MAX_STALLS = 3;
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const TERMINAL = new Set([STATUS_CODE.SUCCESS, STATUS_CODE.FAILURE, STATUS_CODE.SKIPPED, STATUS_CODE.REUSED,
  STATUS_CODE.CANCELED]);

// groups: keys mapped two or more deep (`op[outer][inner]`) by outer key, in the order outer keys
// first appeared, each with its keys' indices and counts per status code; built as keys arrive.
function newEntry() {
  return { keys: [], codes: [], start: [], end: [], cursors: [], pos: new Map(), version: 0,
    groups: [], groupByOuter: new Map(), groupOf: [], slotOf: [] };
}

// The outer mapping key of a key mapped two or more deep (`score[eu][c1]` -> "eu"), else null.
export function outerKeyOf(key) {
  const open = key.indexOf("[");
  if (open < 0 || key.indexOf("][", open) < 0) return null;
  return key.slice(open + 1, key.indexOf("]", open));
}

function addToGroup(target, key, index, code) {
  const outer = outerKeyOf(key);
  if (outer === null) { target.groupOf.push(null); target.slotOf.push(-1); return; }
  let group = target.groupByOuter.get(outer);
  if (!group) {
    group = { outer, indices: [], counts: new Array(STEP_STATUSES.length).fill(0), ordinal: target.groups.length };
    target.groupByOuter.set(outer, group);
    target.groups.push(group);
  }
  target.slotOf.push(group.indices.length);
  group.indices.push(index);
  group.counts[code] += 1;
  target.groupOf.push(group);
}

export function createStepIndex(runId, onChange = () => {}) {
  let nodes = new Map();
  let generation = 0;
  let loading = false;
  let buffered = [];
  let complete = false;
  let tailCursor = null;   // the end of the last page read: catching up starts there
  let lastCatchUp = -Infinity;
  let catchUpTimer = null;
  let stalls = 0;          // catch-ups in a row that found nothing: the counts cannot be met, stop trying
  let stopped = false;     // a big run: the page reads tiles and pages instead, and holds no index

  function entry(node) {
    let found = nodes.get(node);
    if (!found) { found = newEntry(); nodes.set(node, found); }
    return found;
  }

  function put(step, cursor, fromBuffer) {
    const target = entry(step.node);
    const code = STATUS_CODE[step.status] ?? 0;
    const start = step.startedAt ? Date.parse(step.startedAt) : NaN;
    const end = step.endedAt ? Date.parse(step.endedAt) : NaN;
    let index = target.pos.get(step.key);
    if (index === undefined) {
      index = target.keys.length;
      target.pos.set(step.key, index);
      target.keys.push(step.key);
      target.codes.push(code);
      target.start.push(start);
      target.end.push(end);
      target.cursors.push(cursor ?? null);
      addToGroup(target, step.key, index, code);
      target.version += 1;
      return true;
    }
    // A buffered update may be older than the page that was read after it was sent.
    if (fromBuffer && TERMINAL.has(target.codes[index]) && !TERMINAL.has(code)) return false;
    const group = target.groupOf[index];
    if (group) { group.counts[target.codes[index]] -= 1; group.counts[code] += 1; }
    target.codes[index] = code;
    target.start[index] = start;
    target.end[index] = end;
    if (cursor) target.cursors[index] = cursor;
    target.version += 1;
    return false;
  }

  // Reads pages from `after` to the end. A failed page is read again (with a pause) instead of
  // ending the load: a partial index that called itself complete stayed short of keys (e.g. the
  // timeline at 6,998 of 10,000) until the page was reloaded. Live updates that arrive meanwhile
  // are buffered, since a page read after them may be older than they are.
  async function readPages(mine, after) {
    loading = true;
    let failures = 0;
    let added = 0;
    for (;;) {
      let data;
      try {
        data = await graphql(STEPS, { id: runId, after, first: PAGE });
      } catch (error) {
        if (mine !== generation) return null;
        console.warn("step index:", error.message);
        if (failures >= RETRY_MS.length) break;  // give up for now: `complete` stays false
        await pause(RETRY_MS[failures]);
        failures += 1;
        if (mine !== generation) return null;
        continue;
      }
      if (mine !== generation) return null;
      failures = 0;
      const connection = data.run.steps;
      for (const edge of connection.edges) added += put(edge.node, edge.cursor, false) ? 1 : 0;
      if (connection.pageInfo.endCursor) tailCursor = connection.pageInfo.endCursor;
      onChange();
      if (!connection.pageInfo.hasNextPage) { complete = true; break; }
      after = connection.pageInfo.endCursor;
    }
    loading = false;
    for (const steps of buffered) for (const step of steps) put(step, null, true);
    buffered = [];
    onChange();
    return added;
  }

  async function load() {
    if (stopped) return;
    const mine = ++generation;
    complete = false;
    tailCursor = null;
    stalls = 0;
    await readPages(mine, null);
  }

  // Steps created after the last page was read and changed before the live updates began are in
  // no update: read the steps after the last page when the counts say the index is behind.
  async function catchUp() {
    lastCatchUp = performance.now();
    const added = await readPages(generation, tailCursor);
    if (added === 0) stalls += 1;
    else if (added) stalls = 0;
  }

  function behind(stats) {
    for (const [name, entry] of stats) if ((entry.total || 0) > (nodes.get(name)?.keys.length || 0)) return true;
    return false;
  }

  return {
    load,
    reload() {
      if (stopped) return Promise.resolve();
      nodes = new Map();
      buffered = [];
      return load();
    },
    apply(steps) {
      if (stopped || !steps || !steps.length) return;
      if (loading) buffered.push(steps);
      else for (const step of steps) put(step, null, false);
    },
    // Called with the run's counts per node (each render): reads the missing steps, at most once a second.
    // A load that gave up (the server kept failing) goes on from where it stopped the same way.
    reconcile(stats) {
      if (stopped || !generation || loading || stalls >= MAX_STALLS || (complete && !behind(stats))) return;
      const wait = CATCH_UP_MS - (performance.now() - lastCatchUp);
      if (wait > 0) {
        if (!catchUpTimer) catchUpTimer = setTimeout(() => { catchUpTimer = null; onChange(); }, wait);
        return;
      }
      catchUp();
    },
    // Reads every page again over the keys held (no blink): after live updates that left some changes out.
    resync() {
      if (stopped || loading || !generation) return;
      readPages(generation, null);
    },
    // Drops every key and reads no more (a run that grew past the page's limit): reads in flight are ignored.
    stop() {
      stopped = true;
      generation += 1;
      loading = false;
      nodes = new Map();
      buffered = [];
      clearTimeout(catchUpTimer);
      catchUpTimer = null;
    },
    get stopped() { return stopped; },
    get complete() { return complete; },
    node: (name) => nodes.get(name) || newEntry(),
    nodes: () => nodes,
    // Cursor of the step at `index` of `node` (the `after` of the page that starts at index + 1).
    cursorAt(name, index) {
      const found = nodes.get(name);
      return found && index >= 0 && index < found.cursors.length ? found.cursors[index] : null;
    },
  };
}
