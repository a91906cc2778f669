// The editor: loads node types, flows and connections; keeps the flow being edited (the model) and its undo
// history; turns canvas gestures into model edits; deploys; shows live events.

import { api, ApiError } from "./api.js";
import { FlowCanvas } from "./canvas.js";
import { ConnectionsPanel } from "./connections.js";
import { DebugPanel } from "./debug.js";
import { showDeployProblems } from "./deploy-problems.js";
import { bindDeployMenu, DEPLOY_MODES, deployMode, Drafts } from "./drafts.js";
import { openDialog } from "./dialog.js";
import { clear, h } from "./dom.js";
import { EventStream } from "./events.js";
import { History } from "./history.js";
import { InfoPanel } from "./info.js";
import { completeLayout, newNodeId } from "./layout.js";
import { injectNode, toggleActive } from "./node-actions.js";
import { openNodeDialog } from "./node-dialog.js";
import { Palette } from "./palette.js";
import { ConfigPorts, dropWiresOfMissingPorts } from "./ports.js";
import { fieldOfPath } from "./schema-form.js";
import { openNodeSearch } from "./search.js";

const $ = (selector) => document.querySelector(selector);
const IDENTIFIER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

const state = {
  nodeTypes: new Map(),
  connectionTypes: new Map(),
  flows: [],
  flow: null, // the flow being edited: {flowhost, id, label, description, connections, nodes, layout, rev}
  isNew: false, // not on the server yet: the first deploy creates it
  deployed: "", // the canonical text of the last deployed version
  nodeErrors: new Map(), // node id -> [{field, message}]
  generalErrors: [], // errors about the flow that no node owns: [{path, message}]
};
let history = new History(); // the shown flow's; a kept draft keeps its own
const drafts = new Drafts();
let configPorts;
let canvas;
let connections;
let debugPanel;
let infoPanel;

// -- notifications ------------------------------------------------------------------------------------------

function toast(message, level = "info", timeout = 4000) {
  const item = h("div.toast", { class: `level-${level}`, role: level === "error" ? "alert" : "status" }, message);
  $("#toasts").append(item);
  if (timeout) setTimeout(() => item.remove(), timeout);
  item.addEventListener("click", () => item.remove());
  return item;
}

// -- the model ----------------------------------------------------------------------------------------------

function canonical(flow) {
  return JSON.stringify(editable(flow));
}

function editable(flow) {
  return {
    label: flow.label,
    description: flow.description,
    connections: flow.connections,
    nodes: flow.nodes,
    layout: flow.layout,
  };
}

let recordPending = false;
function changed() {
  // Several drawflow events belong to one gesture (a node and its wires removed): record them as one step.
  if (recordPending) return;
  recordPending = true;
  queueMicrotask(() => {
    recordPending = false;
    history.record(editable(state.flow));
    refreshChrome();
  });
}

function nodeById(id) {
  return state.flow.nodes.find((node) => node.id === id);
}

function addNode(type, x, y) {
  const flow = state.flow;
  const node = { id: newNodeId(type, flow.nodes), type, config: {}, wires: {} };
  flow.nodes.push(node);
  flow.layout[node.id] = { x, y };
  canvas.drawNode(node, flow.layout[node.id]);
  changed();
  validateSoon();
  return node;
}

function addNodeInView(type) {
  const centre = canvas.visibleCentre();
  const offset = (state.flow.nodes.length % 5) * 24;
  addNode(type, Math.round((centre.x - 80 + offset) / 10) * 10, Math.round((centre.y + offset) / 10) * 10);
}

// Copy and paste within the editor: pasted nodes keep their config and the wires between them (not those to nodes
// left out), get new ids, and land beside the originals; several pasted nodes stay selected together.
let copied = null;

function copySelected() {
  const nodes = canvas.selectedNodes().map(nodeById).filter(Boolean);
  if (!nodes.length) return;
  copied = {
    nodes: JSON.parse(JSON.stringify(nodes)),
    at: Object.fromEntries(nodes.map((node) => [node.id, { ...state.flow.layout[node.id] }])),
  };
}

function paste() {
  if (!copied) return;
  const flow = state.flow;
  const newIds = new Map();
  for (const original of copied.nodes) {
    const node = { ...JSON.parse(JSON.stringify(original)), id: newNodeId(original.type, flow.nodes), wires: {} };
    delete node.name;
    newIds.set(original.id, node.id);
    copied.at[original.id] = { x: copied.at[original.id].x + 40, y: copied.at[original.id].y + 40 };
    flow.nodes.push(node);
    flow.layout[node.id] = { ...copied.at[original.id] };
    canvas.drawNode(node, flow.layout[node.id]);
  }
  for (const original of copied.nodes) {
    const node = nodeById(newIds.get(original.id));
    for (const [port, targets] of Object.entries(original.wires || {})) {
      const kept = (targets || []).filter((target) => newIds.has(target)).map((target) => newIds.get(target));
      if (!kept.length) continue;
      node.wires[port] = kept;
      for (const target of kept) canvas.drawWire(node.id, port, target);
    }
  }
  if (newIds.size > 1) canvas.setGroup(newIds.values());
  changed();
  validateSoon();
}

