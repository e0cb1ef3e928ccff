// Re-execution from the run page: failed keys (FROM_FAILURE), selected keys (SELECTED) or all (ALL).
// Each first shows the plan (steps that run, outputs reused), then launches and opens the new run.

import { clear, h } from "./dom.js";
import { formatCount } from "./format.js";
import { graphql } from "./graphql.js";

const PREVIEW = `mutation Preview($parentRunId: ID!, $strategy: ReexecutionStrategy!, $stepKeys: [String!]) {
  previewReexecution(parentRunId: $parentRunId, strategy: $strategy, stepKeys: $stepKeys) {
    __typename ... on ReexecutionPlan { toExecute reused }
    ... on RunNotFoundError { message } ... on InvalidStepKeyError { message }
    ... on ReexecutionError { message } ... on PythonError { message } ... on UnauthorizedError { message } } }`;

const REEXECUTE = `mutation Reexecute($parentRunId: ID!, $strategy: ReexecutionStrategy!, $stepKeys: [String!]) {
  reexecuteRun(parentRunId: $parentRunId, strategy: $strategy, stepKeys: $stepKeys) {
    __typename ... on LaunchRunSuccess { run { id } }
    ... on RunConfigValidationInvalid { errors { path message } } ... on JobNotFoundError { message }
    ... on InvalidOpSelectionError { message }
    ... on RunNotFoundError { message } ... on InvalidStepKeyError { message }
    ... on ReexecutionError { message } ... on PythonError { message } ... on UnauthorizedError { message } } }`;

const TITLES = { FROM_FAILURE: "Re-execute failed keys", SELECTED: "Re-execute selected keys", ALL: "Re-execute all" };
const LIST_LIMIT = 500;

function keyList(keys, testid) {
  return h("ul.plan-list.mono", { "data-testid": testid }, keys.slice(0, LIST_LIMIT).map((key) =>
    h("li", { "data-step-key": key, text: key })),
  keys.length > LIST_LIMIT ? h("li.muted", { text: `… and ${formatCount(keys.length - LIST_LIMIT)} more` }) : null);
}

export function createReexecuteMenu(menu, dialog, { runId, selection }) {
  const content = dialog.querySelector("[data-role=content]");
  const confirm = dialog.querySelector("[data-testid=reexecute-confirm]");
  const selectedButton = menu.querySelector("[data-testid=reexecute-selected]");
  let pending = null;

  function showDialog() {
    if (!dialog.open) dialog.showModal();
  }

  async function preview(strategy) {
    const stepKeys = strategy === "SELECTED" ? selection.keys() : null;
    pending = { strategy, stepKeys };
    confirm.disabled = true;
    dialog.dataset.strategy = strategy;
    clear(content).append(h("p.muted", { text: "Planning…" }));
    dialog.querySelector("h2").textContent = TITLES[strategy];
    showDialog();
    try {
      const { previewReexecution: plan } = await graphql(PREVIEW, { parentRunId: runId, strategy, stepKeys });
      if (plan.__typename !== "ReexecutionPlan") {
        clear(content).append(h("p.error-text", { "data-testid": "reexecute-error", text: `✗ ${plan.message}` }));
        return;
      }
      dialog.dataset.toExecute = String(plan.toExecute.length);
      dialog.dataset.reused = String(plan.reused.length);
      clear(content).append(
        h("p.plan-summary", { "data-testid": "reexecute-summary" },
          h("strong", { text: `▶ ${formatCount(plan.toExecute.length)} step${plan.toExecute.length === 1 ? "" : "s"} will run` }),
          " · ",
          h("strong", { text: `♻ ${formatCount(plan.reused.length)} output${plan.reused.length === 1 ? "" : "s"} reused` }),
          " from this run"),
        h("h3", { text: "Steps that run" }), keyList(plan.toExecute, "reexecute-to-execute"),
        h("details", {}, h("summary", { text: `Reused steps (${formatCount(plan.reused.length)})` }),
          keyList(plan.reused, "reexecute-reused")),
        h("p.hint", { text: "op[?] stands for keys that are not yielded yet." }));
      confirm.disabled = false;
    } catch (error) {
      clear(content).append(h("p.error-text", { "data-testid": "reexecute-error", text: `✗ ${error.message}` }));
    }
  }

  async function launch() {
    if (!pending) return;
    confirm.disabled = true;
    confirm.textContent = "Launching…";
    try {
      const { reexecuteRun: result } = await graphql(REEXECUTE, { parentRunId: runId, ...pending });
      if (result.__typename === "LaunchRunSuccess") {
        location.assign(`/runs/${result.run.id}/`);
        return;
      }
      const message = result.message || (result.errors || []).map((error) => `${error.path}: ${error.message}`).join("; ");
      content.append(h("p.error-text", { "data-testid": "reexecute-error", text: `✗ ${message}` }));
    } catch (error) {
      content.append(h("p.error-text", { "data-testid": "reexecute-error", text: `✗ ${error.message}` }));
    }
    confirm.textContent = "Launch re-execution";
    confirm.disabled = false;
  }

  menu.querySelector("[data-testid=reexecute-failed]").addEventListener("click", () => preview("FROM_FAILURE"));
  selectedButton.addEventListener("click", () => preview("SELECTED"));
  menu.querySelector("[data-testid=reexecute-all]").addEventListener("click", () => preview("ALL"));
  confirm.addEventListener("click", launch);
  dialog.querySelector("[data-role=cancel]").addEventListener("click", () => dialog.close());

  function updateSelected() {
    selectedButton.disabled = selection.size === 0;
    selectedButton.querySelector("[data-role=count]").textContent = `(${selection.size})`;
  }
  selection.onChange(updateSelected);
  updateSelected();
}
