// Re-execution from the run page: failed keys (FROM_FAILURE), exactly the selected keys (SELECTED), the
// selected keys and everything downstream (FROM_SELECTED) or all (ALL). Each first shows the plan (the
// steps that run, grouped by the reason they run, and the outputs reused), then launches and opens the new run.

import { clear, h } from "./dom.js";
import { formatCount } from "./format.js";
import { graphql } from "./graphql.js";

const PREVIEW = `mutation Preview($parentRunId: ID!, $strategy: ReexecutionStrategy!, $stepKeys: [String!],
                                   $failureGroup: String) {
  previewReexecution(parentRunId: $parentRunId, strategy: $strategy, stepKeys: $stepKeys, failureGroup: $failureGroup) {
    __typename ... on ReexecutionPlan { toExecute reused steps { stepKey reason } }
    ... on RunNotFoundError { message } ... on InvalidStepKeyError { message }
    ... on ReexecutionError { message } ... on PythonError { message } ... on UnauthorizedError { message } } }`;

const REEXECUTE = `mutation Reexecute($parentRunId: ID!, $strategy: ReexecutionStrategy!, $stepKeys: [String!],
                                     $failureGroup: String) {
  reexecuteRun(parentRunId: $parentRunId, strategy: $strategy, stepKeys: $stepKeys, failureGroup: $failureGroup) {
    __typename ... on LaunchRunSuccess { run { id } }
    ... on RunConfigValidationInvalid { errors { path message } } ... on JobNotFoundError { message }
    ... on InvalidOpSelectionError { message }
    ... on RunNotFoundError { message } ... on InvalidStepKeyError { message }
    ... on ReexecutionError { message } ... on PythonError { message } ... on UnauthorizedError { message } } }`;

const TITLES = {
  FROM_FAILURE: "Re-execute failed keys", SELECTED: "Re-execute selected keys",
  FROM_SELECTED: "Re-execute from selected keys", ALL: "Re-execute all",
};
const WITH_SELECTION = new Set(["SELECTED", "FROM_SELECTED"]);
const LIST_LIMIT = 500;
const GROUP_LIMIT = 200;  // keys listed per reason; the rest are counted ("… and N more")
const REUSED = "reused from parent";

function keyList(keys, testid) {
  return h("ul.plan-list.mono", { "data-testid": testid }, keys.slice(0, LIST_LIMIT).map((key) =>
    h("li", { "data-step-key": key, text: key })),
  keys.length > LIST_LIMIT ? h("li.muted", { text: `… and ${formatCount(keys.length - LIST_LIMIT)} more` }) : null);
}

// The steps that run, one group per reason ("selected", "failed in parent", ...) in the order the
// reasons first appear, each with its count and at most GROUP_LIMIT keys.
function reasonGroups(steps) {
  const groups = new Map();
  for (const step of steps) {
    if (step.reason === REUSED) continue;
    if (!groups.has(step.reason)) groups.set(step.reason, []);
    groups.get(step.reason).push(step.stepKey);
  }
  return h("div.plan-groups", { "data-testid": "reexecute-to-execute" }, [...groups].map(([reason, keys]) =>
    h("section.plan-group", { "data-testid": "reexecute-reason", "data-reason": reason, "data-count": String(keys.length) },
      h("h4", {}, h("span.plan-reason", { text: reason }), " ", h("span.muted", { text: `(${formatCount(keys.length)})` })),
      h("ul.plan-list.mono", {}, keys.slice(0, GROUP_LIMIT).map((key) =>
        h("li", { "data-step-key": key, "data-reason": reason, text: key })),
      keys.length > GROUP_LIMIT ? h("li.muted", { text: `… and ${formatCount(keys.length - GROUP_LIMIT)} more` }) : null))));
}

export function createReexecuteMenu(menu, dialog, { runId, selection }) {
  const content = dialog.querySelector("[data-role=content]");
  const confirm = dialog.querySelector("[data-testid=reexecute-confirm]");
  const selectedButton = menu.querySelector("[data-testid=reexecute-selected]");
  const fromSelectedButton = menu.querySelector("[data-testid=reexecute-from-selected]");
  let pending = null;

  function showDialog() {
    if (!dialog.open) dialog.showModal();
  }

  // `failureGroup` (a signature) stands for that group's failed keys, resolved by the server.
  async function preview(strategy, { stepKeys = undefined, failureGroup = null, title = null } = {}) {
    if (stepKeys === undefined) stepKeys = WITH_SELECTION.has(strategy) && !failureGroup ? selection.keys() : null;
    pending = { strategy, stepKeys, failureGroup };
    confirm.disabled = true;
    dialog.dataset.strategy = strategy;
    clear(content).append(h("p.muted", { text: "Planning…" }));
    dialog.querySelector("h2").textContent = title || TITLES[strategy];
    showDialog();
    try {
      const { previewReexecution: plan } = await graphql(PREVIEW, { parentRunId: runId, ...pending });
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
        h("h3", { text: "Steps that run, by reason" }), reasonGroups(plan.steps),
        h("details", {}, h("summary", { text: `Reused steps (${formatCount(plan.reused.length)}): ${REUSED}` }),
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
  fromSelectedButton.addEventListener("click", () => preview("FROM_SELECTED"));
  menu.querySelector("[data-testid=reexecute-all]").addEventListener("click", () => preview("ALL"));
  confirm.addEventListener("click", launch);
  dialog.querySelector("[data-role=cancel]").addEventListener("click", () => dialog.close());

  function updateSelected() {
    for (const button of [selectedButton, fromSelectedButton]) {
      button.disabled = selection.size === 0;
      button.querySelector("[data-role=count]").textContent = `(${selection.size})`;
    }
  }
  selection.onChange(updateSelected);
  updateSelected();

  // For other parts of the page (the Failures panel): the same preview, then launch, with given options.
  return {
    openPreview: ({ strategy, stepKeys, failureGroup, title } = {}) => preview(strategy, { stepKeys, failureGroup, title }),
  };
}
