// The palette: every node type of /api/node-types, grouped by category, with a filter box. Drag a type onto the
// canvas, or press Enter / double-click to add it in the middle of the view.

import { clear, h } from "./dom.js";
import { iconHtml } from "./icons.js";

const CATEGORY_ORDER = ["input", "network", "function", "output"];

function categoryRank(category) {
  const index = CATEGORY_ORDER.indexOf(category);
  return index < 0 ? CATEGORY_ORDER.length : index;
}

export class Palette {
  constructor(element, nodeTypes, onAdd, onPick = () => {}) {
    this.element = element;
    this.nodeTypes = [...nodeTypes.values()].sort(
      (a, b) => categoryRank(a.category) - categoryRank(b.category) || a.category.localeCompare(b.category) || a.type.localeCompare(b.type),
    );
    this.onAdd = onAdd;
    this.onPick = onPick; // a click: show the type's help
    this.filter = h("input.palette-filter", {
      type: "search",
      placeholder: "Filter nodes",
      "aria-label": "Filter node types",
      on: { input: () => this.render() },
    });
    this.list = h("div.palette-list");
    clear(element, h("div.palette-head", this.filter), this.list);
    this.render();
  }

  render() {
    const query = this.filter.value.trim().toLowerCase();
    const groups = new Map();
    for (const type of this.nodeTypes) {
      const text = `${type.type} ${type.category} ${type.description || ""} ${type.plugin || ""}`.toLowerCase();
      if (query && !text.includes(query)) continue;
      if (!groups.has(type.category)) groups.set(type.category, []);
      groups.get(type.category).push(type);
    }
    clear(this.list);
    if (!groups.size) this.list.append(h("p.muted.palette-empty", "No node type matches."));
    for (const [category, types] of groups) {
      this.list.append(
        h(
          "section.palette-group",
          { dataset: { category } },
          h("h3", category),
          types.map((type) => this.item(type)),
        ),
      );
    }
  }

  icon(type) {
    const icon = h("span.palette-icon");
    icon.innerHTML = iconHtml(type);
    return icon;
  }

  item(type) {
    return h(
      "div.palette-node",
      {
        class: `cat-${type.category}`,
        draggable: "true",
        tabindex: "0",
        title: `${type.description || type.type}${type.plugin ? `\n\nfrom plugin ${type.plugin}` : ""}`,
        dataset: { type: type.type },
        on: {
          dragstart: (event) => {
            event.dataTransfer.setData("application/x-flowhost-type", type.type);
            event.dataTransfer.setData("text/plain", type.type);
            event.dataTransfer.effectAllowed = "copy";
          },
          click: () => this.onPick(type.type),
          dblclick: () => this.onAdd(type.type),
          keydown: (event) => {
            if (event.key === "Enter") this.onAdd(type.type);
          },
        },
      },
      type.inputs ? h("span.port.in") : null,
      this.icon(type),
      h("span.palette-label", type.type),
      type.outputs.length ? h("span.port.out") : null,
    );
  }
}
