// A search over the nodes of every flow (Node-RED's Ctrl+F): by id, name, type or any config value. The flow
// being edited is searched as it is in the editor (undeployed edits included), the others as deployed.

import { openDialog } from "./dialog.js";
import { h } from "./dom.js";

const MAX_RESULTS = 200;

// Where `query` (lower case) occurs in a node: "id", "name", "type" or a config path with its value.
function matchIn(node, query) {
  for (const key of ["id", "name", "type"]) {
    if (node[key] && String(node[key]).toLowerCase().includes(query)) return { where: key, text: String(node[key]) };
  }
  for (const [key, value] of Object.entries(node.config || {})) {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    if (text && text.toLowerCase().includes(query)) return { where: `config.${key}`, text };
  }
  return null;
}

export function searchNodes(flows, rawQuery) {
  const query = rawQuery.trim().toLowerCase();
  if (!query) return [];
  const results = [];
  for (const flow of flows) {
    for (const node of flow.nodes || []) {
      const match = matchIn(node, query);
      if (match) results.push({ flow, node, ...match });
      if (results.length >= MAX_RESULTS) return results;
    }
  }
  return results;
}

// loadFlows(): every flow to search ([{id, label, nodes}]); onPick(flowId, nodeId): show that node.
export function openNodeSearch({ loadFlows, onPick }) {
  const input = h("input#node-search.search-input", { type: "search", placeholder: "id, name, type or a config value", "aria-label": "Search nodes", autocomplete: "off" });
  const list = h("ul.search-results", { role: "listbox" });
  const summary = h("p.muted.search-summary", "Loading the flows…");
  let flows = [];
  const render = () => {
    const results = searchNodes(flows, input.value);
    summary.textContent = input.value.trim()
      ? `${results.length}${results.length >= MAX_RESULTS ? "+" : ""} node${results.length === 1 ? "" : "s"} in ${flows.length} flow${flows.length === 1 ? "" : "s"}`
      : `Search the nodes of ${flows.length} flow${flows.length === 1 ? "" : "s"}`;
    list.replaceChildren(
      ...results.map(({ flow, node, where, text }) =>
        h("li.search-result", { role: "option", dataset: { flow: flow.id, node: node.id } },
          h("button", { type: "button", on: { click: () => { dialog.close(); onPick(flow.id, node.id); } } },
            h("span.search-flow", flow.label || flow.id), " › ", h("b", node.name || node.id), " ", h("span.type-chip", node.type),
            where === "id" || where === "name" ? null : h("div.mono.search-where", `${where}: ${text.length > 80 ? `${text.slice(0, 80)}…` : text}`))),
      ),
    );
  };
  input.addEventListener("input", render);
  input.addEventListener("keydown", (event) => {
    const first = list.querySelector("button");
    if (event.key === "Enter" && first) first.click();
  });
  const dialog = openDialog({
    title: "Search nodes of all flows",
    className: "wide node-search",
    body: h("div", input, summary, list),
    buttons: [{ label: "Close", action: "cancel" }],
  });
  input.focus();
  loadFlows().then((loaded) => {
    flows = loaded;
    render();
  });
  return dialog;
}
