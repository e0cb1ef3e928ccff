// Run config as YAML text: parse with line-aware errors, write defaults with field descriptions,
// and find the line of a config path so errors show where they are.

import yaml from "../../vendor/js-yaml/js-yaml.mjs";

// The server's default limits (dagviz/config/safe_yaml.py). js-yaml, like PyYAML, shares aliased
// values, and anything that walks the result (JSON.stringify for the server) expands them: a few
// hundred bytes of nested anchors froze the tab. The browser refuses early; the server stays the judge.
export const LIMITS = { bytes: 1_000_000, aliases: 100, nodes: 100_000 };
const ALIAS_TOKEN = /(?:^|[\s,[{:-])\*[^\s,[\]{}]+/g;

function limitError(problem) {
  return { path: "", line: null, column: null, message: `run config ${problem}`, reason: "LIMIT_EXCEEDED" };
}

// A limit the text breaks before parsing (size, alias tokens), as an error to show; null when within them.
export function textLimitError(text) {
  const bytes = text.length * 3 > LIMITS.bytes ? new TextEncoder().encode(text).length : text.length;
  if (bytes > LIMITS.bytes) {
    return limitError(`is ${bytes.toLocaleString("en")} bytes, more than the limit of ${LIMITS.bytes.toLocaleString("en")} bytes (DAGVIZ_MAX_RUN_CONFIG_BYTES)`);
  }
  const aliases = (text.match(ALIAS_TOKEN) || []).length;
  if (aliases > LIMITS.aliases) {
    return limitError(`uses more than ${LIMITS.aliases} alias references (*name); the limit is DAGVIZ_MAX_RUN_CONFIG_ALIASES`);
  }
  return null;
}

// How many values `value` has once shared (aliased) parts are expanded, memoised per object so it
// costs one visit per distinct object; stops counting past `limit` (a cycle counts as past it).
function expandedSize(value, limit, memo = new Map()) {
  if (value === null || typeof value !== "object") return 1;
  if (memo.has(value)) return memo.get(value);
  memo.set(value, Infinity);
  let size = 1;
  for (const item of Object.values(value)) {
    size += (Array.isArray(value) ? 0 : 1) + expandedSize(item, limit, memo);
    if (size > limit) break;
  }
  memo.set(value, size);
  return size;
}

export function parseYaml(text) {
  const refused = textLimitError(text);
  if (refused) return { value: undefined, error: refused };
  let value;
  try {
    value = yaml.load(text, { schema: yaml.CORE_SCHEMA });
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
  if (expandedSize(value, LIMITS.nodes) > LIMITS.nodes) {
    return { value: undefined, error: limitError(`has more than ${LIMITS.nodes} values once its aliases are expanded; the limit is DAGVIZ_MAX_RUN_CONFIG_NODES`) };
  }
  return { value, error: null };
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
