// The static job graph drawn with Cytoscape.js + dagre, top-down: one node per op.
//
// Mapped ops are drawn stacked (a ghost copy behind them, a double border when nested) and
// labelled `op[*]`; dynamic (map) and collect edges are dashed and dotted, and labelled.

let library = null;

// Cytoscape and dagre are loaded on demand, so a page is usable before they are parsed.
function loadCytoscape() {
  library = library || Promise.all([
    import("../../vendor/cytoscape/cytoscape.esm.min.mjs"),
    import("../../vendor/cytoscape-dagre/cytoscape-dagre.min.mjs"),
  ]).then(([cytoscape, dagre]) => {
    cytoscape.default.use(dagre.default);
    return cytoscape.default;
  });
  return library;
}

const FONT_PX = 12;
const FONT = `${FONT_PX}px DejaVu Sans, Helvetica, Arial, sans-serif`;
const MIN_LABEL_PX = 10;  // the smallest label Fit may draw; below it text is unreadable
const MIN_FIT_ZOOM = MIN_LABEL_PX / FONT_PX;
const FIT_PADDING = 24;
const measure = document.createElement("canvas").getContext("2d");

function labelSize(label) {
  measure.font = FONT;
  const lines = label.split("\n");
  const width = Math.max(...lines.map((line) => measure.measureText(line).width));
  return { w: Math.ceil(width) + 30, h: lines.length * 16 + 18 };
}

export function nodeKind(node) {
  if (node.isDynamicMapped) return "mapped";
  if (node.isDynamicCollect) return "collect";
  return "plain";
}

function title(node) {
  return node.isDynamicMapped ? `${node.name}${"[*]".repeat(node.mappingDepth)}` : node.name;
}

function subtitle(node) {
  const parts = [];
  if (node.isDynamicMapped) parts.push(node.mappingDepth > 1 ? `mapped ×${node.mappingDepth} (nested)` : "mapped: one step per key");
  if (node.isDynamicCollect) parts.push("collects a fan-out");
  if (node.outputs.some((output) => output.isDynamic)) parts.push("fans out ⇉");
  return parts.join(" · ");
}

function elements(nodes, liveLine) {
  const names = new Set(nodes.map((node) => node.name));
  const result = [];
  for (const node of nodes) {
    const base = [title(node), subtitle(node)].filter(Boolean).join("\n");
    const label = liveLine ? `${base}\n${liveLine}` : base;
    result.push({
      group: "nodes",
      data: { id: node.name, label, base, ...labelSize(label) },
      classes: [nodeKind(node), node.mappingDepth > 1 ? "nested" : ""].join(" "),
    });
  }
  for (const node of nodes) {
    for (const input of node.inputs) {
      if (!input.fromNode || !names.has(input.fromNode)) continue;
      const label = input.kind === "DYNAMIC" ? "map ⇉" : input.kind === "COLLECT" ? "collect ⊕" : "";
      result.push({
        group: "edges",
        data: { id: `${input.fromNode}->${node.name}.${input.name}`, source: input.fromNode, target: node.name, label },
        classes: input.kind,
      });
    }
  }
  return result;
}

const STYLE = [
  { selector: "node", style: {
    shape: "round-rectangle", width: "data(w)", height: "data(h)", label: "data(label)",
    "text-wrap": "wrap", "text-valign": "center", "text-halign": "center", "font-size": FONT_PX,
    "font-family": "DejaVu Sans, Helvetica, Arial, sans-serif", color: "#1d2430",
    "background-color": "#ffffff", "border-width": 2, "border-color": "#6b7583",
  } },
  { selector: "node.mapped", style: {
    "background-color": "#eef3ff", "border-color": "#3b6fd6",
    ghost: "yes", "ghost-offset-x": 6, "ghost-offset-y": -6, "ghost-opacity": 0.45,
  } },
  { selector: "node.nested", style: { "border-style": "double", "border-width": 6 } },
  { selector: "node.collect", style: { "background-color": "#fbf4ea", "border-color": "#a0662b" } },
  { selector: "node.state-running", style: { "border-color": "#3b82f6", "border-width": 4 } },
  { selector: "node.state-failed", style: { "border-color": "#d9383a", "border-width": 4, "background-color": "#fdecec" } },
  { selector: "node.state-succeeded", style: { "border-color": "#2e9e5b", "background-color": "#eaf7ef" } },
  { selector: "node.state-reused", style: { "border-color": "#8b6fd6", "border-style": "dashed", "background-color": "#f2eefc" } },
  { selector: "node.state-skipped", style: { "border-color": "#a78b5b", "border-style": "dotted" } },
  { selector: "node.selected-op", style: {
    "underlay-color": "#2f5fc4", "underlay-opacity": 0.22, "underlay-padding": 9, "underlay-shape": "round-rectangle",
  } },
  { selector: "node:selected", style: { "overlay-opacity": 0 } },
  { selector: "edge", style: {
    "curve-style": "bezier", width: 2, "line-color": "#8a94a3", "target-arrow-shape": "triangle",
    "target-arrow-color": "#8a94a3", label: "data(label)", "font-size": 10, color: "#3d4652",
    "text-background-color": "#ffffff", "text-background-opacity": 1, "text-background-padding": 2,
  } },
  { selector: "edge.DYNAMIC", style: {
    "line-style": "dashed", "line-color": "#3b6fd6", "target-arrow-color": "#3b6fd6", "target-arrow-shape": "triangle-tee",
  } },
  { selector: "edge.COLLECT", style: {
    "line-style": "dotted", width: 3, "line-color": "#a0662b", "target-arrow-color": "#a0662b", "target-arrow-shape": "diamond",
  } },
];

