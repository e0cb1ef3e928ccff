// The details panel of the graph explorer: a node's description, inputs, outputs and config schema.

import { describeType, opConfigSchema } from "./config_schema.js";
import { add, clear, h } from "./dom.js";

const KIND_TEXT = { PLAIN: "plain", DYNAMIC: "map ⇉ (one value per key)", COLLECT: "collect ⊕ (list of every key)" };

function schemaList(type) {
  const fields = Object.entries(type?.fields || {});
  if (!fields.length) return h("p.muted", { text: "No config." });
  return h("ul.schema", {}, fields.map(([name, field]) => h("li", {},
    h("code", { text: name }), ": ", h("span.type", { text: describeType(field) }),
    field.required ? h("span.tag.tag-required", { text: "required" }) : null,
    "default" in field ? h("span.muted", { text: ` default ${JSON.stringify(field.default)}` }) : null,
    field.description ? h("div.muted.small", { text: field.description }) : null,
    ["Shape", "Permissive", "Selector"].includes(field.type) && Object.keys(field.fields || {}).length
      ? schemaList(field) : null)));
}

export function renderNodeDetails(panel, node, configSchema) {
  clear(panel);
  if (!node) {
    panel.append(h("p.muted", { text: "Click a node to see its description, inputs, outputs and config schema." }));
    return;
  }
  const tags = [];
  if (node.isDynamicMapped) tags.push(h("span.tag.tag-dynamic", { text: `⇉ mapped${node.mappingDepth > 1 ? ` ×${node.mappingDepth}` : ""}` }));
  if (node.isDynamicCollect) tags.push(h("span.tag.tag-collect", { text: "⊕ collect" }));
  if (node.outputs.some((output) => output.isDynamic)) tags.push(h("span.tag.tag-dynamic", { text: "fans out" }));
  const config = opConfigSchema(configSchema, node.name);
  add(panel,
    h("h2.mono", { text: node.name, "data-testid": "node-details-name" }),
    node.opName !== node.name ? h("p.muted", {}, "op ", h("code", { text: node.opName })) : null,
    tags.length ? h("p.tags", {}, tags) : null,
    h("p.description", { text: node.description || "No description." }),
    h("h3", { text: "Inputs" }),
    node.inputs.length ? h("table.table.compact", {},
      h("thead", {}, h("tr", {}, h("th", { text: "input" }), h("th", { text: "from" }), h("th", { text: "kind" }))),
      h("tbody", {}, node.inputs.map((input) => h("tr", {},
        h("td.mono", { text: input.name }),
        h("td.mono", { text: input.fromNode ? `${input.fromNode}.${input.fromOutput}` : "default value" }),
        h("td", { text: KIND_TEXT[input.kind] || input.kind })))))
      : h("p.muted", { text: "None." }),
    h("h3", { text: "Outputs" }),
    h("ul", {}, node.outputs.map((output) => h("li", {}, h("code", { text: output.name }),
      output.isDynamic ? h("span.tag.tag-dynamic", { text: "dynamic ⇉" }) : null))),
    h("h3", { text: "Config schema" }),
    config ? schemaList(config) : h("p.muted", { text: "No config." }),
  );
}