function removeNode(nodeId) {
  const flow = state.flow;
  flow.nodes = flow.nodes.filter((node) => node.id !== nodeId);
  delete flow.layout[nodeId];
  for (const node of flow.nodes) {
    for (const port of Object.keys(node.wires || {})) {
      node.wires[port] = node.wires[port].filter((target) => target !== nodeId);
      if (!node.wires[port].length) delete node.wires[port];
    }
  }
  state.nodeErrors.delete(nodeId);
  changed();
}

function addWire({ from, port, to }) {
  const node = nodeById(from);
  if (!node || !port || !to) return;
  node.wires = node.wires || {};
  const targets = node.wires[port] || (node.wires[port] = []);
  if (!targets.includes(to)) targets.push(to);
  changed();
}

function removeWire({ from, port, to }) {
  const node = nodeById(from);
  if (!node || !node.wires || !node.wires[port]) return;
  node.wires[port] = node.wires[port].filter((target) => target !== to);
  if (!node.wires[port].length) delete node.wires[port];
  changed();
}

function moveNode({ nodeId, x, y }) {
  state.flow.layout[nodeId] = { x, y };
  changed();
}

function restore(snapshot) {
  if (!snapshot) return;
  // JSON has no undefined: a key missing from the snapshot was undefined when it was taken.
  for (const key of Object.keys(editable(state.flow))) state.flow[key] = snapshot[key];
  redraw();
  refreshChrome();
  validateSoon();
}

function redraw() {
  canvas.render(state.flow, state.flow.layout);
  for (const [nodeId, errors] of state.nodeErrors) canvas.setInvalid(nodeId, errors.map((e) => e.message));
  refreshStatuses();
}

// -- flows --------------------------------------------------------------------------------------------------

function emptyFlow(id) {
  return { flowhost: 1, id, label: id, description: undefined, connections: [], nodes: [], layout: {}, rev: undefined };
}