export async function createJobGraph(container, nodes, { onSelect = () => {}, toolbar = null, liveLine = "" } = {}) {
  const cytoscape = await loadCytoscape();
  // Creating, filling and laying out the graph are separate tasks: each stays short.
  const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));
  await nextTask();
  const cy = cytoscape({
    container,
    style: STYLE,
    minZoom: 0.2,
    maxZoom: 3,
    boxSelectionEnabled: false,
    autoungrabify: true,
  });
  await nextTask();
  cy.add(elements(nodes, liveLine));
  await nextTask();
  cy.layout({ name: "dagre", rankDir: "TB", nodeSep: 36, rankSep: 56, edgeSep: 12, padding: 24, fit: true }).run();
  const byName = new Map(nodes.map((node) => [node.name, node]));

  cy.on("tap", "node", (event) => onSelect(event.target.id()));

  // Fit the graph in view, but never so far out that labels drop under MIN_LABEL_PX: a tall graph
  // (a nested fan-out) then shows its top, centred, and the rest is a pan or a scroll away.
  function fit() {
    cy.fit(undefined, FIT_PADDING);
    if (cy.zoom() > 1.4) cy.zoom({ level: 1.4, renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } });
    if (cy.zoom() >= MIN_FIT_ZOOM) return;
    const box = cy.elements().boundingBox();
    const width = box.w * MIN_FIT_ZOOM;
    cy.zoom(MIN_FIT_ZOOM);
    cy.pan({
      x: width <= cy.width() ? (cy.width() - width) / 2 - box.x1 * MIN_FIT_ZOOM : FIT_PADDING - box.x1 * MIN_FIT_ZOOM,
      y: FIT_PADDING - box.y1 * MIN_FIT_ZOOM,
    });
  }

  function zoomBy(factor) {
    cy.zoom({ level: cy.zoom() * factor, renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } });
  }

  if (toolbar) {
    toolbar.addEventListener("click", (event) => {
      const action = event.target.closest("[data-graph-action]")?.dataset.graphAction;
      if (action === "fit") fit();
      if (action === "zoom-in") zoomBy(1.25);
      if (action === "zoom-out") zoomBy(0.8);
    });
  }
  fit();
  let size = `${container.clientWidth}x${container.clientHeight}`;
  new ResizeObserver(([entry]) => {
    const next = `${Math.round(entry.contentRect.width)}x${Math.round(entry.contentRect.height)}`;
    if (next === size) return;
    size = next;
    cy.resize();
    fit();  // the container changed (window, drawer): keep the whole graph in view
  }).observe(container);

  return {
    cy,
    fit,
    select(name) {
      cy.batch(() => {
        cy.nodes().removeClass("selected-op");
        if (name) cy.getElementById(name).addClass("selected-op");
      });
    },
    // Live state of one node: an extra label line and a state class (running, failed, ...).
    setState(name, line, state) {
      const element = cy.getElementById(name);
      if (!element.nonempty()) return;
      const base = element.data("base");
      const label = line ? `${base}\n${line}` : base;
      if (element.data("label") !== label) element.data({ label, ...labelSize(label) });
      const wanted = state ? `state-${state}` : "";
      for (const name of ["running", "failed", "succeeded", "reused", "skipped"]) {
        const cls = `state-${name}`;
        if (cls === wanted) element.addClass(cls); else element.removeClass(cls);
      }
    },
    node: (name) => byName.get(name),
  };
}
