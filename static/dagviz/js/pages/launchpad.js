// The launchpad: edit the run config as YAML, choose an executor, the ops to run (op selection) and
// the run's tags, Launch. Everything is checked as you type (the YAML here, the rest by the server)
// and Launch stays disabled until nothing is wrong. `?fromRun=<id>` prefills it from that run.

import { describeType } from "../config_schema.js";
import { createConfigEditor } from "../config_editor.js";
import { clear, h, pageData } from "../dom.js";
import { graphql } from "../graphql.js";
import { jsonField } from "../json_field.js";
import { createTagEditor } from "../tag_editor.js";
import { configToYaml, lineOfPath, parseYaml } from "../yaml_config.js";

const VALIDATE = `query Validate($jobName: String!, $runConfig: JSONString, $opSelection: [String!], $tags: JSONString) {
  validateRunConfig(jobName: $jobName, runConfig: $runConfig, opSelection: $opSelection, tags: $tags) {
    __typename
    ... on RunConfigValidationInvalid { errors { path message reason } }
    ... on InvalidOpSelectionError { message }
    ... on InvalidTagsError { errors { key message } }
    ... on JobNotFoundError { message }
  }
}`;

const LAUNCH = `mutation Launch($jobName: String!, $runConfig: JSONString, $executor: String, $opSelection: [String!],
                          $tags: JSONString) {
  launchRun(jobName: $jobName, runConfig: $runConfig, executor: $executor, opSelection: $opSelection, tags: $tags) {
    __typename
    ... on LaunchRunSuccess { run { id } }
    ... on RunConfigValidationInvalid { errors { path message reason } }
    ... on InvalidOpSelectionError { message }
    ... on InvalidTagsError { errors { key message } }
    ... on JobNotFoundError { message }
    ... on PythonError { message className }
    ... on UnauthorizedError { message }
  }
}`;

const SELECTION_ERROR = "INVALID_OP_SELECTION";
const TAG_ERROR = "INVALID_TAG";
const tagProblem = ({ key, message }) => ({ path: "", message, reason: TAG_ERROR, key });

const { job, fromRun } = pageData();
const schema = jsonField(job.configSchema);
const defaults = jsonField(job.defaultRunConfig);
const executors = Object.keys(schema?.fields?.execution?.fields || {});
const defaultText = `${configToYaml(defaults, schema)}\n${executors.length
  ? `# execution: one of ${executors.map((name) => `${name}: {...}`).join(", ")} (e.g. multiprocess: {max_concurrent: 2})\n` : ""}`;

const $ = (selector) => document.querySelector(selector);
const editor = createConfigEditor($("[data-testid=config-editor]"), $(".editor-gutter"));
const errorsBox = $("[data-testid=config-errors]");
const validity = $("[data-testid=config-validity]");
const launchButton = $("[data-testid=launch-button]");
const executorSelect = $("[data-testid=executor-select]");
const opSelectionInput = $("[data-testid=op-selection]");
const opSelectionError = $("[data-testid=op-selection-error]");
const tagEditor = createTagEditor($("[data-testid=launchpad-tags]"), { onChange: () => validateSoon() });

// What stops a launch: the last answer's problems, a check still on its way, a launch under way.
const status = { problems: [], checking: true, launching: false };

// The op selection as the API takes it: queries split at commas or spaces; null (the whole job) when empty.
function currentOpSelection() {
  const queries = opSelectionInput.value.split(/[,\s]+/).filter(Boolean);
  return queries.length ? queries : null;
}

// An answer of the server as the problems to show (none when it is valid or launched).
function errorsOf(result) {
  switch (result.__typename) {
    case "RunConfigValidationInvalid": return result.errors;
    case "InvalidOpSelectionError": return [{ path: "", message: result.message, reason: SELECTION_ERROR }];
    case "InvalidTagsError": return result.errors.map(tagProblem);
    default: return result.message ? [{ path: "", message: result.message }] : [];
  }
}

function updateLaunchButton() {
  const count = status.problems.length;
  launchButton.disabled = status.checking || status.launching || count > 0;
  launchButton.title = status.launching ? "Launching…" : status.checking ? "Checking the run config…"
    : count ? `Fix the ${count} problem${count > 1 ? "s" : ""} above to launch` : "";
}

function showChecking() {
  status.checking = true;
  validity.textContent = "Checking…";
  validity.className = "validity pending";
  updateLaunchButton();
}

const shorten = (text, length) => (text.length > length ? `${text.slice(0, length)}…` : text);

// Where a problem is, as its row in the errors box names it.
function placeOf(error) {
  if (error.reason === SELECTION_ERROR) return "op selection";
  if (error.reason === TAG_ERROR) return error.key ? `tag ${shorten(error.key, 40)}` : "tag (empty key)";
  return error.path ? error.path : error.line ? "YAML" : "run config";
}

function summaryOf(errors) {
  const kinds = new Set(errors.map((error) => (error.reason === SELECTION_ERROR ? "op selection"
    : error.reason === TAG_ERROR ? "tags" : "run config")));
  return `invalid ${[...kinds].join(" and ")}`;
}