function normalise(flow) {
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

// `draft`: edits kept from an earlier visit (their flow, what was deployed, their undo history).
function open(flow, { isNew = false, draft = null } = {}) {
  state.flow = draft ? draft.flow : normalise(flow);
  state.isNew = isNew;
  // A flow without positions gets them here: that alone is not an undeployed change.
  // A new flow has nothing to deploy until it has a change.
  state.deployed = draft ? draft.deployed : canonical(state.flow);
  state.nodeErrors.clear();
  statuses.clear();
  nodeCounters.clear();
  if (draft) history = draft.history;
  else {
    history = new History();
    history.reset(editable(state.flow));
  }
  redraw();
  canvas.fit(state.flow.layout);
  renderFlowTabs();
  refreshChrome();
  loadStatus().catch(() => {});
  validateSoon();
  rememberFlow();
}

// The address names the flow, so that a reload opens it again.
function rememberFlow() {
  window.history.replaceState(null, "", `/#flow=${encodeURIComponent(state.flow.id)}`);
}

async function loadFlows() {
  state.flows = (await api.flows()).flows;
}

async function openFlowById(flowId) {
  open(await api.flow(flowId));
}

// Leaving a flow with edits keeps them, to come back to or to deploy with the others.
function keepDraft() {
  if (!state.flow) return;
  if (isDirty()) drafts.keep(state.flow.id, { flow: state.flow, deployed: state.deployed, isNew: state.isNew, history });
  else drafts.take(state.flow.id);
}

async function showFlow(flowId) {
  const draft = drafts.take(flowId);
  if (draft) open(draft.flow, { isNew: draft.isNew, draft });
  else await openFlowById(flowId);
}

function renderFlowTabs() {
  const tabs = $("#flow-tabs");
  const entries = state.flows.map((flow) => ({ id: flow.id, label: flow.label || flow.id }));
  for (const [id, draft] of drafts.entries()) {
    if (!entries.some((entry) => entry.id === id)) entries.push({ id, label: draft.flow.label });
  }
  if (state.flow && !entries.some((entry) => entry.id === state.flow.id)) entries.push({ id: state.flow.id, label: state.flow.label });
  clear(
    tabs,
    entries.map((entry) =>
      h(
        "button.flow-tab",
        {
          type: "button",
          class: [state.flow && entry.id === state.flow.id ? "active" : "", drafts.has(entry.id) ? "dirty" : ""].join(" ").trim(),
          dataset: { flow: entry.id },
          title: `${entry.label} (${entry.id}) · double-click for its properties`,
          on: { click: () => switchFlow(entry.id), dblclick: () => editFlowProperties() },
        },
        entry.label,
      ),
    ),
    h("button.icon.flow-add", { type: "button", title: "New flow", "aria-label": "New flow", on: { click: newFlow } }, "+"),
  );
}

// Label and description are edits like any other (undo, deploy); deleting a flow stops it at once.
function editFlowProperties() {
  const flow = state.flow;
  const summary = state.flows.find((f) => f.id === flow.id) || {};
  const label = h("input#flow-label", { type: "text", value: flow.label });
  const description = h("textarea#flow-description", { rows: 3 });
  description.value = flow.description || "";
  // The id names the flow's file: it can change until the first deploy.
  const idInput = h("input#flow-id.mono", { type: "text", value: flow.id, readOnly: !state.isNew, spellcheck: "false" });
  const idError = h("div.field-error");
  const buttons = [
    { label: "Cancel", action: "cancel" },
    {
      label: "Done",
      primary: true,
      action: ({ close }) => {
        const newId = idInput.value.trim();
        const taken = newId !== flow.id && state.flows.some((f) => f.id === newId);
        idError.textContent = !IDENTIFIER.test(newId) ? "use letters, digits, '_', '-', '.'" : taken ? `flow ${newId} exists` : "";
        if (idError.textContent) return;
        if (flow.label === flow.id && !label.value.trim()) label.value = newId;
        flow.id = newId;
        rememberFlow();
        flow.label = label.value.trim() || flow.id;
        flow.description = description.value.trim() || undefined;
        close();
        renderFlowTabs();
        changed();
      },
    },
  ];
  if (!state.isNew) {
    buttons.unshift({
      label: "Delete flow",
      name: "delete-flow",
      danger: true,
      action: async ({ close, showError }) => {
        if (!window.confirm(`Stop and delete flow ${flow.label}?`)) return;
        try {
          await api.deleteFlow(flow.id);
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          showError(error.message);
          return;
        }
        close();
        state.deployed = canonical(state.flow);
        await loadFlows();
        if (state.flows.length) await showFlow(state.flows[0].id);
        else open(emptyFlow("flow-1"), { isNew: true });
        toast(`Flow ${flow.label} deleted`, "ok");
      },
    });
  }
  openDialog({
    title: "Flow properties",
    body: h(
      "div",
      h("div.field", h("label", { for: "flow-label" }, "Label"), h("div.control", label)),
      h("div.field", h("label", { for: "flow-id" }, "ID"), h("div.control", idInput), idError,
        h("div.field-hint", summary.file ? `stored in ${summary.file}` : "not deployed yet: the id can still change")),
      h("div.field", h("label", { for: "flow-description" }, "Description"), h("div.control", description)),
    ),
    buttons,
  });
  label.focus();
}

async function switchFlow(flowId) {
  if (state.flow && flowId === state.flow.id) return;
  keepDraft();
  await showFlow(flowId);
}

function newFlow() {
  keepDraft();
  const taken = new Set([...state.flows.map((flow) => flow.id), ...drafts.ids()]);
  let n = state.flows.length + 1;
  while (taken.has(`flow-${n}`)) n++;
  open(emptyFlow(`flow-${n}`), { isNew: true });
}

function isDirty() {
  return state.flow && canonical(state.flow) !== state.deployed;
}

// How many flows Deploy would deploy now.
function flowsToDeploy() {
  const others = deployMode() === "changed" ? drafts.ids().filter((id) => id !== state.flow.id).length : 0;
  return others + (isDirty() ? 1 : 0);
}

function refreshChrome() {
  const dirty = isDirty();
  const count = flowsToDeploy();
  const deploy = $("#deploy");
  deploy.disabled = !count;
  deploy.classList.toggle("dirty", Boolean(count));
  deploy.querySelector(".label").textContent = count > 1 ? `Deploy ${count} flows` : count ? "Deploy" : "Deployed";
  deploy.title = `${DEPLOY_MODES[deployMode()]} (choose with ▾)`;
  for (const item of document.querySelectorAll("#deploy-menu [data-mode]")) {
    item.setAttribute("aria-checked", String(item.dataset.mode === deployMode()));
  }
  $("#undo").disabled = !history.canUndo;
  $("#redo").disabled = !history.canRedo;
  $("#export").disabled = state.isNew;
  const tab = document.querySelector(".flow-tab.active");
  if (tab) {
    tab.textContent = state.flow.label;
    tab.classList.toggle("dirty", Boolean(dirty));
  }
  document.title = `${dirty ? "● " : ""}${state.flow.label} · flowhost`;
  $("#empty-hint").hidden = state.flow.nodes.length > 0;
}

// -- validation and errors ----------------------------------------------------------------------------------

function payload() {
  const flow = state.flow;
  const body = { flowhost: 1, id: flow.id, label: flow.label, connections: flow.connections, nodes: flow.nodes, layout: flow.layout };
  if (flow.description) body.description = flow.description;
  if (flow.rev !== undefined) body.rev = flow.rev;
  return body;
}

// Server errors are about `payload()`: nodes[i] is the i-th node of the flow sent.
function applyErrors(errors, nodes) {
  const previous = [...state.nodeErrors.keys()];
  state.nodeErrors.clear();
  const general = [];
  for (const error of errors) {
    const match = /^nodes\[(\d+)\](.*)$/.exec(error.path || "");
    const node = match && nodes[Number(match[1])];
    if (!node) {
      general.push(error);
      continue;
    }
    const field = fieldOfPath(error.path, `nodes[${match[1]}].config`);
    const list = state.nodeErrors.get(node.id) || [];
    list.push({ field, message: error.message, path: error.path });
    state.nodeErrors.set(node.id, list);
  }
  for (const nodeId of new Set([...previous, ...state.nodeErrors.keys()])) {
    const list = state.nodeErrors.get(nodeId);
    canvas.setInvalid(nodeId, list ? list.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)) : null);
  }
  state.generalErrors = general;
  const problems = $("#problems");
  const count = state.nodeErrors.size + general.length;
  problems.hidden = count === 0;
  problems.textContent = `${count} problem${count === 1 ? "" : "s"}`;
  return general;
}

