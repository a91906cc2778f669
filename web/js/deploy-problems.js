// What a refused deploy says: every error, named by the node it belongs to (its name or id and type) and the
// field, in a dialog that stays until the user closes it or picks a node to fix (a toast that vanished after a
// few seconds, over the canvas, said neither what nor where).

import { openDialog } from "./dialog.js";
import { h } from "./dom.js";
import { fieldOfPath } from "./schema-form.js";

// errors: [{path, message}] about `nodes` (the nodes sent); openNode(nodeId) opens a node's dialog;
// deployDisabled(nodeIds) deploys with those nodes disabled (offered when only nodes have errors).
export function showDeployProblems({ errors, nodes, openNode, deployDisabled }) {
  const byNode = new Map();
  const general = [];
  for (const error of errors) {
    const match = /^nodes\[(\d+)\]/.exec(error.path || "");
    const node = match && nodes[Number(match[1])];
    if (!node) {
      general.push(error);
      continue;
    }
    const prefix = `nodes[${match[1]}]`;
    const rest = error.path.slice(prefix.length).replace(/^\./, "");
    const where = fieldOfPath(error.path, `${prefix}.config`) || (rest === "config" ? "" : rest); // whole config: no field
    if (!byNode.has(node.id)) byNode.set(node.id, { node, items: [] });
    byNode.get(node.id).items.push(where ? `${where}: ${error.message}` : error.message);
  }
  const count = byNode.size + general.length;
  let dialog;
  const rows = [...byNode.values()].map(({ node, items }) =>
    h(
      "li.problem",
      { dataset: { node: node.id } },
      h("button.problem-node", { type: "button", title: "Open this node", on: { click: () => { dialog.close(); openNode(node.id); } } },
        h("b", node.name || node.id), " ", h("span.type-chip", node.type)),
      h("ul.problem-messages", items.map((item) => h("li.mono", item))),
    ),
  );
  const generalRows = general.map((e) => h("li.problem", h("div.mono", e.path ? `${e.path}: ${e.message}` : e.message)));
  dialog = openDialog({
    title: `Not deployed: ${count} problem${count === 1 ? "" : "s"}`,
    className: "deploy-problems",
    body: h(
      "div",
      h("p", "Nothing was deployed: the running flow is as it was. ",
        byNode.size ? "Open a node to fix it (its errors show at their fields), or deploy the rest and keep these nodes disabled (in the flow, not run) until they are fixed:" : "Fix these first:"),
      h("ul.problem-list", rows, generalRows),
    ),
    buttons: [
      ...(byNode.size && !general.length
        ? [{
            label: `Deploy with ${byNode.size === 1 ? "this node" : `these ${byNode.size} nodes`} disabled`,
            name: "deploy-disabled",
            action: async ({ close }) => {
              close();
              await deployDisabled([...byNode.keys()]);
            },
          }]
        : []),
      { label: "Close", primary: true, action: "cancel" },
    ],
  });
  return dialog;
}
