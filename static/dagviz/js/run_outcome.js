// The fields of a run, read once when its live updates say it finished.
//
// The worker writes the RUN_FINISHED event just before it sets the run's final status, so the
// last update (and a read right after it) can still say STARTED; the event itself tells how the
// run ended, so the final status is taken from it when the run row is not final yet.

import { graphql } from "./graphql.js";
import { isFinishedRun } from "./status.js";

const OUTCOME = `query RunOutcome($id: ID!, $after: String) { run(id: $id) {
  status startedAt endedAt durationMs childRunIds failureReason terminatedBy toleratedFailures
  nodeStats { node total pending running succeeded failed skipped reused canceled }
  events(after: $after, first: 1000) { edges { node { kind timestamp payload } } } } }`;
const LOOK_BACK = 500;  // events before the last one seen, where RUN_FINISHED is searched
const RETRIES = [200, 400, 800, 1600, 3200];

function statusOf(payload) {
  const data = typeof payload === "string" ? JSON.parse(payload || "{}") : payload || {};
  if (data.canceled) return { status: "CANCELED", failureReason: null };
  if (data.success === false) return { status: "FAILURE", failureReason: data.failure_reason || null };
  return { status: "SUCCESS", failureReason: null, toleratedFailures: data.tolerated_failures || 0 };
}

async function readOnce(runId, cursor) {
  const after = cursor ? String(Math.max(0, Number(cursor) - LOOK_BACK)) : null;
  const { run } = await graphql(OUTCOME, { id: runId, after });
  if (!run) return null;
  const { events, ...fields } = run;
  if (isFinishedRun(fields.status) || !cursor) return fields;
  const finished = (events ? events.edges : []).map((edge) => edge.node).find((event) => event.kind === "RUN_FINISHED");
  if (!finished) return fields;
  const outcome = statusOf(finished.payload);
  const startedAt = fields.startedAt ? Date.parse(fields.startedAt) : null;
  return {
    ...fields, ...outcome,
    failureReason: fields.failureReason || outcome.failureReason,
    endedAt: finished.timestamp,
    durationMs: startedAt ? Date.parse(finished.timestamp) - startedAt : fields.durationMs,
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// `cursor`: the last event id the caller saw, when its live updates said the run finished
// (null otherwise). Then the final status is waited for a few times with backoff (the worker
// sets it right after RUN_FINISHED), never more: this confirms an end, it does not poll.
export async function readRunOutcome(runId, cursor = null) {
  let fields = await readOnce(runId, cursor);
  for (const wait of cursor ? RETRIES : []) {
    if (!fields || isFinishedRun(fields.status)) break;
    await sleep(wait);
    fields = await readOnce(runId, cursor);
  }
  return fields;
}
