// Where a step sits among its neighbours: the step that emitted its key, the steps it feeds,
// and the keys nested under it, so nested fan-outs (score[eu][c42]) can be walked both ways.

export function formatStepKey(node, keys) {
  return `${node}${keys.map((key) => `[${key}]`).join("")}`;
}

// [{label, key?, node, prefix?}]: `key` opens that step; `prefix` browses a node's keys.
export function relatedSteps(step, nodes) {
  const byName = new Map(nodes.map((node) => [node.name, node]));
  const self = byName.get(step.node);
  if (!self) return [];
  const keys = step.mappingKeys || [];
  const links = [];
  for (const input of self.inputs) {
    const source = byName.get(input.fromNode);
    if (!source) continue;
    if (input.kind === "COLLECT") {
      links.push({ label: `collects ${source.name}`, node: source.name,
        prefix: `${formatStepKey(source.name, keys)}[` });
    } else {
      const sourceKeys = keys.slice(0, source.mappingDepth);
      links.push({ label: input.kind === "DYNAMIC" ? "key emitted by" : `input ${input.name} from`,
        node: source.name, key: formatStepKey(source.name, sourceKeys) });
    }
  }
  for (const node of nodes) {
    for (const input of node.inputs) {
      if (input.fromNode !== step.node) continue;
      if (input.kind === "DYNAMIC") {
        links.push({ label: "keys under this step", node: node.name, prefix: `${formatStepKey(node.name, keys)}[` });
      } else {
        links.push({ label: input.kind === "COLLECT" ? "collected by" : "feeds", node: node.name,
          key: formatStepKey(node.name, keys.slice(0, node.mappingDepth)) });
      }
    }
  }
  return links;
}
