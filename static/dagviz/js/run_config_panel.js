// The run page's Config panel: the run's tags as key=value chips (always shown), and its run config
// as read-only YAML, written as the launchpad writes it (yaml_config.js) and read through GraphQL
// the first time the panel is opened, so a large config never weighs on the page's first paint.

import { clear, h } from "./dom.js";
import { graphql } from "./graphql.js";
import { jsonField } from "./json_field.js";
import { configToYaml } from "./yaml_config.js";

const RUN_CONFIG = `query RunConfig($id: ID!) { run(id: $id) { runConfig } }`;

export function createRunConfigPanel(section, { run, job }) {
  const toggle = section.querySelector("[data-testid=run-config-toggle]");
  const body = section.querySelector(".run-config-body");
  const yamlBox = section.querySelector("[data-testid=run-config-yaml]");
  const schema = job ? jsonField(job.configSchema) : null;
  let loaded = null;  // the read of the config, once asked

  renderTags(section.querySelector("[data-testid=run-tags]"), section.querySelector("[data-role=no-tags]"),
    jsonField(run.tags) || {});

  async function loadConfig() {
    yamlBox.textContent = "Loading…";
    try {
      const { run: read } = await graphql(RUN_CONFIG, { id: run.id });
      const config = jsonField(read.runConfig) || {};
      yamlBox.textContent = Object.keys(config).length ? configToYaml(config, schema)
        : "{}  # no run config: the job's defaults";
      yamlBox.dataset.loaded = "true";
    } catch (error) {
      yamlBox.textContent = `Could not read the run config: ${error.message}`;
      loaded = null;  // opening again tries again
    }
  }

  function setOpen(open) {
    toggle.setAttribute("aria-expanded", String(open));
    body.hidden = !open;
    if (open && !loaded) loaded = loadConfig();
  }

  toggle.addEventListener("click", () => setOpen(body.hidden));
  return { open: () => setOpen(true) };
}

// One chip per tag, "key=value", in the order they were given.
function renderTags(list, noTags, tags) {
  clear(list);
  for (const [key, value] of Object.entries(tags)) {
    list.append(h("li.tag-chip", { "data-testid": "run-tag", "data-key": key, title: `${key}=${value}` },
      h("span.tag-key", { text: key }), "=", h("span.tag-value", { text: String(value) })));
  }
  noTags.hidden = list.childElementCount > 0;
}
