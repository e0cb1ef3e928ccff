// The metadata of a step (of its outputs and of its failure) as a table for the step drawer:
// one group per output (and mapping key) or failure, one row per label; values only as text.

import { h } from "./dom.js";

function groupTitle(entry) {
  if (entry.source === "FAILURE") return "failure";
  return entry.mappingKey ? `output ${entry.outputName} [${entry.mappingKey}]` : `output ${entry.outputName}`;
}

// A value's text: strings as they are, anything else as (indented) JSON.
function valueText(json) {
  let value;
  try {
    value = JSON.parse(json);
  } catch {
    return json;
  }
  if (typeof value === "string") return value;
  return typeof value === "object" && value !== null ? JSON.stringify(value, null, 2) : String(value);
}

function valueCell(json) {
  const text = valueText(json);
  if (/^https?:\/\/\S+$/.test(text)) {
    return h("td", {}, h("a.mono", { href: text, text, target: "_blank", rel: "noopener noreferrer" }));
  }
  return h("td", {}, h("pre.metadata-value", { text }));
}

export function metadataTable(entries) {
  if (!entries.length) return h("p.muted", { text: "No metadata." });
  const rows = [];
  let current = null;
  for (const entry of entries) {
    const title = groupTitle(entry);
    if (title !== current) {
      current = title;
      rows.push(h("tr.metadata-group", {}, h("th.mono", { colspan: 2, text: title })));
    }
    rows.push(h("tr", { "data-testid": "metadata-entry", "data-label": entry.label, "data-source": entry.source },
      h("th.mono", { scope: "row", text: entry.label }), valueCell(entry.value)));
  }
  return h("table.table.compact.metadata", {}, h("tbody", {}, rows));
}
