// The run page header: status, duration, progress of steps done / total, Terminate, lineage.

import { clear, h } from "./dom.js";
import { formatCount, formatDuration, shortId } from "./format.js";
import { graphql } from "./graphql.js";
import { isFinishedRun, setStatusClass, settledCount } from "./status.js";
import { KNOWN_SHARE, openEmitters, renderSegments } from "./status_bar.js";

const TERMINATE = `mutation Terminate($runId: ID!) { terminateRun(runId: $runId) {
  __typename ... on TerminateRunSuccess { run { status } } ... on TerminateRunFailure { message } ... on RunNotFoundError { message }
  ... on UnauthorizedError { message } } }`;

// `emitters`: the ops with a dynamic output, whose running means more steps may come.
export function createRunHeader(root, state, { emitters = [] } = {}) {
  const statusBadge = root.querySelector("[data-testid=run-status]");
  const duration = root.querySelector("[data-testid=run-duration]");
  const progress = root.querySelector("[data-testid=progress]");
  const fill = progress.querySelector(".progress-fill");
  const progressText = progress.querySelector(".progress-text");
  const unknownTail = h("div.progress-unknown", { "data-role": "unknown-total", hidden: true });
  progress.querySelector(".progress-track").append(unknownTail);
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

  // Terminate asks first: it stops running steps (they end CANCELED) and cannot be undone.
  const confirmDialog = root.ownerDocument.querySelector("[data-testid=terminate-confirm-dialog]");
  terminate.addEventListener("click", () => {
    if (!confirmDialog.open) confirmDialog.showModal();
  });
  confirmDialog.querySelector("[data-role=cancel]").addEventListener("click", () => confirmDialog.close());
  confirmDialog.querySelector("[data-testid=terminate-confirm]").addEventListener("click", () => {
    confirmDialog.close();
    terminateRun();
  });

  async function terminateRun() {
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
  }

  function render() {
    const run = state.run;
    if (statusBadge.textContent !== run.status) {
      statusBadge.textContent = run.status;
      setStatusClass(statusBadge, run.status);
    }
    duration.textContent = formatDuration(durationMs());
    const totals = state.totals();
    const done = settledCount(totals);
    // While an emitter still yields keys the total only grows: the bar keeps an unknown tail and says ≥.
    const emitting = isFinishedRun(run.status) ? { open: false, running: [], waiting: [] } : openEmitters(emitters, state.stats);
    const share = emitting.open ? KNOWN_SHARE : 1;
    const percent = totals.total ? (100 * share * done) / totals.total : isFinishedRun(run.status) ? 100 : 0;
    fill.style.width = `${percent.toFixed(1)}%`;
    renderSegments(fill, totals);
    unknownTail.hidden = !emitting.open;
    fill.dataset.state = totals.failed ? "failed" : run.status === "CANCELED" || totals.canceled ? "canceled"
      : run.status === "SUCCESS" ? "done" : "running";
    const emitterNote = emitting.running.length ? "emitter running" : emitting.waiting.length ? "emitter not started" : "";
    const summary = emitting.open
      ? `${formatCount(done)} of ≥${formatCount(totals.total)} steps done, ${emitterNote}`
      : `${formatCount(done)} / ${formatCount(totals.total)} steps done`;
    progress.dataset.done = String(done);
    progress.dataset.total = String(totals.total);
    progress.dataset.totalKnown = String(!emitting.open);
    progress.title = emitting.open ? `The total is not known yet: ${[...emitting.running, ...emitting.waiting].join(", ")} may yield more keys` : "";
    // The values are the steps known so far; while the total is open, aria-valuetext (read instead of
    // them) says so, and the bar is busy.
    progress.setAttribute("aria-valuemax", String(totals.total));
    progress.setAttribute("aria-valuenow", String(done));
    if (emitting.open) progress.setAttribute("aria-busy", "true");
    else progress.removeAttribute("aria-busy");
    progress.setAttribute("aria-valuetext", summary);
    progressText.textContent = summary
      + (totals.failed ? ` · ✗ ${formatCount(totals.failed)} failed` : "")
      + (totals.canceled ? ` · ■ ${formatCount(totals.canceled)} canceled` : "")
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
    const outcome = outcomeLine(run);
    if (outcome) { reason.hidden = false; reason.textContent = outcome; reason.dataset.status = run.status; }
    if (run.childRunIds && run.childRunIds.length && children.dataset.count !== String(run.childRunIds.length)) {
      children.dataset.count = String(run.childRunIds.length);
      clear(children).append(" ↻ Re-executed as ", ...run.childRunIds.flatMap((id, index) => [
        index ? ", " : "", h("a.mono", { href: `/runs/${id}/`, "data-testid": "child-run-link", text: shortId(id) })]));
    }
  }

  setInterval(() => { if (!isFinishedRun(state.run.status) && state.run.startedAt) duration.textContent = formatDuration(durationMs()); }, 1000);
  return { render };
}

// The line under the progress bar for a finished run: why it failed, or that (and by whom) it was canceled;
// a canceled run never reads as a failure.
function outcomeLine(run) {
  if (run.status === "CANCELED") {
    const by = run.terminatedBy ? ` by ${run.terminatedBy}` : "";
    const detail = run.failureReason && run.failureReason !== "The run was canceled." ? ` (${run.failureReason})` : "";
    return `■ Canceled: terminated${by}${detail}`;
  }
  return run.failureReason ? `✗ ${run.failureReason}` : "";
}
