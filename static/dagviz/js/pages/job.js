// The graph explorer: the job's graph, and the details of the node clicked.

import { pageData } from "../dom.js";
import { createJobGraph } from "../job_graph.js";
import { jsonField } from "../json_field.js";
import { renderNodeDetails } from "../node_details.js";

const { job } = pageData();
const nodes = job.graph.nodes;
const configSchema = jsonField(job.configSchema);
const panel = document.querySelector("[data-testid=node-details]");

const graph = await createJobGraph(document.querySelector("[data-testid=graph-canvas]"), nodes, {
  toolbar: document.querySelector(".graph-toolbar"),
  onSelect: (name) => {
    graph.select(name);
    renderNodeDetails(panel, graph.node(name), configSchema);
  },
});
window.dagvizGraph = graph.cy;