function showFirstProblem() {
  const [nodeId] = state.nodeErrors.keys();
  if (nodeId) editNode(nodeId);
  else toast(h("div", state.generalErrors.map((e) => h("div.mono", e.path ? `${e.path}: ${e.message}` : e.message))), "error", 8000);
}

let validateTimer = null;
function validateSoon() {
  clearTimeout(validateTimer);
  validateTimer = setTimeout(() => validate().catch(() => {}), 300);
}

let validations = 0;

// The flow's errors from the server; only the newest answer marks the canvas (answers can overtake each other).
async function validate(flowBody = payload()) {
  const number = ++validations;
  const result = await api.validateFlow(flowBody, state.isNew);
  const errors = result && Array.isArray(result.errors) ? result.errors : [];
  if (number === validations) applyErrors(errors, flowBody.nodes);
  return errors;
}

// -- deploy -------------------------------------------------------------------------------------------------

let deploying = false;

async function deploy() {
  deploying = true;
  const body = payload();
  const sent = canonical(state.flow); // edits made while the request runs are still undeployed after it
  const button = $("#deploy");
  button.classList.add("busy");
  try {
    const saved = state.isNew ? await api.createFlow(body) : await api.saveFlow(body);
    const rev = saved && saved.rev !== undefined ? saved.rev : undefined;
    state.flow.rev = rev;
    state.isNew = false;
    state.deployed = sent;
    applyErrors([], body.nodes);
    await loadFlows();
    renderFlowTabs();
    rememberFlow();
    toast("Deployed", "ok", 2500);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 409 && state.isNew) {
      toast(`${error.message}. Give this flow another id: double-click its tab.`, "error", 10000);
    } else if (error.status === 409) explainConflict(error);
    else if (error.status === 400 || error.status === 422) {
      applyErrors(error.errors, body.nodes);
      showDeployProblems({ errors: error.errors, nodes: body.nodes, openNode: editNode, deployDisabled });
    } else toast(`Deploy failed: ${error.message}`, "error", 10000);
  } finally {
    button.classList.remove("busy");
    deploying = false;
    refreshChrome();
  }
}

// "All flows with changes": the others first, then the one shown; a refused one stays open with its problems.
async function deployChosen() {
  const start = state.flow.id;
  if (deployMode() === "flow" || !drafts.ids().some((id) => id !== start)) {
    await deploy();
    return;
  }
  keepDraft();
  const order = [...drafts.ids().filter((id) => id !== start), ...(drafts.has(start) ? [start] : [])];
  for (const flowId of order) {
    await showFlow(flowId);
    await deploy();
    if (isDirty()) return;
  }
  if (state.flow.id !== start) await switchFlow(start);
  toast(`Deployed ${order.length} flows`, "ok", 2500);
}

// Node-RED's "deploy anyway": the nodes with errors stay in the flow, disabled (not run) until fixed.
async function deployDisabled(nodeIds) {
  for (const nodeId of nodeIds) {
    const node = nodeById(nodeId);
    if (node) {
      node.disabled = true;
      canvas.updateNode(node);
    }
  }
  changed();
  await deploy();
  refreshStatuses();
}

function explainConflict(error) {
  openDialog({
    title: "Someone else deployed this flow",
    className: "conflict",
    body: h(
      "div",
      h("p", `The flow “${state.flow.label}” was changed on the server after you opened it. `,
        "Deploying now would overwrite those changes, so nothing was deployed."),
      h("p.mono.conflict-detail", error.message),
      h("p.muted", "Load the server's version and redo your change on top of it (your undeployed edits here are dropped), or keep editing to look them over first."),
    ),
    buttons: [
      { label: "Keep editing", action: "cancel" },
      {
        label: "Load server version",
        name: "reload",
        primary: true,
        action: async ({ close }) => {
          close();
          await openFlowById(state.flow.id);
        },
      },
    ],
  });
}

