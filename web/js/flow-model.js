// The flow being edited and what the editor knows around it: the node and connection types, the flows on the
// server, the last deployed version, the undo history and the problems the server found. No DOM here: the
// editor draws what an edit changed and calls `changed()` once per gesture.

import { History } from "./history.js";
import { completeLayout, newNodeId } from "./layout.js";

export const IDENTIFIER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

// What an edit can change (and undo restores): not the id, the revision or the format version.
export function editable(flow) {
  return {
    label: flow.label,
    description: flow.description,
    connections: flow.connections,
    nodes: flow.nodes,
    layout: flow.layout,
  };
}

export function canonical(flow) {
  return JSON.stringify(editable(flow));
}

export function emptyFlow(id) {
  return { flowhost: 1, id, label: id, description: undefined, connections: [], nodes: [], layout: {}, rev: undefined };
}

export function normalise(flow) {
  const nodes = (flow.nodes || []).map((node) => ({ ...node, config: node.config || {}, wires: node.wires || {} }));
  return {
    flowhost: flow.flowhost || 1,
    id: flow.id,
    label: flow.label || flow.id,
    description: flow.description || undefined,
    connections: flow.connections || [],
    nodes,
    layout: completeLayout(nodes, flow.layout || {}),
    rev: flow.rev,
  };
}

export class FlowModel {
  // `onRecorded`: called after an undo step was recorded (the chrome shows dirty state and undo buttons).
  constructor(onRecorded) {
    this.nodeTypes = new Map();
    this.connectionTypes = new Map();
    this.flows = []; // the server's flow summaries
    this.flow = null; // the flow being edited: {flowhost, id, label, description, connections, nodes, layout, rev}
    this.isNew = false; // not on the server yet: the first deploy creates it
    this.deployed = ""; // the canonical text of the last deployed version
    this.nodeErrors = new Map(); // node id -> [{field, message, path}]
    this.generalErrors = []; // errors about the flow that no node owns: [{path, message}]
    this.history = new History(); // the shown flow's; a kept draft keeps its own
    this.onRecorded = onRecorded;
    this.recordPending = false;
  }

  // `draft`: edits kept from an earlier visit (their flow, what was deployed, their undo history).
  load(flow, { isNew = false, draft = null } = {}) {
    this.flow = draft ? draft.flow : normalise(flow);
    this.isNew = isNew;
    // A flow without positions gets them here: that alone is not an undeployed change.
    this.deployed = draft ? draft.deployed : canonical(this.flow);
    this.nodeErrors.clear();
    if (draft) this.history = draft.history;
    else {
      this.history = new History();
      this.history.reset(editable(this.flow));
    }
  }

  changed() {
    // Several drawflow events belong to one gesture (a node and its wires removed): record them as one step.
    if (this.recordPending) return;
    this.recordPending = true;
    queueMicrotask(() => {
      this.recordPending = false;
      this.history.record(editable(this.flow));
      this.onRecorded();
    });
  }

  // An undo or redo snapshot back into the flow; false when there was none.
  restore(snapshot) {
    if (!snapshot) return false;
    // JSON has no undefined: a key missing from the snapshot was undefined when it was taken.
    for (const key of Object.keys(editable(this.flow))) this.flow[key] = snapshot[key];
    return true;
  }

  isDirty() {
    return Boolean(this.flow) && canonical(this.flow) !== this.deployed;
  }

  nodeById(id) {
    return this.flow.nodes.find((node) => node.id === id);
  }

  summary() {
    return this.flows.find((flow) => flow.id === this.flow.id);
  }

  // The body the API validates and stores.
  payload() {
    const flow = this.flow;
    const body = { flowhost: 1, id: flow.id, label: flow.label, connections: flow.connections, nodes: flow.nodes, layout: flow.layout };
    if (flow.description) body.description = flow.description;
    if (flow.rev !== undefined) body.rev = flow.rev;
    return body;
  }

  addNode(type, x, y) {
    const node = { id: newNodeId(type, this.flow.nodes), type, config: {}, wires: {} };
    this.flow.nodes.push(node);
    this.flow.layout[node.id] = { x, y };
    return node;
  }

  removeNode(nodeId) {
    const flow = this.flow;
    flow.nodes = flow.nodes.filter((node) => node.id !== nodeId);
    delete flow.layout[nodeId];
    for (const node of flow.nodes) {
      for (const port of Object.keys(node.wires || {})) {
        node.wires[port] = node.wires[port].filter((target) => target !== nodeId);
        if (!node.wires[port].length) delete node.wires[port];
      }
    }
    this.nodeErrors.delete(nodeId);
  }

  addWire({ from, port, to }) {
    const node = this.nodeById(from);
    if (!node || !port || !to) return false;
    node.wires = node.wires || {};
    const targets = node.wires[port] || (node.wires[port] = []);
    if (!targets.includes(to)) targets.push(to);
    return true;
  }

  removeWire({ from, port, to }) {
    const node = this.nodeById(from);
    if (!node || !node.wires || !node.wires[port]) return false;
    node.wires[port] = node.wires[port].filter((target) => target !== to);
    if (!node.wires[port].length) delete node.wires[port];
    return true;
  }

  moveNode({ nodeId, x, y }) {
    this.flow.layout[nodeId] = { x, y };
  }

  renameNode(oldId, newId) {
    const flow = this.flow;
    this.nodeById(oldId).id = newId;
    flow.layout[newId] = flow.layout[oldId];
    delete flow.layout[oldId];
    for (const node of flow.nodes) {
      for (const port of Object.keys(node.wires || {})) node.wires[port] = node.wires[port].map((t) => (t === oldId ? newId : t));
    }
    if (this.nodeErrors.has(oldId)) {
      this.nodeErrors.set(newId, this.nodeErrors.get(oldId));
      this.nodeErrors.delete(oldId);
    }
  }

  // A new node id for a copy of `original` (the flow's ids so far taken into account).
  newIdLike(original) {
    return newNodeId(original.type, this.flow.nodes);
  }
}
