// The launchpad's run tags: key/value rows to add and remove, each row showing its own error.
// What a valid key is, is the server's rule (validateRunConfig(tags:)); the page only finds keys
// given twice, which a JSON object cannot carry to the server.

import { h } from "./dom.js";

export function createTagEditor(fieldset, { onChange }) {
  const rowsBox = fieldset.querySelector("[data-role=rows]");

  function addRow(key = "", value = "") {
    const keyInput = h("input", { type: "text", "data-role": "key", "aria-label": "Tag key", placeholder: "key",
      spellcheck: "false", autocomplete: "off", autocapitalize: "off" });
    const valueInput = h("input", { type: "text", "data-role": "value", "aria-label": "Tag value", placeholder: "value",
      spellcheck: "false", autocomplete: "off", autocapitalize: "off" });
    keyInput.value = key;
    valueInput.value = value;
    const row = h("div.tag-row", { "data-testid": "launchpad-tag-row" },
      keyInput, h("span.muted", { text: "=" }), valueInput,
      h("button.small.link", { type: "button", "data-role": "remove", "aria-label": "Remove this tag", text: "✕",
        onclick: () => { row.remove(); onChange(); } }),
      h("p.field-error", { "data-role": "error", "data-testid": "launchpad-tag-error", hidden: true }));
    keyInput.addEventListener("input", onChange);
    valueInput.addEventListener("input", onChange);
    rowsBox.append(row);
    return row;
  }

  const rows = () => [...rowsBox.querySelectorAll(".tag-row")];
  const keyOf = (row) => row.querySelector("[data-role=key]").value;
  const valueOf = (row) => row.querySelector("[data-role=value]").value;
  // A row with neither key nor value is a row not filled in yet, not a tag.
  const filled = () => rows().filter((row) => keyOf(row) !== "" || valueOf(row) !== "");

  fieldset.querySelector("[data-testid=launchpad-tag-add]").addEventListener("click", () => {
    addRow().querySelector("[data-role=key]").focus();
    onChange();
  });

  return {
    // Replaces every row with one per tag of `tags` ({key: value}).
    setTags(tags) {
      rowsBox.replaceChildren();
      for (const [key, value] of Object.entries(tags || {})) addRow(key, String(value));
    },
    // The tags to send ({key: value}, a repeated key's first row wins) and the keys given twice.
    read() {
      const tags = {};
      const problems = [];
      for (const row of filled()) {
        const key = keyOf(row);
        if (Object.hasOwn(tags, key)) {
          problems.push({ key, message: `tag key '${key}' is given more than once: each key once` });
        } else {
          tags[key] = valueOf(row);
        }
      }
      return { tags, problems };
    },
    // Shows each problem ({key, message}) under the rows with that key; none clears them.
    showProblems(problems) {
      const byKey = new Map();
      for (const problem of problems) byKey.set(problem.key, [...(byKey.get(problem.key) || []), problem.message]);
      for (const row of rows()) {
        const messages = filled().includes(row) ? byKey.get(keyOf(row)) : null;
        const error = row.querySelector("[data-role=error]");
        error.textContent = messages ? [...new Set(messages)].join("; ") : "";
        error.hidden = !messages;
        row.querySelector("[data-role=key]").setAttribute("aria-invalid", String(Boolean(messages)));
      }
    },
  };
}
