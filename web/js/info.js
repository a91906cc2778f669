// The info panel: the selected node (its type's description, plugin, status, counters and errors, live, then its
// type's help), a node type picked in the palette (its help), or the flow when nothing is selected.

import { clear, h, humanize } from "./dom.js";
import { typeHelp } from "./type-help.js";

function table(rows) {
  return h("dl.info-table", rows.filter(([, value]) => value !== undefined && value !== null && value !== "").map(([key, value]) => [h("dt", key), h("dd", value)]));
}

export class InfoPanel {
  constructor(element) {
    this.element = element;
  }

  // node: the flow node or null; type: its descriptor; live: {status, counters, errors}; flow: {flow, summary}
  show({ node, type, status, counters, errors, flow, summary }) {
    if (!node) {
      clear(
        this.element,
        h("div.info",
          h("h3.info-title", flow.label),
          flow.description ? h("p.info-description", flow.description) : null,
          table([
            ["id", h("span.mono", flow.id)],
            ["nodes", String(flow.nodes.length)],
            ["file", summary && summary.file ? h("span.mono", summary.file) : "not deployed yet"],
            ["revision", summary && summary.rev ? h("span.mono", summary.rev) : null],
          ]),
          h("p.muted.info-hint", "Select a node to see its description, status and counters.")),
      );
      return;
    }
    const shownCounters = Object.entries(counters || {});
    clear(
      this.element,
      h("div.info",
        h("h3.info-title", h("span.type-chip", { class: `cat-${type ? type.category : "other"}` }, node.type), " ", node.name || node.id),
        type && type.description ? h("p.info-description", type.description) : null,
        table([
          ["id", h("span.mono", node.id)],
          ["category", type && type.category],
          ["plugin", type && type.plugin],
          ["inputs", type ? String(type.inputs) : null],
          ["outputs", type && type.outputs.length ? type.outputs.join(", ") : "none"],
          ["status", status && status.text ? h("span", { class: `status-text level-${status.level || "info"}` }, status.text) : null],
        ]),
        errors && errors.length
          ? h("div.info-errors", h("h4", "Problems"), errors.map((e) => h("div.info-error", e.field ? `${e.field}: ${e.message}` : e.message)))
          : null,
        h("h4", "Counters"),
        shownCounters.length
          ? h("dl.info-table.counters-table", shownCounters.map(([name, value]) => [h("dt", humanize(name)), h("dd.mono", { dataset: { counter: name } }, String(value))]))
          : h("p.muted", "Nothing counted yet (counters come while the flow runs)."),
        type ? h("details.info-help", { open: true }, h("summary", `Help: ${type.type}`), typeHelp(type)) : null,
      ),
    );
  }

  // A node type chosen in the palette: its help alone.
  showType(type) {
    clear(
      this.element,
      h("div.info",
        h("h3.info-title", h("span.type-chip", { class: `cat-${type.category}` }, type.type), " ", humanize(type.category)),
        type.description ? h("p.info-description", type.description) : null,
        table([["plugin", type.plugin]]),
        typeHelp(type),
        h("p.muted.info-hint", "Drag it onto the canvas (or double-click it) to add one.")),
    );
  }
}
