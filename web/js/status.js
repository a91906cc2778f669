// What the running flow says: each node's status (its own, or its connection's state and its counters), the
// Info tab that follows the selection, and the live events from /api/events.

import { api } from "./api.js";

export class StatusBoard {
  constructor(app) {
    this.app = app;
    this.statuses = new Map(); // node id -> {text, level}, as the node reported it
    this.nodeCounters = new Map(); // node id -> {name: count}, from the counters event of the flow
    this.helpType = null; // a node type picked in the palette: its help shows until a node is selected
  }

  clear() {
    this.statuses.clear();
    this.nodeCounters.clear();
  }

  // A node that uses a connection and says nothing itself shows the connection's state and its own counters.
  connectionStatus(node) {
    const { model, connections } = this.app;
    const type = model.nodeTypes.get(node.type);
    const connectionId = type && (type.connectionFields || []).map((name) => (node.config || {})[name]).find(Boolean);
    const connection = connectionId && connections.connections.get(connectionId);
    if (!connection || model.isNew) return null;
    // "processed" (every node with an input has it) says less than the node's own counters.
    let counted = Object.entries(this.nodeCounters.get(node.id) || {}).filter(([, n]) => n);
    if (counted.some(([name]) => name !== "processed")) counted = counted.filter(([name]) => name !== "processed");
    const counts = counted.map(([name, n]) => `${n} ${name}`);
    const named = String(connection.state || "CLOSED").toLowerCase().replace(/_/g, " ");
    if (connection.active === false) return { text: "connection inactive", level: "info" };
    if (connection.state === "OPENED") return { text: ["connected", ...counts].join(" · "), level: "ok" };
    if (connection.state === "OPENING" || connection.state === "AUTHENTICATING") {
      return { text: "connecting…", level: "warning" };
    }
    return { text: connection.lastError ? `${named}: ${connection.lastError}` : named, level: "error" };
  }

  shownStatus(node) {
    if (node.disabled) return { text: "disabled: not run", level: "info" };
    const own = this.statuses.get(node.id);
    return own && own.text ? own : this.connectionStatus(node);
  }

  refresh() {
    const { model, canvas } = this.app;
    if (!model.flow) return;
    for (const node of model.flow.nodes) canvas.setStatus(node.id, this.shownStatus(node));
    this.refreshInfo();
  }

  showTypeHelp(type) {
    this.helpType = type;
    this.app.chrome.showTab("info");
  }

  // The info panel follows the selection; redrawn only while it is in view.
  refreshInfo() {
    const { model, canvas, infoPanel } = this.app;
    if (!infoPanel || !model.flow || document.querySelector("#info-panel").hidden) return;
    const node = canvas.selected ? model.nodeById(canvas.selected) : null;
    if (!node && this.helpType && model.nodeTypes.has(this.helpType)) {
      infoPanel.showType(model.nodeTypes.get(this.helpType));
      return;
    }
    infoPanel.show({
      node,
      type: node && model.nodeTypes.get(node.type),
      status: node && this.shownStatus(node),
      counters: node && this.nodeCounters.get(node.id),
      errors: node && model.nodeErrors.get(node.id),
      flow: model.flow,
      summary: model.summary(),
    });
  }

  async load() {
    const { model } = this.app;
    if (model.isNew) return;
    let result;
    try {
      result = await api.flowStatus(model.flow.id);
    } catch {
      return;
    }
    const nodes = (result && result.nodes) || {};
    const entries = Array.isArray(nodes) ? nodes.map((n) => [n.id, n]) : Object.entries(nodes);
    let portsChanged = false;
    for (const [nodeId, info] of entries) {
      const status = info && (info.status !== undefined ? info.status : info);
      if (status && status.text) this.statuses.set(nodeId, status);
      portsChanged = this.rememberRunningPorts(model.nodeById(nodeId), info) || portsChanged;
    }
    if (portsChanged) this.app.redraw();
    this.refresh();
  }

  // A running node's ports are those of the deployed config: they say what the config shown has while it is that.
  rememberRunningPorts(node, info) {
    const { model, configPorts } = this.app;
    if (!node || !info || !Array.isArray(info.outputs) || !configPorts.fromConfig(node) || model.isDirty()) return false;
    const before = JSON.stringify(configPorts.portsOf(node));
    configPorts.remember(node, info.outputs);
    return JSON.stringify(info.outputs) !== before;
  }

  onEvent(event) {
    const { model, canvas, connections, debugPanel, deployer } = this.app;
    const current = model.flow && event.flow === model.flow.id;
    switch (event.kind) {
      case "status":
        if (current && event.node) this.setStatus(event.node, event.data);
        break;
      case "debug":
        // A muted node's messages stop here at once; the server stops sending them once it is deployed.
        if (!(current && event.node && (model.nodeById(event.node) || {}).config?.active === false)) debugPanel.add(event);
        break;
      case "error":
        debugPanel.add(event);
        if (current && event.node) this.setStatus(event.node, { text: (event.data && event.data.error) || "error", level: "error" });
        break;
      case "connection_state":
        connections.applyEvent(event);
        this.refresh();
        break;
      case "counters": {
        connections.applyEvent(event);
        const running = model.flow && ((event.data || {}).nodes || {})[model.flow.id];
        this.nodeCounters.clear();
        for (const [nodeId, snapshot] of Object.entries(running || {})) this.nodeCounters.set(nodeId, snapshot.counters || {});
        this.refresh();
        break;
      }
      case "deployed":
        if (current) {
          this.statuses.clear();
          this.load().catch(() => {});
          deployer.followRemoteDeploy().catch(() => {});
        }
        break;
      case "stopped":
        if (current) {
          for (const node of model.flow.nodes) canvas.setStatus(node.id, null);
          this.statuses.clear();
        }
        break;
      default:
        break;
    }
  }

  setStatus(nodeId, status) {
    this.statuses.set(nodeId, status);
    this.refresh();
  }
}
