// Validation while editing and deploying: the server's problems marked on the canvas, Deploy for the flow shown
// or for every flow with changes, Node-RED's "deploy anyway" (nodes with errors disabled), and what to do when
// someone else deployed first.

import { api, ApiError } from "./api.js";
import { showDeployProblems } from "./deploy-problems.js";
import { openDialog } from "./dialog.js";
import { h } from "./dom.js";
import { deployMode } from "./drafts.js";
import { canonical } from "./flow-model.js";
import { fieldOfPath } from "./schema-form.js";

export class Deployer {
  constructor(app) {
    this.app = app;
    this.deploying = false;
    this.validateTimer = null;
    this.validations = 0;
  }

  // Server errors are about the body sent: nodes[i] is the i-th node of that flow.
  applyErrors(errors, nodes) {
    const { model, canvas } = this.app;
    const previous = [...model.nodeErrors.keys()];
    model.nodeErrors.clear();
    const general = [];
    for (const error of errors) {
      const match = /^nodes\[(\d+)\](.*)$/.exec(error.path || "");
      const node = match && nodes[Number(match[1])];
      if (!node) {
        general.push(error);
        continue;
      }
      const field = fieldOfPath(error.path, `nodes[${match[1]}].config`);
      const list = model.nodeErrors.get(node.id) || [];
      list.push({ field, message: error.message, path: error.path });
      model.nodeErrors.set(node.id, list);
    }
    for (const nodeId of new Set([...previous, ...model.nodeErrors.keys()])) {
      const list = model.nodeErrors.get(nodeId);
      canvas.setInvalid(nodeId, list ? list.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)) : null);
    }
    model.generalErrors = general;
    const problems = document.querySelector("#problems");
    const count = model.nodeErrors.size + general.length;
    problems.hidden = count === 0;
    problems.textContent = `${count} problem${count === 1 ? "" : "s"}`;
    return general;
  }

  showFirstProblem() {
    const { model, nodeEditor, toast } = this.app;
    const [nodeId] = model.nodeErrors.keys();
    if (nodeId) nodeEditor.edit(nodeId);
    else toast(h("div", model.generalErrors.map((e) => h("div.mono", e.path ? `${e.path}: ${e.message}` : e.message))), "error", 8000);
  }

  validateSoon() {
    clearTimeout(this.validateTimer);
    this.validateTimer = setTimeout(() => this.validate().catch(() => {}), 300);
  }

  // The flow's errors from the server; only the newest answer marks the canvas (answers can overtake each other).
  async validate(flowBody = this.app.model.payload()) {
    const number = ++this.validations;
    const result = await api.validateFlow(flowBody, this.app.model.isNew);
    const errors = result && Array.isArray(result.errors) ? result.errors : [];
    if (number === this.validations) this.applyErrors(errors, flowBody.nodes);
    return errors;
  }

  async deploy() {
    const { model, tabs, chrome, toast } = this.app;
    this.deploying = true;
    const body = model.payload();
    const sent = canonical(model.flow); // edits made while the request runs are still undeployed after it
    const button = document.querySelector("#deploy");
    button.classList.add("busy");
    try {
      const saved = model.isNew ? await api.createFlow(body) : await api.saveFlow(body);
      model.flow.rev = saved && saved.rev !== undefined ? saved.rev : undefined;
      model.isNew = false;
      model.deployed = sent;
      this.applyErrors([], body.nodes);
      await tabs.loadFlows();
      tabs.render();
      tabs.rememberFlow();
      toast("Deployed", "ok", 2500);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      this.refused(error, body);
    } finally {
      button.classList.remove("busy");
      this.deploying = false;
      chrome.refresh();
    }
  }

  refused(error, body) {
    const { model, nodeEditor, toast } = this.app;
    if (error.status === 409 && model.isNew) {
      toast(`${error.message}. Give this flow another id: double-click its tab.`, "error", 10000);
    } else if (error.status === 409) this.explainConflict(error);
    else if (error.status === 400 || error.status === 422) {
      this.applyErrors(error.errors, body.nodes);
      showDeployProblems({
        errors: error.errors,
        nodes: body.nodes,
        openNode: (nodeId) => nodeEditor.edit(nodeId),
        deployDisabled: (nodeIds) => this.deployDisabled(nodeIds),
      });
    } else toast(`Deploy failed: ${error.message}`, "error", 10000);
  }

  // "All flows with changes": the others first, then the one shown; a refused one stays open with its problems.
  async deployChosen() {
    const { model, drafts, tabs, toast } = this.app;
    const start = model.flow.id;
    if (deployMode() === "flow" || !drafts.ids().some((id) => id !== start)) {
      await this.deploy();
      return;
    }
    tabs.keepDraft();
    const order = [...drafts.ids().filter((id) => id !== start), ...(drafts.has(start) ? [start] : [])];
    for (const flowId of order) {
      await tabs.show(flowId);
      await this.deploy();
      if (model.isDirty()) return;
    }
    if (model.flow.id !== start) await tabs.switchTo(start);
    toast(`Deployed ${order.length} flows`, "ok", 2500);
  }

  // Node-RED's "deploy anyway": the nodes with errors stay in the flow, disabled (not run) until fixed.
  async deployDisabled(nodeIds) {
    const { model, canvas, statusBoard } = this.app;
    for (const nodeId of nodeIds) {
      const node = model.nodeById(nodeId);
      if (node) {
        node.disabled = true;
        canvas.updateNode(node);
      }
    }
    model.changed();
    await this.deploy();
    statusBoard.refresh();
  }

  // How many flows Deploy would deploy now.
  flowsToDeploy() {
    const { model, drafts } = this.app;
    const others = deployMode() === "changed" ? drafts.ids().filter((id) => id !== model.flow.id).length : 0;
    return others + (model.isDirty() ? 1 : 0);
  }

  // Another editor or a script deployed the flow shown here: show the new version when nothing would be lost.
  async followRemoteDeploy() {
    const { model, tabs, toast } = this.app;
    const settled = () => !this.deploying && !model.isDirty() && !model.isNew;
    if (!settled()) return;
    const flow = await api.flow(model.flow.id);
    if (!settled() || flow.rev === model.flow.rev) return;
    tabs.open(flow);
    toast("This flow was deployed from elsewhere; showing the new version", "info");
  }

  explainConflict(error) {
    const { model, tabs } = this.app;
    openDialog({
      title: "Someone else deployed this flow",
      className: "conflict",
      body: h(
        "div",
        h("p", `The flow “${model.flow.label}” was changed on the server after you opened it. `,
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
            await tabs.openById(model.flow.id);
          },
        },
      ],
    });
  }
}
