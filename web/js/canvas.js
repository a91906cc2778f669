// The canvas: a thin adapter over drawflow (web/vendor/drawflow). The flow model lives in flow-model.js; drawflow only
// draws it and reports what the user did, in flow terms (node ids and port names, not drawflow's numbers).

import { h } from "./dom.js";
import { iconHtml } from "./icons.js";

const Drawflow = window.Drawflow;
// Positions snap to this grid (half the dots' spacing): flows line up, and layouts in YAML stay round numbers.
const GRID = 10;
const snap = (value) => Math.round(value / GRID) * GRID;
// Node types with a boolean `active` setting (debug) get an on/off toggle on the canvas.
export function hasActiveToggle(type) {
  return Boolean(type && type.schema.some((field) => field.name === "active" && field.type === "boolean"));
}

export class FlowCanvas extends EventTarget {
  // portsOf(node): the node's output port names (a switch's come from its rules).
  constructor(container, nodeTypes, portsOf) {
    super();
    this.container = container;
    this.nodeTypes = nodeTypes;
    this.portsOf = portsOf;
    this.ports = new Map(); // flow node id -> the output port names drawn
    this.editor = new Drawflow(container);
    this.editor.reroute = false;
    this.editor.curvature = 0.45;
    this.editor.zoom_min = 0.3;
    this.editor.zoom_max = 2;
    this.editor.start();
    this.silent = false;
    this.byFlowId = new Map(); // flow node id -> drawflow id
    this.byDrawflowId = new Map(); // drawflow id -> flow node id
    this.selected = null;
    this.group = new Set(); // flow node ids selected together (Shift+click, Ctrl+A): moved, copied, deleted as one
    this.groupDrag = null;
    this.listen();
  }

  emit(name, detail) {
    if (!this.silent) this.dispatchEvent(new CustomEvent(name, { detail }));
  }