// -- node dialog --------------------------------------------------------------------------------------------

// Which connection ids a field naming a connection can take: the API's connections and the flow's own.
function connectionChoices(type, current) {
  const names = new Set([...(type.connectionFields || []), ...type.schema.filter((f) => f.format === "connection").map((f) => f.name)]);
  const choices = {};
  for (const name of names) {
    const options = [
      ...[...connections.connections.values()].map((c) => [c.id, c.name && c.name !== c.id ? `${c.name} (${c.id})` : c.id]),
      ...state.flow.connections.map((c) => [c.id, `${c.name || c.id} (in this flow)`]),
    ];
    const value = current[name];
    if (value !== undefined && !options.some(([id]) => id === value)) options.push([value, `${value} (not found)`]);
    choices[name] = options;
  }
  return choices;
}

function editNode(nodeId) {
  const node = nodeById(nodeId);
  if (!node) return;
  const type = state.nodeTypes.get(node.type);
  if (!type) {
    toast(`No installed plugin provides node type ${node.type}`, "error");
    return;
  }
  openNodeDialog({
    node,
    type,
    flowId: state.flow.id,
    choices: connectionChoices(type, node.config || {}),
    knownErrors: state.nodeErrors.get(nodeId) || [],
    needsConnection: (type.connectionFields || []).length > 0 && !connections.connections.size && !state.flow.connections.length,
    idProblem: (newId) => (newId === nodeId ? null : !IDENTIFIER.test(newId) ? "use letters, digits, '_', '-', '.'" : nodeById(newId) ? `another node is called ${newId}` : null),
    check: (candidate) => checkCandidate(node, candidate),
    async apply(candidate, newId) {
      const ports = await portsOfCandidate(node, candidate);
      Object.keys(node).forEach((key) => delete node[key]);
      Object.assign(node, candidate);
      const dropped = ports ? dropWiresOfMissingPorts(node, ports) : [];
      if (newId !== nodeId) renameNode(nodeId, newId);
      if (newId !== nodeId || configPorts.fromConfig(node)) redraw();
      else canvas.updateNode(node);
      changed();
      validateSoon();
      if (dropped.length) offerUndo(`Removed the wires of ${dropped.map((port) => `“${port}”`).join(", ")}: ${newId} has no such port now`);
    },
    remove: () => canvas.removeNode(nodeId),
    addConnection: () => {
      showTab("connections");
      connections.edit(null);
    },
  });
}

// The candidate's errors, without marking the canvas or the problems count (the user may still cancel it).
async function checkCandidate(node, candidate) {
  const index = state.flow.nodes.indexOf(node);
  const body = payload();
  body.nodes = state.flow.nodes.map((n, i) => (i === index ? candidate : n));
  const prefix = `nodes[${index}]`;
  const result = await api.validateFlow(body, state.isNew);
  const errors = result && Array.isArray(result.errors) ? result.errors : [];
  // Wires from ports the new config no longer has are removed when it is applied.
  const wiresGo = configPorts.fromConfig(candidate);
  return errors
    .filter((e) => e.path === prefix || (e.path || "").startsWith(`${prefix}.`) || (e.path || "").startsWith(`${prefix}[`))
    .filter((e) => !(wiresGo && (e.path || "").startsWith(`${prefix}.wires`)))
    .map((e) => ({ field: fieldOfPath(e.path, `${prefix}.config`), message: e.message }));
}

// The ports a config gives (a switch's rules), asked only of a config that is valid (a refused one keeps the
// ports drawn); null when the type's ports do not come from its config.
async function portsOfCandidate(node, candidate) {
  if (!configPorts.fromConfig(candidate)) return null;
  if ((await checkCandidate(node, candidate)).length) return null;
  try {
    return await configPorts.ask(candidate);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return null;
  }
}

function offerUndo(message) {
  const undo = h("button.small.toast-undo", { type: "button", on: { click: () => restore(history.undo()) } }, "Undo");
  toast(h("span", message, " ", undo), "info", 10000);
}

function renameNode(oldId, newId) {
  const flow = state.flow;
  nodeById(oldId).id = newId;
  flow.layout[newId] = flow.layout[oldId];
  delete flow.layout[oldId];
  for (const node of flow.nodes) {
    for (const port of Object.keys(node.wires || {})) node.wires[port] = node.wires[port].map((t) => (t === oldId ? newId : t));
  }
  if (state.nodeErrors.has(oldId)) {
    state.nodeErrors.set(newId, state.nodeErrors.get(oldId));
    state.nodeErrors.delete(oldId);
  }
}

// -- search ---------------------------------------------------------------------------------------------------

// The flow being edited as it is here; the others as the server has them.
async function allFlowsForSearch() {
  await loadFlows();
  const others = state.flows.filter((flow) => flow.id !== state.flow.id);
  const loaded = await Promise.all(others.map((flow) => api.flow(flow.id).catch(() => null)));
  return [state.flow, ...loaded.filter(Boolean)];
}

