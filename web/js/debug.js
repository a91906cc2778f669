// The debug panel: messages from debug nodes and node errors, newest at the bottom, filterable by node.

import { clear, formatTime, h } from "./dom.js";

const MAX_ENTRIES = 500;

function jsonTree(value, key, depth = 0, expand = depth === 0) {
  const label = key === undefined ? null : h("span.json-key", `${key}: `);
  if (value !== null && typeof value === "object") {
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    const summary = Array.isArray(value) ? `array[${entries.length}]` : `{${entries.slice(0, 3).map(([k]) => k).join(", ")}${entries.length > 3 ? ", …" : ""}}`;
    const details = h("details.json", h("summary", label, h("span.json-summary", summary)));
    details.open = expand;
    details.addEventListener("toggle", () => {
      if (details.open && details.children.length === 1) {
        details.append(h("div.json-children", entries.map(([k, v]) => jsonTree(v, k, depth + 1))));
      }
    }, { once: false });
    if (details.open) details.append(h("div.json-children", entries.map(([k, v]) => jsonTree(v, k, depth + 1))));
    return details;
  }
  const kind = value === null ? "null" : typeof value;
  return h("div.json-leaf", label, h(`span.json-${kind}`, kind === "string" ? JSON.stringify(value) : String(value)));
}

// An object shows its keys at once, one line each, collapsed below: {"DevEUI_uplink": {...}} takes one line.
function payloadView(value) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (!entries.length) return h("div.json-leaf", h("span.json-summary", "{}"));
    return entries.map(([key, child]) => jsonTree(child, key, 1));
  }
  return jsonTree(value, undefined, 0);
}

function parsePayload(payload) {
  if (typeof payload !== "string") return payload;
  try {
    return JSON.parse(payload);
  } catch {
    return payload;
  }
}

export class DebugPanel {
  constructor(element, { nodeLabel, onCountChanged }) {
    this.element = element;
    this.nodeLabel = nodeLabel;
    this.onCountChanged = onCountChanged || (() => {});
    this.entries = [];
    this.nodeFilter = h("select.debug-filter", { "aria-label": "Show messages of", on: { change: () => this.applyFilter() } }, h("option", { value: "" }, "all nodes"));
    this.list = h("div.debug-list", { role: "log" });
    this.emptyNote = h("p.muted.empty-note.debug-empty", "Messages that reach debug nodes, and node errors, appear here as they happen.");
    this.list.append(this.emptyNote);
    clear(
      element,
      h("div.panel-toolbar", this.nodeFilter, h("span.spacer"), h("button.ghost.debug-clear", { type: "button", title: "Clear messages", on: { click: () => this.clear() } }, "Clear")),
      this.list,
    );
    this.knownNodes = new Set();
    this.pending = [];
  }

  // Messages can come faster than anyone reads: they are drawn once per frame, and only the newest MAX_ENTRIES.
  add(event) {
    this.pending.push(event);
    if (this.pending.length > MAX_ENTRIES) this.pending.shift();
    if (this.pending.length === 1) requestAnimationFrame(() => this.flush());
  }

  flush() {
    const events = this.pending;
    this.pending = [];
    if (!events.length) return;
    const stickToBottom = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 24;
    const fragment = document.createDocumentFragment();
    for (const event of events) fragment.append(this.entry(event));
    this.emptyNote.remove();
    this.list.append(fragment);
    while (this.entries.length > MAX_ENTRIES) this.entries.shift().remove();
    if (stickToBottom) this.list.scrollTop = this.list.scrollHeight;
    this.onCountChanged(this.entries.length);
  }

  entry(event) {
    const isError = event.kind === "error";
    const data = event.data || {};
    const nodeKey = `${event.flow || ""}/${event.node || ""}`;
    if (!this.knownNodes.has(nodeKey)) {
      this.knownNodes.add(nodeKey);
      this.nodeFilter.append(h("option", { value: nodeKey }, `${event.node || "?"}${event.flow ? ` (${event.flow})` : ""}`));
    }
    const body = isError ? h("div.debug-error-text", data.error || "error") : h("div.debug-payload", payloadView(parsePayload(data.payload)));
    const entry = h(
      "div.debug-entry",
      { class: isError ? "is-error" : "", dataset: { node: event.node || "", flow: event.flow || "", key: nodeKey } },
      h(
        "div.debug-meta",
        h("span.debug-time", formatTime(event.time || Date.now() / 1000)),
        h("span.debug-node", this.nodeLabel(event)),
        data.topic ? h("span.debug-topic", data.topic) : null,
      ),
      body,
    );
    entry.hidden = Boolean(this.nodeFilter.value) && this.nodeFilter.value !== nodeKey;
    this.entries.push(entry);
    return entry;
  }

  applyFilter() {
    const key = this.nodeFilter.value;
    for (const entry of this.entries) entry.hidden = Boolean(key) && entry.dataset.key !== key;
  }

  clear() {
    this.entries = [];
    this.pending = [];
    clear(this.list, this.emptyNote);
    this.onCountChanged(0);
  }
}
