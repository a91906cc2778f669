// The editor, assembled: one `app` object holds the flow model and the parts of the page, each part a module of
// its own (flow-model, flow-tabs, deploy, status, node-editing, clipboard, chrome, flow-transfer). This module
// loads the node types, builds the parts, turns canvas gestures into model edits and starts the event stream.

import { api, ApiError } from "./api.js";
import { FlowCanvas } from "./canvas.js";
import { Chrome, showLogin } from "./chrome.js";
import { Clipboard } from "./clipboard.js";
import { ConnectionsPanel } from "./connections.js";
import { DebugPanel } from "./debug.js";
import { Deployer } from "./deploy.js";
import { Drafts } from "./drafts.js";
import { EventStream } from "./events.js";
import { FlowModel } from "./flow-model.js";
import { FlowTabs } from "./flow-tabs.js";
import { InfoPanel } from "./info.js";
import { injectNode, toggleActive } from "./node-actions.js";
import { NodeEditor } from "./node-editing.js";
import { Palette } from "./palette.js";
import { ConfigPorts } from "./ports.js";
import { StatusBoard } from "./status.js";
import { toast } from "./toast.js";

const $ = (selector) => document.querySelector(selector);

function createApp(nodeTypes, connectionTypes) {
  const app = { toast, drafts: new Drafts() };
  app.model = new FlowModel(() => app.chrome.refresh());
  const entry = (type) => ({ ...type, type: type.type || type.connectorId, outputs: type.outputs || [], schema: type.fields || [] });
  for (const type of nodeTypes) app.model.nodeTypes.set(type.type, entry(type));
  for (const type of connectionTypes) app.model.connectionTypes.set(type.connectorId, entry(type));
  app.configPorts = new ConfigPorts(app.model.nodeTypes);
  app.canvas = new FlowCanvas($("#canvas"), app.model.nodeTypes, (node) => app.configPorts.portsOf(node));
  app.tabs = new FlowTabs(app, $("#flow-tabs"));
  app.deployer = new Deployer(app);
  app.statusBoard = new StatusBoard(app);
  app.nodeEditor = new NodeEditor(app);
  app.clipboard = new Clipboard(app);
  app.chrome = new Chrome(app);
  app.redraw = () => {
    const { model, canvas } = app;
    canvas.render(model.flow, model.flow.layout);
    for (const [nodeId, errors] of model.nodeErrors) canvas.setInvalid(nodeId, errors.map((e) => e.message));
    app.statusBoard.refresh();
  };
  const restore = (snapshot) => {
    if (!app.model.restore(snapshot)) return;
    app.redraw();
    app.chrome.refresh();
    app.deployer.validateSoon();
  };
  app.undo = () => restore(app.model.history.undo());
  app.redo = () => restore(app.model.history.redo());
  return app;
}

// Canvas gestures become model edits: one undo step each, validated soon after.
function bindCanvas(app) {
  const { model, canvas, deployer, statusBoard } = app;
  const edited = (validate = false) => {
    model.changed();
    if (validate) deployer.validateSoon();
  };
  const addNode = (type, x, y) => {
    const node = model.addNode(type, x, y);
    canvas.drawNode(node, model.flow.layout[node.id]);
    edited(true);
  };
  app.addNodeInView = (type) => {
    const centre = canvas.visibleCentre();
    const offset = (model.flow.nodes.length % 5) * 24;
    addNode(type, Math.round((centre.x - 80 + offset) / 10) * 10, Math.round((centre.y + offset) / 10) * 10);
  };
  canvas.addEventListener("add", (e) => addNode(e.detail.type, e.detail.x, e.detail.y));
  canvas.addEventListener("remove", (e) => {
    model.removeNode(e.detail.nodeId);
    edited();
  });
  canvas.addEventListener("wire", (e) => model.addWire(e.detail) && edited());
  canvas.addEventListener("unwire", (e) => model.removeWire(e.detail) && edited());
  canvas.addEventListener("move", (e) => {
    model.moveNode(e.detail);
    edited();
  });
  canvas.addEventListener("open", (e) => app.nodeEditor.edit(e.detail.nodeId));
  canvas.addEventListener("inject", (e) => {
    const node = model.nodeById(e.detail.nodeId);
    if (node) injectNode({ flowId: model.flow.id, node, deployedText: model.deployed, isNew: model.isNew, toast });
  });
  canvas.addEventListener("toggle", (e) => {
    const node = model.nodeById(e.detail.nodeId);
    if (!node) return;
    const active = toggleActive(node);
    canvas.updateNode(node);
    edited();
    toast(`${node.name || node.id} ${active ? "shows its messages again" : "is muted"}: deploy to keep it so`, "info", 2500);
  });
  canvas.addEventListener("select", () => {
    statusBoard.helpType = null;
    statusBoard.refreshInfo();
  });
  canvas.addEventListener("zoom", (e) => {
    $("#zoom-level").textContent = `${Math.round(e.detail.zoom * 100)}%`;
  });
}

function buildPanels(app) {
  const { model } = app;
  new Palette($("#palette"), model.nodeTypes, app.addNodeInView, (type) => app.statusBoard.showTypeHelp(type));
  app.infoPanel = new InfoPanel($("#info-panel"));
  app.debugPanel = new DebugPanel($("#debug-panel"), {
    nodeLabel: (event) => {
      if (!model.flow || event.flow !== model.flow.id) return `${event.flow || "?"} / ${event.node || "?"}`;
      const node = model.nodeById(event.node);
      return node && node.name ? node.name : event.node || "?";
    },
    onCountChanged: (count) => {
      $("#debug-count").textContent = count ? String(count) : "";
    },
  });
  app.connections = new ConnectionsPanel($("#connections-panel"), model.connectionTypes, {
    toast,
    onChange: (all) => {
      const bad = [...all.values()].filter((c) => c.active !== false && c.state && c.state !== "OPENED").length;
      $("#connections-count").textContent = bad ? String(bad) : "";
    },
  });
}

function startEvents(app) {
  let connectedBefore = false;
  new EventStream("/api/events", (event) => app.statusBoard.onEvent(event), (live) => {
    $("#live").classList.toggle("on", live);
    $("#live").title = live ? "Live: receiving events" : "Not connected to events; retrying";
    // Back after an outage: what happened meanwhile is read again.
    if (live && connectedBefore && app.model.flow) {
      app.statusBoard.load().catch(() => {});
      app.connections.refresh().catch(() => {});
    }
    connectedBefore ||= live;
  }).start();
}

// The token changed (flowhost restarted with another one): ask for the new editor URL.
window.addEventListener("flowhost:unauthorized", () => {
  if (document.body.classList.contains("ready")) showLogin();
});

async function boot() {
  let described;
  try {
    described = await api.nodeTypes();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      showLogin();
      return;
    }
    throw error;
  }
  const app = createApp(described.nodeTypes, described.connectionTypes);
  bindCanvas(app);
  buildPanels(app);
  app.chrome.bind();
  startEvents(app);
  await Promise.all([app.tabs.loadFlows(), app.connections.refresh()]);
  app.connections.startPolling();
  const wanted = decodeURIComponent((location.hash.match(/flow=([^&]+)/) || [])[1] || "");
  const first = app.model.flows.find((flow) => flow.id === wanted) || app.model.flows[0];
  if (first) await app.tabs.openById(first.id);
  else app.tabs.openNew("flow-1");
  document.body.classList.add("ready");
}

boot().catch((error) => {
  console.error(error);
  toast(`The editor could not start: ${error.message}`, "error", 0);
});