function searchNodes() {
  openNodeSearch({
    loadFlows: allFlowsForSearch,
    onPick: async (flowId, nodeId) => {
      if (flowId !== state.flow.id) await switchFlow(flowId);
      canvas.focus(nodeId);
    },
  });
}

// -- import / export ----------------------------------------------------------------------------------------

async function exportFlow() {
  let text;
  try {
    text = await api.flowYaml(state.flow.id);
  } catch (error) {
    toast(`Export failed: ${error.message}`, "error");
    return;
  }
  const area = h("textarea.yaml", { readOnly: true, spellcheck: "false", rows: 22 });
  area.value = text;
  const link = h("a.button", { href: URL.createObjectURL(new Blob([text], { type: "application/yaml" })), download: `${state.flow.id}.yaml` }, "Download");
  openDialog({
    title: `Export ${state.flow.id}.yaml`,
    className: "wide",
    body: h("div", isDirty() ? h("p.muted", "This is the deployed version; deploy first to include your latest edits.") : null, area, h("div.dialog-inline", link)),
    buttons: [
      { label: "Copy", action: async () => { await navigator.clipboard.writeText(text).catch(() => area.select()); toast("Copied", "ok", 1500); } },
      { label: "Close", primary: true, action: "cancel" },
    ],
  });
}

function importFlow() {
  const area = h("textarea#import-text.yaml", { spellcheck: "false", rows: 18, placeholder: "flowhost: 1\nid: my-flow\nnodes: ..." });
  const file = h("input", { type: "file", accept: ".yaml,.yml", on: { change: async () => { if (file.files.length) area.value = await file.files[0].text(); } } });
  openDialog({
    title: "Import a flow (YAML)",
    className: "wide",
    body: h("div", h("p.muted", "Paste a flow file or load one. flowhost stores it and runs it; it then opens here."), h("label.file-button", "Load file…", file), area),
    buttons: [
      { label: "Cancel", action: "cancel" },
      {
        label: "Import",
        primary: true,
        action: async ({ close, showError }) => {
          try {
            // The server stores and deploys an imported flow (an existing id is a conflict, not an overwrite).
            const flow = await api.importFlow(area.value);
            close();
            await loadFlows();
            open(flow);
            toast(`Imported and deployed ${flow.id}`, "ok");
          } catch (error) {
            if (!(error instanceof ApiError)) throw error;
            showError(error.errors.map((e) => (e.line ? `line ${e.line}: ` : "") + (e.path ? `${e.path}: ` : "") + e.message).join("\n"));
          }
        },
      },
    ],
  });
  area.focus();
}

// Another editor or a script deployed the flow shown here: show the new version when nothing would be lost.
async function followRemoteDeploy() {
  if (deploying || isDirty() || state.isNew) return;
  const flow = await api.flow(state.flow.id);
  if (deploying || isDirty() || flow.rev === state.flow.rev) return;
  open(flow);
  toast("This flow was deployed from elsewhere; showing the new version", "info");
}

// -- live status and events ---------------------------------------------------------------------------------

const statuses = new Map(); // node id -> {text, level}, as the node reported it
const nodeCounters = new Map(); // node id -> {name: count}, from the counters event of the flow

