// The launchpad: edit the run config as YAML (checked as you type), choose an executor and the ops
// to run (op selection), Launch.

import { describeType } from "../config_schema.js";
import { createConfigEditor } from "../config_editor.js";
import { clear, h, pageData } from "../dom.js";
import { graphql } from "../graphql.js";
import { jsonField } from "../json_field.js";
import { configToYaml, lineOfPath, parseYaml } from "../yaml_config.js";

const VALIDATE = `query Validate($jobName: String!, $runConfig: JSONString, $opSelection: [String!]) {
  validateRunConfig(jobName: $jobName, runConfig: $runConfig, opSelection: $opSelection) {
    __typename
    ... on RunConfigValidationInvalid { errors { path message reason } }
    ... on InvalidOpSelectionError { message }
    ... on JobNotFoundError { message }
  }
}`;

const LAUNCH = `mutation Launch($jobName: String!, $runConfig: JSONString, $executor: String, $opSelection: [String!]) {
  launchRun(jobName: $jobName, runConfig: $runConfig, executor: $executor, opSelection: $opSelection) {
    __typename
    ... on LaunchRunSuccess { run { id } }
    ... on RunConfigValidationInvalid { errors { path message reason } }
    ... on InvalidOpSelectionError { message }
    ... on JobNotFoundError { message }
    ... on PythonError { message className }
    ... on UnauthorizedError { message }
  }
}`;

const { job } = pageData();
const schema = jsonField(job.configSchema);
const defaults = jsonField(job.defaultRunConfig);
const executors = Object.keys(schema?.fields?.execution?.fields || {});
const defaultText = `${configToYaml(defaults, schema)}\n${executors.length
  ? `# execution: one of ${executors.map((name) => `${name}: {...}`).join(", ")} (e.g. multiprocess: {max_concurrent: 2})\n` : ""}`;

const editor = createConfigEditor(document.querySelector("[data-testid=config-editor]"), document.querySelector(".editor-gutter"));
const errorsBox = document.querySelector("[data-testid=config-errors]");
const validity = document.querySelector("[data-testid=config-validity]");
const launchButton = document.querySelector("[data-testid=launch-button]");
const executorSelect = document.querySelector("[data-testid=executor-select]");
const opSelectionInput = document.querySelector("[data-testid=op-selection]");
const SELECTION_ERROR = "INVALID_OP_SELECTION";

// The op selection as the API takes it: queries split at commas or spaces; null (the whole job) when empty.
function currentOpSelection() {
  const queries = opSelectionInput.value.split(/[,\s]+/).filter(Boolean);
  return queries.length ? queries : null;
}

// An answer of the server as the errors to show (none when it is valid or launched).
function errorsOf(result) {
  if (result.__typename === "RunConfigValidationInvalid") return result.errors;
  if (result.__typename === "InvalidOpSelectionError") return [{ path: "", message: result.message, reason: SELECTION_ERROR }];
  if (result.message) return [{ path: "", message: result.message }];
  return [];
}

function showErrors(errors, source) {
  clear(errorsBox);
  const lines = [];
  const badSelection = errors.some((error) => error.reason === SELECTION_ERROR);
  opSelectionInput.setAttribute("aria-invalid", String(badSelection));
  if (!errors.length) {
    errorsBox.hidden = true;
    validity.textContent = source === "server" ? "" : "✓ Valid run config";
    validity.className = "validity ok";
    editor.markLines([]);
    return;
  }
  validity.textContent = `✗ ${errors.length} problem${errors.length > 1 ? "s" : ""}${source === "server" ? " (the server refused to launch)" : ""}`;
  validity.className = "validity bad";
  const list = h("ul");
  for (const error of errors) {
    const inSelection = error.reason === SELECTION_ERROR;
    const line = inSelection ? null : error.line ?? lineOfPath(editor.value, error.path, error.field || fieldOf(error.message));
    lines.push(line);
    const where = inSelection ? "op selection" : error.path ? error.path : error.line ? "YAML" : "run config";
    list.append(h("li", { "data-path": error.path || "", "data-reason": error.reason || "" },
      h("code.path", { text: where }),
      line ? h("button.link.small", { type: "button", text: `line ${line}${error.column ? `, column ${error.column}` : ""}`,
        onclick: () => editor.goToLine(line) }) : null,
      h("span", { text: ` ${error.message}` })));
  }
  const what = badSelection ? "invalid op selection" : "invalid run config";
  errorsBox.append(h("strong", { text: source === "server" ? `Not launched: ${what}` : what[0].toUpperCase() + what.slice(1) }), list);
  errorsBox.hidden = false;
  editor.markLines(lines);
}

function fieldOf(message) {
  const match = /^(?:unknown field|missing required field) '([^']+)'/.exec(message || "");
  return match ? match[1] : null;
}

// Parses the editor's YAML: {value} to send to the server, or {syntax, errors} when it is not YAML.
function currentConfig() {
  const parsed = parseYaml(editor.value);
  if (parsed.error) return { syntax: true, errors: [parsed.error] };
  return { value: parsed.value ?? {}, errors: [] };
}

// The server checks the config (the same validation a launch does); stale answers are dropped.
let timer = null;
let latest = 0;
function validateSoon() {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    const config = currentConfig();
    const asked = ++latest;
    if (config.syntax) {
      showErrors(config.errors, "browser");
      return;
    }
    try {
      const { validateRunConfig: result } = await graphql(VALIDATE, {
        jobName: job.name, runConfig: JSON.stringify(config.value), opSelection: currentOpSelection(),
      });
      if (asked !== latest) return;
      showErrors(errorsOf(result), "browser");
    } catch (error) {
      if (asked === latest) showErrors([{ path: "", message: `Could not validate: ${error.message}` }], "browser");
    }
  }, 200);
}

async function launch() {
  const config = currentConfig();
  if (config.syntax) {  // cannot be sent: there is no config to send
    showErrors(config.errors, "browser");
    return;
  }
  launchButton.disabled = true;
  launchButton.textContent = "Launching…";
  try {
    const { launchRun } = await graphql(LAUNCH, {
      jobName: job.name,
      runConfig: JSON.stringify(config.value),
      executor: executorSelect.value || null,
      opSelection: currentOpSelection(),
    });
    if (launchRun.__typename === "LaunchRunSuccess") {
      location.assign(`/runs/${launchRun.run.id}/`);
      return;
    }
    const errors = errorsOf(launchRun);
    showErrors(errors.length ? errors : [{ path: "", message: launchRun.__typename }], "server");
  } catch (error) {
    showErrors([{ path: "", message: error.message }], "server");
  }
  launchButton.disabled = false;
  launchButton.textContent = "Launch run";
}

function renderSchemaHelp() {
  const target = document.querySelector("[data-role=schema]");
  const ops = Object.entries(schema?.fields?.ops?.fields || {});
  target.append(h("ul.schema", {}, ops.map(([name, field]) => h("li", {}, h("code", { text: `ops.${name}` }), ": ",
    h("span.type", { text: describeType(field) })))));
  const execution = schema?.fields?.execution;
  if (execution) target.append(h("p", {}, h("code", { text: "execution" }), `: one of ${Object.keys(execution.fields || {}).join(", ")}`));
}

editor.value = defaultText;
document.querySelector("[data-testid=config-editor]").addEventListener("input", validateSoon);
opSelectionInput.addEventListener("input", validateSoon);
document.querySelector("[data-testid=config-reset]").addEventListener("click", () => { editor.value = defaultText; validateSoon(); });
launchButton.addEventListener("click", launch);
renderSchemaHelp();
validateSoon();
