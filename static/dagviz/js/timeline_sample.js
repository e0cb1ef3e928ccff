// A sample of a big run's steps for the timeline, in place of the full step index: for each node, its
// first keys and short runs of keys spread evenly over the run's yield order, read in one request per
// node. The timeline draws each op's bar from the sample's times and its counts from the node stats.

import { graphql } from "./graphql.js";
import { STATUS_CODE } from "./status.js";

const WINDOWS = 12;        // runs of keys per node (aliases of one request, within the query's token limit)
const PER_WINDOW = 40;     // keys per run: about 480 keys per node at most
const SMALL_NODE = 200;    // a node with at most this many steps is read whole
const REFRESH_MS = 5000;

const FIELDS = "edges { node { key status startedAt endedAt } }";

function emptyEntry() {
  return { keys: [], codes: [], start: [], end: [] };
}

// Literal arguments and one fragment: each window costs a few tokens of the query's limit.
function windowsQuery(node, afters) {
  const parts = afters.map((after, w) => `w${w}: steps(node: ${JSON.stringify(node)}, after: ${JSON.stringify(after)}, `
    + `first: ${PER_WINDOW}) { ...S }`);
  return `query TimelineSample($id: ID!) { run(id: $id) { ${parts.join(" ")} } } fragment S on StepConnection { ${FIELDS} }`;
}

export function createTimelineSample(runId, onChange = () => {}) {
  let entries = new Map();
  let loading = false;
  let lastLoad = -Infinity;
  let timer = null;
  let again = false;  // asked for while a read was in flight: read once more after it

  async function readNode(name, total, runSteps) {
    if (total <= SMALL_NODE) {
      const data = await graphql(`query TimelineNode($id: ID!, $node: String!) { run(id: $id) {
        w0: steps(node: $node, first: ${SMALL_NODE}) { ${FIELDS} } } }`, { id: runId, node: name });
      return [data.run.w0];
    }
    // Steps are numbered as they are created (dense over the run), so cursors spread over the run's orders
    // land at keys spread over the node's yield order.
    const afters = Array.from({ length: WINDOWS }, (_, w) => String(Math.floor((w * runSteps) / WINDOWS) - 1));
    const data = await graphql(windowsQuery(name, afters), { id: runId });
    return Array.from({ length: WINDOWS }, (_, w) => data.run[`w${w}`]);
  }

  async function load(stats) {
    loading = true;
    lastLoad = performance.now();
    try {
      let runSteps = 0;
      for (const entry of stats.values()) runSteps += entry.total || 0;
      const next = new Map();
      for (const [name, entry] of stats) {
        const target = emptyEntry();
        const seen = new Set();
        if (entry.total) {
          for (const connection of await readNode(name, entry.total, runSteps)) {
            for (const { node: step } of connection.edges) {
              if (seen.has(step.key)) continue;
              seen.add(step.key);
              target.keys.push(step.key);
              target.codes.push(STATUS_CODE[step.status] ?? 0);
              target.start.push(step.startedAt ? Date.parse(step.startedAt) : NaN);
              target.end.push(step.endedAt ? Date.parse(step.endedAt) : NaN);
            }
          }
        }
        next.set(name, target);
      }
      entries = next;
      onChange();
    } catch (error) {
      console.warn("timeline sample:", error.message);
    } finally {
      loading = false;
      if (again) { again = false; load(stats); }
    }
  }

  return {
    node: (name) => entries.get(name) || emptyEntry(),
    // Read the sample again, at most every few seconds (at once with `now`, e.g. when the run ended).
    refresh(stats, now = false) {
      if (loading) { again = again || now; return; }
      const wait = now ? 0 : REFRESH_MS - (performance.now() - lastLoad);
      if (wait <= 0) { clearTimeout(timer); timer = null; load(stats); return; }
      if (!timer) timer = setTimeout(() => { timer = null; load(stats); }, wait);
    },
  };
}