// A node that uses a connection and says nothing itself shows the connection's state and its own counters.
function connectionStatus(node) {
  const type = state.nodeTypes.get(node.type);
  const connectionId = type && (type.connectionFields || []).map((name) => (node.config || {})[name]).find(Boolean);
  const connection = connectionId && connections.connections.get(connectionId);
  if (!connection || state.isNew) return null;
  // "processed" (every node with an input has it) says less than the node's own counters.
  let counted = Object.entries(nodeCounters.get(node.id) || {}).filter(([, n]) => n);
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

function shownStatus(node) {
  if (node.disabled) return { text: "disabled: not run", level: "info" };
  const own = statuses.get(node.id);
  return own && own.text ? own : connectionStatus(node);
}

function refreshStatuses() {
  if (!state.flow) return;
  for (const node of state.flow.nodes) canvas.setStatus(node.id, shownStatus(node));
  refreshInfo();
}

// A node type picked in the palette: its help shows in the info panel until a node is selected.
let helpType = null;

function showTypeHelp(type) {
  helpType = type;
  showTab("info");
}

// The info panel follows the selection; redrawn only while it is in view.
function refreshInfo() {
  if (!infoPanel || !state.flow || $("#info-panel").hidden) return;
  const node = canvas.selected ? nodeById(canvas.selected) : null;
  if (!node && helpType && state.nodeTypes.has(helpType)) {
    infoPanel.showType(state.nodeTypes.get(helpType));
    return;
  }
  infoPanel.show({
    node,
    type: node && state.nodeTypes.get(node.type),
    status: node && shownStatus(node),
    counters: node && nodeCounters.get(node.id),
    errors: node && state.nodeErrors.get(node.id),
    flow: state.flow,
    summary: state.flows.find((f) => f.id === state.flow.id),
  });
}

async function loadStatus() {
  if (state.isNew) return;
  let result;
  try {
    result = await api.flowStatus(state.flow.id);
  } catch {
    return;
  }
  const nodes = (result && result.nodes) || {};
  const entries = Array.isArray(nodes) ? nodes.map((n) => [n.id, n]) : Object.entries(nodes);
  let portsChanged = false;
  for (const [nodeId, info] of entries) {
    const status = info && (info.status !== undefined ? info.status : info);
    if (status && status.text) statuses.set(nodeId, status);
    portsChanged = rememberRunningPorts(nodeById(nodeId), info) || portsChanged;
  }
  if (portsChanged) redraw();
  refreshStatuses();
}

// A running node's ports are those of the deployed config: they say what the config shown has while it is that.
function rememberRunningPorts(node, info) {
  if (!node || !info || !Array.isArray(info.outputs) || !configPorts.fromConfig(node) || isDirty()) return false;
  const before = JSON.stringify(configPorts.portsOf(node));
  configPorts.remember(node, info.outputs);
  return JSON.stringify(info.outputs) !== before;
}

function onEvent(event) {
  const current = state.flow && event.flow === state.flow.id;
  switch (event.kind) {
    case "status":
      if (current && event.node) {
        statuses.set(event.node, event.data);
        refreshStatuses();
      }
      break;
    case "debug":
      // A muted node's messages stop here at once; the server stops sending them once it is deployed.
      if (!(current && event.node && (nodeById(event.node) || {}).config?.active === false)) debugPanel.add(event);
      break;
    case "error":
      debugPanel.add(event);
      if (current && event.node) {
        statuses.set(event.node, { text: (event.data && event.data.error) || "error", level: "error" });
        refreshStatuses();
      }
      break;
    case "connection_state":
      connections.applyEvent(event);
      refreshStatuses();
      break;
    case "counters": {
      connections.applyEvent(event);
      const running = state.flow && ((event.data || {}).nodes || {})[state.flow.id];
      nodeCounters.clear();
      for (const [nodeId, snapshot] of Object.entries(running || {})) nodeCounters.set(nodeId, snapshot.counters || {});
      refreshStatuses();
      break;
    }
    case "deployed":
      if (current) {
        statuses.clear();
        loadStatus().catch(() => {});
        followRemoteDeploy().catch(() => {});
      }
      break;
    case "stopped":
      if (current) {
        for (const node of state.flow.nodes) canvas.setStatus(node.id, null);
        statuses.clear();
      }
      break;
    default:
      break;
  }
}

// -- wiring the page ----------------------------------------------------------------------------------------

function showTab(name) {
  for (const tab of document.querySelectorAll(".sidebar-tab")) {
    tab.classList.toggle("active", tab.dataset.tab === name);
    tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
  }
  for (const panel of document.querySelectorAll(".sidebar-panel")) panel.hidden = panel.dataset.panel !== name;
  refreshInfo();
}

function bindChrome() {
  $("#deploy").addEventListener("click", deployChosen);
  bindDeployMenu($("#deploy-menu"), $("#deploy-mode"), refreshChrome);
  $("#problems").addEventListener("click", showFirstProblem);
  $("#undo").addEventListener("click", () => restore(history.undo()));
  $("#redo").addEventListener("click", () => restore(history.redo()));
  $("#export").addEventListener("click", exportFlow);
  $("#import").addEventListener("click", importFlow);
  $("#search").addEventListener("click", searchNodes);
  $("#zoom-in").addEventListener("click", () => canvas.zoomIn());
  $("#zoom-out").addEventListener("click", () => canvas.zoomOut());
  $("#zoom-reset").addEventListener("click", () => { canvas.zoomReset(); canvas.fit(state.flow.layout); });
  for (const tab of document.querySelectorAll(".sidebar-tab")) tab.addEventListener("click", () => showTab(tab.dataset.tab));
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest("input, textarea, select, [contenteditable]") || document.querySelector("dialog[open]");
    if (typing) return;
    const mod = event.ctrlKey || event.metaKey;
    if (mod && event.key.toLowerCase() === "z") {
      event.preventDefault();
      restore(event.shiftKey ? history.redo() : history.undo());
    } else if (mod && event.key.toLowerCase() === "y") {
      event.preventDefault();
      restore(history.redo());
    } else if (mod && event.key.toLowerCase() === "c") {
      copySelected();
    } else if (mod && event.key.toLowerCase() === "v") {
      paste();
    } else if (mod && event.key.toLowerCase() === "d") {
      event.preventDefault();
      copySelected();
      paste();
    } else if (mod && event.key.toLowerCase() === "f") {
      event.preventDefault();
      searchNodes();
    } else if (mod && event.key.toLowerCase() === "a") {
      event.preventDefault();
      canvas.selectAll();
    } else if (event.key === "Backspace" || (event.key === "Delete" && canvas.group.size)) {
      // Delete alone is drawflow's (the selected node or wire); the rest of a selection of several goes here.
      canvas.removeSelected();
    } else if (event.key === "Enter" && canvas.selected) {
      editNode(canvas.selected);
    }
  });
  window.addEventListener("beforeunload", (event) => {
    if (isDirty() || drafts.size) event.preventDefault();
  });
}

