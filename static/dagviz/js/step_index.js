// Every step of the run in yield order, per node: key, status, start, end and page cursor.
//
// Loaded page by page (1,000 steps a query) in the background, then kept current from live
// updates. The status grid and the timeline draw from it; the key table uses its cursors to
// jump straight to any page of an unfiltered node.

import { graphql } from "./graphql.js";
import { STATUS_CODE } from "./status.js";

const PAGE = 1000;
const STEPS = `query StepIndex($id: ID!, $after: String, $first: Int) {
  run(id: $id) { steps(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { key node status startedAt endedAt } } } }
}`;

const TERMINAL = new Set([STATUS_CODE.SUCCESS, STATUS_CODE.FAILURE, STATUS_CODE.SKIPPED, STATUS_CODE.REUSED]);

function newEntry() {
  return { keys: [], codes: [], start: [], end: [], cursors: [], pos: new Map(), version: 0 };
}

export function createStepIndex(runId, onChange = () => {}) {
  let nodes = new Map();
  let generation = 0;
  let loading = false;
  let buffered = [];
  let complete = false;

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
    } else {
      // A buffered update may be older than the page that was read after it was sent.
      if (fromBuffer && TERMINAL.has(target.codes[index]) && !TERMINAL.has(code)) return;
      target.codes[index] = code;
      target.start[index] = start;
      target.end[index] = end;
      if (cursor) target.cursors[index] = cursor;
    }
    target.version += 1;
  }

  async function load() {
    const mine = ++generation;
    loading = true;
    complete = false;
    let after = null;
    try {
      for (;;) {
        const data = await graphql(STEPS, { id: runId, after, first: PAGE });
        if (mine !== generation) return;
        const connection = data.run.steps;
        for (const edge of connection.edges) put(edge.node, edge.cursor, false);
        onChange();
        if (!connection.pageInfo.hasNextPage) break;
        after = connection.pageInfo.endCursor;
      }
    } catch (error) {
      console.warn("step index:", error.message);
    }
    if (mine !== generation) return;
    loading = false;
    complete = true;
    for (const steps of buffered) for (const step of steps) put(step, null, true);
    buffered = [];
    onChange();
  }

  return {
    load,
    reload() {
      nodes = new Map();
      buffered = [];
      return load();
    },
    apply(steps) {
      if (!steps || !steps.length) return;
      if (loading) buffered.push(steps);
      else for (const step of steps) put(step, null, false);
    },
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
