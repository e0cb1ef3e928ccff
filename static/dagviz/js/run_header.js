// The run page header: status, duration, progress of steps done / total, Terminate, lineage.

import { clear, h } from "./dom.js";
import { formatCount, formatDuration, shortId } from "./format.js";
import { graphql } from "./graphql.js";
import { isFinishedRun, setStatusClass } from "./status.js";

const TERMINATE = `mutation Terminate($runId: ID!) { terminateRun(runId: $runId) {
  __typename ... on TerminateRunSuccess { run { status } } ... on TerminateRunFailure { message } ... on RunNotFoundError { message }
  ... on UnauthorizedError { message } } }`;

export function createRunHeader(root, state) {
  const statusBadge = root.querySelector("[data-testid=run-status]");
  const duration = root.querySelector("[data-testid=run-duration]");
  const progress = root.querySelector("[data-testid=progress]");
  const fill = progress.querySelector(".progress-fill");
  const progressText = progress.querySelector(".progress-text");
  const terminate = root.querySelector("[data-testid=terminate-button]");
  const menu = root.querySelector("[data-testid=reexecute-menu]");
  const reason = root.querySelector("[data-testid=failure-reason]");
  const children = root.querySelector("[data-role=children]");
  let terminating = false;

  function durationMs() {
    const run = state.run;
    if (!run.startedAt) return null;
    const end = run.endedAt ? Date.parse(run.endedAt) : isFinishedRun(run.status) ? null : Date.now();
    if (end === null) return run.durationMs;
    return end - Date.parse(run.startedAt);
  }

  terminate.addEventListener("click", async () => {
    terminating = true;
    terminate.disabled = true;
    terminate.textContent = "■ Terminating…";
    try {
      const { terminateRun } = await graphql(TERMINATE, { runId: state.run.id });
      if (terminateRun.__typename === "TerminateRunSuccess") state.run.status = terminateRun.run.status;
      else { reason.hidden = false; reason.textContent = terminateRun.message; }
    } catch (error) {
      reason.hidden = false;
      reason.textContent = `Terminate failed: ${error.message}`;
    }
    render();
  });

  function render() {
    const run = state.run;
    if (statusBadge.textContent !== run.status) {
      statusBadge.textContent = run.status;
      setStatusClass(statusBadge, run.status);
    }
    duration.textContent = formatDuration(durationMs());
    const totals = state.totals();
    const done = totals.succeeded + totals.failed + totals.skipped + totals.reused;
    const percent = totals.total ? (100 * done) / totals.total : isFinishedRun(run.status) ? 100 : 0;
    fill.style.width = `${percent.toFixed(1)}%`;
    fill.dataset.state = totals.failed ? "failed" : run.status === "SUCCESS" ? "done" : "running";
    progress.setAttribute("aria-valuemax", String(totals.total));
    progress.setAttribute("aria-valuenow", String(done));
    progress.dataset.done = String(done);
    progress.dataset.total = String(totals.total);
    progressText.textContent = `${formatCount(done)} / ${formatCount(totals.total)} steps done`
      + (totals.failed ? ` · ✗ ${formatCount(totals.failed)} failed` : "")
      + (totals.running ? ` · ▶ ${formatCount(totals.running)} running` : "");
    const finished = isFinishedRun(run.status);
    terminate.hidden = finished;
    if (!finished && run.status === "CANCELING") {
      terminate.disabled = true;
      terminate.textContent = "■ Terminating…";
    } else if (!terminating) {
      terminate.disabled = false;
    }
    menu.hidden = !finished;
    const failedButton = menu.querySelector("[data-testid=reexecute-failed]");
    failedButton.disabled = run.status === "SUCCESS";
    failedButton.title = run.status === "SUCCESS" ? "Nothing failed in this run" : "Re-run failed keys and what depends on them (FROM_FAILURE)";
    if (run.failureReason) { reason.hidden = false; reason.textContent = `✗ ${run.failureReason}`; }
    if (run.childRunIds && run.childRunIds.length && children.dataset.count !== String(run.childRunIds.length)) {
      children.dataset.count = String(run.childRunIds.length);
      clear(children).append(" ↻ Re-executed as ", ...run.childRunIds.flatMap((id, index) => [
        index ? ", " : "", h("a.mono", { href: `/runs/${id}/`, "data-testid": "child-run-link", text: shortId(id) })]));
    }
  }

  setInterval(() => { if (!isFinishedRun(state.run.status) && state.run.startedAt) duration.textContent = formatDuration(durationMs()); }, 1000);
  return { render };
}