function showLogin() {
  clear(
    document.body,
    h("main.login",
      h("div.login-card",
        h("div.brand.large", h("span.brand-mark"), "flowhost"),
        h("p", "Open the editor with the link that ", h("code", "flowhost run"), " printed (it ends in ", h("code", "/?token=…"), "), or paste the token:"),
        h("form", { on: { submit: (event) => { event.preventDefault(); location.href = `/?token=${encodeURIComponent(event.target.token.value.trim())}`; } } },
          h("input", { name: "token", type: "password", placeholder: "token", autocomplete: "off", "aria-label": "token" }),
          h("button.primary", { type: "submit" }, "Open editor")))),
  );
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
  const { nodeTypes, connectionTypes } = described;
  const entry = (type) => ({ ...type, type: type.type || type.connectorId, outputs: type.outputs || [], schema: type.fields || [] });
  for (const type of nodeTypes) state.nodeTypes.set(type.type, entry(type));
  for (const type of connectionTypes) state.connectionTypes.set(type.connectorId, entry(type));
  configPorts = new ConfigPorts(state.nodeTypes);
  canvas = new FlowCanvas($("#canvas"), state.nodeTypes, (node) => configPorts.portsOf(node));
  canvas.addEventListener("add", (e) => addNode(e.detail.type, e.detail.x, e.detail.y));
  canvas.addEventListener("remove", (e) => removeNode(e.detail.nodeId));
  canvas.addEventListener("wire", (e) => addWire(e.detail));
  canvas.addEventListener("unwire", (e) => removeWire(e.detail));
  canvas.addEventListener("move", (e) => moveNode(e.detail));
  canvas.addEventListener("open", (e) => editNode(e.detail.nodeId));
  canvas.addEventListener("inject", (e) => {
    const node = nodeById(e.detail.nodeId);
    if (node) injectNode({ flowId: state.flow.id, node, deployedText: state.deployed, isNew: state.isNew, toast });
  });
  canvas.addEventListener("toggle", (e) => {
    const node = nodeById(e.detail.nodeId);
    if (!node) return;
    const active = toggleActive(node);
    canvas.updateNode(node);
    changed();
    toast(`${node.name || node.id} ${active ? "shows its messages again" : "is muted"}: deploy to keep it so`, "info", 2500);
  });
  canvas.addEventListener("select", () => {
    helpType = null;
    refreshInfo();
  });
  canvas.addEventListener("zoom", (e) => { $("#zoom-level").textContent = `${Math.round(e.detail.zoom * 100)}%`; });
  new Palette($("#palette"), state.nodeTypes, addNodeInView, showTypeHelp);
  infoPanel = new InfoPanel($("#info-panel"));
  debugPanel = new DebugPanel($("#debug-panel"), {
    nodeLabel: (event) => {
      if (!state.flow || event.flow !== state.flow.id) return `${event.flow || "?"} / ${event.node || "?"}`;
      const node = nodeById(event.node);
      return node && node.name ? node.name : event.node || "?";
    },
    onCountChanged: (count) => { $("#debug-count").textContent = count ? String(count) : ""; },
  });
  connections = new ConnectionsPanel($("#connections-panel"), state.connectionTypes, {
    toast,
    onChange: (all) => {
      const bad = [...all.values()].filter((c) => c.active !== false && c.state && c.state !== "OPENED").length;
      $("#connections-count").textContent = bad ? String(bad) : "";
    },
  });
  bindChrome();
  let connectedBefore = false;
  new EventStream("/api/events", onEvent, (live) => {
    $("#live").classList.toggle("on", live);
    $("#live").title = live ? "Live: receiving events" : "Not connected to events; retrying";
    // Back after an outage: what happened meanwhile is read again.
    if (live && connectedBefore && state.flow) {
      loadStatus().catch(() => {});
      connections.refresh().catch(() => {});
    }
    connectedBefore ||= live;
  }).start();
  await Promise.all([loadFlows(), connections.refresh()]);
  connections.startPolling();
  const wanted = decodeURIComponent((location.hash.match(/flow=([^&]+)/) || [])[1] || "");
  const first = state.flows.find((flow) => flow.id === wanted) || state.flows[0];
  if (first) await openFlowById(first.id);
  else open(emptyFlow("flow-1"), { isNew: true });
  document.body.classList.add("ready");
}

boot().catch((error) => {
  console.error(error);
  toast(`The editor could not start: ${error.message}`, "error", 0);
});