// Shows `errors` (all the problems there are now) in the errors box and next to their fields.
function showErrors(errors, source) {
  status.checking = false;
  status.problems = errors;
  updateLaunchButton();
  clear(errorsBox);
  const selectionErrors = errors.filter((error) => error.reason === SELECTION_ERROR);
  opSelectionInput.setAttribute("aria-invalid", String(selectionErrors.length > 0));
  opSelectionError.textContent = selectionErrors.map((error) => error.message).join("; ");
  opSelectionError.hidden = !selectionErrors.length;
  tagEditor.showProblems(errors.filter((error) => error.reason === TAG_ERROR));
  if (!errors.length) {
    errorsBox.hidden = true;
    validity.textContent = source === "server" ? "" : "✓ Valid run config";
    validity.className = "validity ok";
    editor.markLines([]);
    return;
  }
  validity.textContent = `✗ ${errors.length} problem${errors.length > 1 ? "s" : ""}${source === "server" ? " (the server refused to launch)" : ""}`;
  validity.className = "validity bad";
  const lines = [];
  const list = h("ul");
  for (const error of errors) {
    const inConfig = error.reason !== SELECTION_ERROR && error.reason !== TAG_ERROR;
    const line = inConfig ? error.line ?? lineOfPath(editor.value, error.path, error.field || fieldOf(error.message)) : null;
    lines.push(line);
    list.append(h("li", { "data-path": error.path || "", "data-reason": error.reason || "" },
      h("code.path", { text: placeOf(error) }),
      line ? h("button.link.small", { type: "button", text: `line ${line}${error.column ? `, column ${error.column}` : ""}`,
        onclick: () => editor.goToLine(line) }) : null,
      h("span", { text: ` ${error.message}` })));
  }
  const what = summaryOf(errors);
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

// The server checks config, selection and tags (the checks a launch makes); only the latest answer counts.
let timer = null;
let latest = 0;
function validateSoon() {
  clearTimeout(timer);
  const asked = ++latest;
  showChecking();
  timer = setTimeout(async () => {
    const config = currentConfig();
    const tags = tagEditor.read();
    const repeated = tags.problems.map(tagProblem);
    if (config.syntax) {  // nothing to send: the server's verdict has to wait for YAML
      showErrors([...config.errors, ...repeated], "browser");
      return;
    }
    try {
      const { validateRunConfig: result } = await graphql(VALIDATE, {
        jobName: job.name, runConfig: JSON.stringify(config.value), opSelection: currentOpSelection(),
        tags: JSON.stringify(tags.tags),
      });
      if (asked === latest) showErrors([...errorsOf(result), ...repeated], "browser");
    } catch (error) {
      if (asked === latest) showErrors([{ path: "", message: `Could not validate: ${error.message}` }, ...repeated], "browser");
    }
  }, 200);
}

async function launch() {
  const config = currentConfig();
  const tags = tagEditor.read();
  if (config.syntax || tags.problems.length) {  // Launch is disabled then; a stale click still sends nothing
    showErrors([...config.errors, ...tags.problems.map(tagProblem)], "browser");
    return;
  }
  status.launching = true;
  updateLaunchButton();
  launchButton.textContent = "Launching…";
  try {
    const { launchRun } = await graphql(LAUNCH, {
      jobName: job.name,
      runConfig: JSON.stringify(config.value),
      executor: executorSelect.value || null,
      opSelection: currentOpSelection(),
      tags: JSON.stringify(tags.tags),
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
  status.launching = false;
  updateLaunchButton();
  launchButton.textContent = "Launch run";
}

function renderSchemaHelp() {
  const target = $("[data-role=schema]");
  const ops = Object.entries(schema?.fields?.ops?.fields || {});
  target.append(h("ul.schema", {}, ops.map(([name, field]) => h("li", {}, h("code", { text: `ops.${name}` }), ": ",
    h("span.type", { text: describeType(field) })))));
  const execution = schema?.fields?.execution;
  if (execution) target.append(h("p", {}, h("code", { text: "execution" }), `: one of ${Object.keys(execution.fields || {}).join(", ")}`));
}

// Prefills the form from the run of ?fromRun=: its config (as the run page shows it), tags, op selection,
// and its executor when the config does not choose one (it was then chosen at launch).
function prefillFrom(run) {
  const config = jsonField(run.runConfig) || {};
  editor.value = Object.keys(config).length ? `${configToYaml(config, schema)}\n` : "{}\n";
  tagEditor.setTags(jsonField(run.tags));
  opSelectionInput.value = (run.opSelection || []).join(", ");
  const options = [...executorSelect.options].map((option) => option.value);
  if (!("execution" in config) && options.includes(run.executor)) executorSelect.value = run.executor;
}

if (fromRun) prefillFrom(fromRun);
else editor.value = defaultText;
$("[data-testid=config-editor]").addEventListener("input", validateSoon);
opSelectionInput.addEventListener("input", validateSoon);
$("[data-testid=config-reset]").addEventListener("click", () => { editor.value = defaultText; validateSoon(); });
launchButton.addEventListener("click", launch);
renderSchemaHelp();
validateSoon();
