// Run config as YAML text: parse with line-aware errors, write defaults with field descriptions,
// and find the line of a config path so errors show where they are.

import yaml from "../../vendor/js-yaml/js-yaml.mjs";

export function parseYaml(text) {
  try {
    return { value: yaml.load(text, { schema: yaml.CORE_SCHEMA }), error: null };
  } catch (error) {
    const mark = error.mark || {};
    return {
      value: undefined,
      error: {
        path: "",
        line: Number.isInteger(mark.line) ? mark.line + 1 : null,
        column: Number.isInteger(mark.column) ? mark.column + 1 : null,
        message: `YAML syntax: ${error.reason || error.message}`,
        reason: "SYNTAX_ERROR",
      },
    };
  }
}

function inline(value) {
  return yaml.dump(value, { flowLevel: 0, lineWidth: -1, schema: yaml.CORE_SCHEMA }).trim();
}

const isDict = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

// Block YAML of `value`, with `# description` comments taken from the config schema.
export function configToYaml(value, schema, indent = 0) {
  const pad = " ".repeat(indent);
  const lines = [];
  for (const [key, item] of Object.entries(value || {})) {
    const field = schema?.fields?.[key];
    const comment = field?.description ? `  # ${field.description}` : "";
    const name = /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key) ? key : JSON.stringify(key);
    if (isDict(item) && Object.keys(item).length) {
      lines.push(`${pad}${name}:${comment}`);
      lines.push(configToYaml(item, field, indent + 2));
    } else {
      lines.push(`${pad}${name}: ${inline(item)}${comment}`);
    }
  }
  return lines.filter(Boolean).join("\n");
}

const KEY_LINE = /^(\s*)(?:-\s+)?("[^"]*"|'[^']*'|[^\s#'"][^:#]*?)\s*:(?:\s|$)/;

// The 1-based line that holds `path` (e.g. ops.emit.config.n), or its closest parent; `field`
// names a key inside it (an unknown or missing field). Null when nothing matches.
export function lineOfPath(text, path, field = null) {
  const wanted = [...(path ? path.replace(/\[\d+\]/g, "").split(".") : []), ...(field ? [field] : [])];
  if (!wanted.length) return null;
  const stack = [];
  let best = null;
  let bestDepth = 0;
  text.split("\n").forEach((line, index) => {
    if (/^\s*(#|$)/.test(line)) return;
    const match = KEY_LINE.exec(line);
    if (!match) return;
    const indent = match[1].length;
    const key = match[2].replace(/^["']|["']$/g, "");
    while (stack.length && stack[stack.length - 1].indent >= indent) stack.pop();
    stack.push({ indent, key });
    const keys = stack.map((entry) => entry.key);
    let depth = 0;
    while (depth < keys.length && depth < wanted.length && keys[depth] === wanted[depth]) depth += 1;
    if (depth === keys.length && depth > bestDepth) {
      bestDepth = depth;
      best = index + 1;
    }
  });
  return best;
}
