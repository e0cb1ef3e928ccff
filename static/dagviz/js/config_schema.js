// The job's config schema (Job.configSchema): how to describe its types, and one op's part of it.
// Validation is the server's (validateRunConfig): one place decides what a valid config is.

export function describeType(type) {
  if (!type) return "Any";
  switch (type.type) {
    case "Array": return `[${describeType(type.of)}]`;
    case "Noneable": return `Noneable(${describeType(type.inner)})`;
    case "Shape": case "Permissive": case "Selector":
      return `{${Object.entries(type.fields || {}).map(([key, field]) => `${key}: ${describeType(field)}`).join(", ")}}`;
    default: return type.type;
  }
}

// The schema of one op's `config` (nodes inside graphs are `graph.op`: ops.graph.ops.op.config).
export function opConfigSchema(schema, nodeName) {
  let ops = schema?.fields?.ops;
  let entry = null;
  for (const part of nodeName.split(".")) {
    entry = ops?.fields?.[part];
    if (!entry) return null;
    ops = entry.fields?.ops;
  }
  return entry?.fields?.config || null;
}