  listen() {
    const editor = this.editor;
    editor.on("nodeMoved", (dfId) => {
      const nodeId = this.byDrawflowId.get(String(dfId));
      if (!nodeId) return;
      const moved = this.groupDrag && this.groupDrag.anchor === nodeId ? [...this.groupDrag.start.keys()] : [nodeId];
      this.groupDrag = null;
      for (const id of moved) {
        const element = this.element(id);
        if (!element) continue;
        // The element's place, not drawflow's pos_x/pos_y: those run one mouse step ahead of it after a drag.
        const x = snap(element.offsetLeft);
        const y = snap(element.offsetTop);
        this.place(this.byFlowId.get(id), x, y);
        this.emit("move", { nodeId: id, x, y });
      }
    });
    // Shift+click adds a node to the selection or takes it out; a plain click on a node outside the selection,
    // or on the background, starts afresh. Capture phase: this runs before drawflow selects the node.
    this.container.addEventListener(
      "mousedown",
      (event) => {
        const element = event.target.closest(".drawflow-node");
        const nodeId = element && this.byDrawflowId.get(element.id.slice(5));
        if (!nodeId) {
          if (!event.target.closest(".connection, .output, .input")) this.setGroup([]);
          return;
        }
        if (event.shiftKey) {
          const members = new Set(this.group);
          if (!members.size && this.selected && this.selected !== nodeId) members.add(this.selected);
          if (members.has(nodeId)) {
            members.delete(nodeId);
            // drawflow selects the clicked node all the same: undo that once it has, or Delete would take it.
            setTimeout(() => { if (this.selected === nodeId) this.deselect(); });
          } else {
            members.add(nodeId);
          }
          this.setGroup(members);
        } else if (!this.group.has(nodeId)) {
          this.setGroup([]);
        }
        if (this.group.has(nodeId) && this.group.size > 1 && !event.target.closest(".output, .input")) {
          const start = new Map();
          for (const id of this.group) {
            const member = this.element(id);
            if (member) start.set(id, { x: member.offsetLeft, y: member.offsetTop });
          }
          this.groupDrag = { anchor: nodeId, start };
        }
      },
      true,
    );
    // While drawflow drags one node of the selection, the others follow it.
    this.container.addEventListener("mousemove", () => {
      const drag = this.groupDrag;
      if (!drag || !editor.drag) return;
      const anchor = this.element(drag.anchor);
      const origin = drag.start.get(drag.anchor);
      if (!anchor || !origin) return;
      const dx = anchor.offsetLeft - origin.x;
      const dy = anchor.offsetTop - origin.y;
      for (const [id, from] of drag.start) {
        if (id !== drag.anchor) this.place(this.byFlowId.get(id), from.x + dx, from.y + dy);
      }
    });
    editor.on("nodeRemoved", (dfId) => {
      // drawflow keeps a removed node selected: a second Delete would throw.
      if (editor.node_selected && editor.node_selected.id === `node-${dfId}`) editor.node_selected = null;
      const nodeId = this.byDrawflowId.get(String(dfId));
      this.byDrawflowId.delete(String(dfId));
      if (nodeId) this.byFlowId.delete(nodeId);
      if (nodeId) this.ports.delete(nodeId);
      if (this.selected === nodeId) this.selected = null;
      this.group.delete(nodeId);
      if (nodeId) this.emit("remove", { nodeId });
    });
    editor.on("connectionCreated", (c) => this.emit("wire", this.wireOf(c)));
    editor.on("connectionRemoved", (c) => {
      const wire = this.wireOf(c);
      if (wire.from && wire.to) this.emit("unwire", wire);
    });
    editor.on("nodeSelected", (dfId) => {
      this.selected = this.byDrawflowId.get(String(dfId)) || null;
      this.highlightWires(dfId);
      this.emit("select", { nodeId: this.selected });
    });
    editor.on("nodeUnselected", () => {
      this.selected = null;
      this.highlightWires(null);
      this.emit("select", { nodeId: null });
    });
    editor.on("zoom", (zoom) => this.emit("zoom", { zoom }));
    this.container.addEventListener("dblclick", (event) => {
      const element = event.target.closest(".drawflow-node");
      const nodeId = element && this.byDrawflowId.get(element.id.slice(5));
      if (nodeId) this.emit("open", { nodeId });
    });
    this.container.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault();
        if (event.deltaY) this.zoomAt(event.clientX, event.clientY, event.deltaY < 0 ? 1 : -1);
      },
      { passive: false },
    );
    // drawflow ends drags on its container's mouseup only: a wire or a node released over the palette or the
    // sidebar would stay half-drawn (and a later Delete would throw on it). End those drags here.
    window.addEventListener("mouseup", (event) => {
      if (!this.container.contains(event.target)) editor.dragEnd(event);
      queueMicrotask(() => { this.groupDrag = null; }); // after drawflow's nodeMoved, which needs it
    });
    this.container.addEventListener("dragover", (event) => event.preventDefault());
    this.container.addEventListener("drop", (event) => {
      event.preventDefault();
      const type = event.dataTransfer.getData("application/x-flowhost-type") || event.dataTransfer.getData("text/plain");
      if (!type || !this.nodeTypes.has(type)) return;
      const { x, y } = this.toCanvas(event.clientX, event.clientY);
      this.emit("add", { type, x: snap(x - 80), y: snap(y - 20) });
    });
  }

  // The wires of the selected node stand out, as in Node-RED.
  highlightWires(dfId) {
    for (const wire of this.container.querySelectorAll(".connection.related")) wire.classList.remove("related");
    if (dfId === null) return;
    for (const wire of this.container.querySelectorAll(`.connection.node_in_node-${dfId}, .connection.node_out_node-${dfId}`)) {
      wire.classList.add("related");
    }
  }

  wireOf(c) {
    const fromNode = this.byDrawflowId.get(String(c.output_id));
    const toNode = this.byDrawflowId.get(String(c.input_id));
    const index = Number(String(c.output_class).replace("output_", "")) - 1;
    const port = fromNode ? (this.ports.get(fromNode) || [])[index] : undefined;
    return { from: fromNode, port, to: toNode };
  }

  place(dfId, x, y) {
    const data = this.editor.drawflow.drawflow.Home.data[dfId];
    data.pos_x = x;
    data.pos_y = y;
    const element = this.container.querySelector(`#node-${dfId}`);
    element.style.left = `${x}px`;
    element.style.top = `${y}px`;
    this.editor.updateConnectionNodes(`node-${dfId}`);
  }

  typeOf(dfId) {
    const data = this.editor.drawflow.drawflow.Home.data[dfId];
    return data ? data.name : null;
  }

  toCanvas(clientX, clientY) {
    const rect = this.editor.precanvas.getBoundingClientRect();
    const zoom = this.editor.zoom;
    return { x: (clientX - rect.x) / zoom, y: (clientY - rect.y) / zoom };
  }

  // The canvas point at the middle of what is visible (where a node added by keyboard or click lands).
  visibleCentre() {
    const rect = this.container.getBoundingClientRect();
    return this.toCanvas(rect.x + rect.width / 2, rect.y + rect.height / 3);
  }

  // The nodes selected together; each is marked on the canvas.
  setGroup(nodeIds) {
    for (const id of this.group) {
      const element = this.element(id);
      if (element) element.classList.remove("grouped");
    }
    this.group = new Set([...nodeIds].filter((id) => this.byFlowId.has(id)));
    if (this.group.size < 2) this.group.clear(); // one node is a plain selection
    for (const id of this.group) this.element(id).classList.add("grouped");
    // drawflow's own selection outside the group would be deleted with it by drawflow's Delete.
    if (this.group.size && this.selected && !this.group.has(this.selected)) this.deselect();
    this.emit("group", { nodeIds: [...this.group] });
  }

  deselect() {
    const editor = this.editor;
    if (editor.node_selected) editor.node_selected.classList.remove("selected");
    editor.node_selected = null;
    this.selected = null;
    this.highlightWires(null);
    this.emit("select", { nodeId: null });
  }

  // Select one node and pan it to the middle of the view (a search result).
  focus(nodeId) {
    const element = this.element(nodeId);
    if (!element) return;
    const editor = this.editor;
    this.setGroup([]);
    if (editor.node_selected) editor.node_selected.classList.remove("selected");
    element.classList.add("selected");
    editor.node_selected = element;
    this.selected = nodeId;
    this.highlightWires(element.id.slice(5));
    const rect = this.container.getBoundingClientRect();
    const x = element.offsetLeft + element.offsetWidth / 2;
    const y = element.offsetTop + element.offsetHeight / 2;
    editor.canvas_x = rect.width / 2 - x * editor.zoom;
    editor.canvas_y = rect.height / 2 - y * editor.zoom;
    editor.precanvas.style.transform = `translate(${editor.canvas_x}px, ${editor.canvas_y}px) scale(${editor.zoom})`;
    this.emit("select", { nodeId });
  }

  selectAll() {
    this.setGroup(this.byFlowId.keys());
  }

  // What Copy and Delete act on: the selection of several nodes, else the selected node.
  selectedNodes() {
    if (this.group.size) return [...this.group];
    return this.selected ? [this.selected] : [];
  }

  render(flow, layout) {
    this.silent = true;
    this.selected = null;
    this.group.clear();
    this.groupDrag = null;
    // drawflow keeps its selection across clear(): Delete would then remove an element that is gone.
    this.editor.node_selected = null;
    this.editor.connection_selected = null;
    try {
      this.editor.clear();
      this.byFlowId.clear();
      this.byDrawflowId.clear();
      this.ports.clear();
      for (const node of flow.nodes) this.drawNode(node, layout[node.id] || { x: 0, y: 0 });
      for (const node of flow.nodes) {
        for (const [port, targets] of Object.entries(node.wires || {})) {
          for (const target of targets || []) this.drawWire(node.id, port, target);
        }
      }
    } finally {
      this.silent = false;
    }
  }

  drawNode(node, position) {
    const type = this.nodeTypes.get(node.type);
    const inputs = type ? (type.inputs ? 1 : 0) : 1;
    const ports = type ? this.portsOf(node) : ["out"];
    const outputs = ports.length;
    const category = type ? type.category : "unknown";
    const icon = h("span.fh-node-icon");
    icon.innerHTML = iconHtml(type);
    const body = h(
      "div.fh-node",
      { dataset: { nodeId: node.id, type: node.type } },
      icon,
      h("div.fh-node-label", node.name || node.id),
      h("div.fh-node-type", { hidden: (node.name || node.id) === node.type }, node.type),
      h("div.fh-node-status", { hidden: true }, h("span.dot"), h("span.text")),
    );
    const wasSilent = this.silent;
    this.silent = true;
    const dfId = String(
      this.editor.addNode(node.type, inputs, outputs, position.x, position.y, `cat-${category}`, { id: node.id }, body.outerHTML),
    );
    this.silent = wasSilent;
    this.byFlowId.set(node.id, dfId);
    this.byDrawflowId.set(dfId, node.id);
    const element = this.element(node.id);
    element.dataset.nodeId = node.id;
    element.dataset.type = node.type;
    if (!type) element.classList.add("unknown-type");
    element.classList.toggle("disabled", Boolean(node.disabled));
    this.ports.set(node.id, ports);
    ports.forEach((port, index) => {
      const output = element.querySelector(`.outputs .output_${index + 1}`);
      if (output) {
        output.dataset.port = port;
        output.title = port;
      }
    });
    if (outputs > 1) element.classList.add("multi-output");
    const input = element.querySelector(".inputs .input_1");
    if (input) input.dataset.port = "in";
    this.addButtons(element, node, type);
    return element;
  }

  // Node-RED's buttons beside a node: inject's on the left (send now), debug's on the right (mute / unmute).
  addButtons(element, node, type) {
    if (type && type.triggerable) {
      element.append(this.nodeButton("fh-inject", "Send this node's message now", "inject", node.id));
    }
    if (hasActiveToggle(type)) {
      const toggle = this.nodeButton("fh-toggle", "", "toggle", node.id);
      element.append(toggle);
      this.showActive(toggle, node);
    }
  }

  nodeButton(className, title, eventName, nodeId) {
    const button = h(`button.fh-node-button.${className}`, { type: "button", title, "aria-label": title });
    // Not drawflow's: a press on the button neither drags nor selects the node, and a double click opens nothing.
    for (const name of ["mousedown", "dblclick"]) button.addEventListener(name, (event) => event.stopPropagation());
    button.addEventListener("click", (event) => {
      event.stopPropagation();
      this.emit(eventName, { nodeId });
    });
    return button;
  }

  showActive(toggle, node) {
    const active = !node.config || node.config.active !== false;
    toggle.classList.toggle("off", !active);
    toggle.setAttribute("aria-pressed", String(active));
    toggle.title = active ? "Showing messages in the debug panel: click to mute" : "Muted: click to show messages again";
    toggle.setAttribute("aria-label", toggle.title);
  }

  drawWire(from, port, to) {
    const fromId = this.byFlowId.get(from);
    const toId = this.byFlowId.get(to);
    const index = (this.ports.get(from) || []).indexOf(port);
    if (!fromId || !toId || index < 0) return;
    const wasSilent = this.silent;
    this.silent = true;
    this.editor.addConnection(fromId, toId, `output_${index + 1}`, "input_1");
    this.silent = wasSilent;
  }

  element(nodeId) {
    const dfId = this.byFlowId.get(nodeId);
    return dfId ? this.container.querySelector(`#node-${dfId}`) : null;
  }

  updateNode(node) {
    const element = this.element(node.id);
    if (!element) return;
    element.querySelector(".fh-node-label").textContent = node.name || node.id;
    element.querySelector(".fh-node-type").hidden = (node.name || node.id) === node.type;
    element.classList.toggle("disabled", Boolean(node.disabled));
    const toggle = element.querySelector(".fh-toggle");
    if (toggle) this.showActive(toggle, node);
  }

  removeSelected() {
    if (this.editor.connection_selected) this.editor.removeConnection();
    else for (const nodeId of this.selectedNodes()) this.removeNode(nodeId);
  }

  // Removes the node and its wires, reported as "unwire" and "remove" events like a user's deletion.
  removeNode(nodeId) {
    const dfId = this.byFlowId.get(nodeId);
    if (dfId) this.editor.removeNodeId(`node-${dfId}`);
  }

  setStatus(nodeId, status) {
    const element = this.element(nodeId);
    if (!element) return;
    const line = element.querySelector(".fh-node-status");
    line.hidden = !status || !status.text;
    if (status && status.text) {
      line.dataset.level = status.level || "info";
      line.querySelector(".text").textContent = status.text;
      line.title = status.text;
    }
  }

  setInvalid(nodeId, messages) {
    const element = this.element(nodeId);
    if (!element) return;
    element.classList.toggle("invalid", Boolean(messages && messages.length));
    element.title = messages && messages.length ? messages.join("\n") : "";
  }

  // One zoom step in (+1) or out (-1), keeping the canvas point under (clientX, clientY) where it is.
  zoomAt(clientX, clientY, direction) {
    const editor = this.editor;
    const zoom = Math.round(Math.min(editor.zoom_max, Math.max(editor.zoom_min, editor.zoom + direction * editor.zoom_value)) * 100) / 100;
    if (zoom === editor.zoom) return;
    const point = this.toCanvas(clientX, clientY);
    const rect = this.container.getBoundingClientRect();
    editor.zoom = zoom;
    editor.zoom_last_value = zoom;
    editor.canvas_x = clientX - rect.x - point.x * zoom;
    editor.canvas_y = clientY - rect.y - point.y * zoom;
    editor.precanvas.style.transform = `translate(${editor.canvas_x}px, ${editor.canvas_y}px) scale(${zoom})`;
    editor.dispatch("zoom", zoom);
  }

  zoomIn() { this.editor.zoom_in(); }
  zoomOut() { this.editor.zoom_out(); }
  zoomReset() { this.editor.zoom_reset(); }

  // Pan so that every node is in view (zoom unchanged unless it does not fit).
  fit(layout) {
    const points = Object.values(layout);
    const editor = this.editor;
    if (!points.length) {
      editor.canvas_x = 0;
      editor.canvas_y = 0;
    } else {
      const minX = Math.min(...points.map((p) => p.x));
      const minY = Math.min(...points.map((p) => p.y));
      editor.canvas_x = (40 - minX) * editor.zoom;
      editor.canvas_y = (40 - minY) * editor.zoom;
    }
    editor.precanvas.style.transform = `translate(${editor.canvas_x}px, ${editor.canvas_y}px) scale(${editor.zoom})`;
  }
}
