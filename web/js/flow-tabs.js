// Which flow is shown: the tabs (one per flow on the server and per kept draft), opening and switching flows
// (edits of the flow left are kept as a draft), new flows, and the flow properties dialog.

import { api, ApiError } from "./api.js";
import { openDialog } from "./dialog.js";
import { clear, h } from "./dom.js";
import { canonical, emptyFlow, IDENTIFIER } from "./flow-model.js";

export class FlowTabs {
  constructor(app, element) {
    this.app = app;
    this.element = element;
  }

  open(flow, options = {}) {
    const { model, canvas, statusBoard, chrome, deployer } = this.app;
    model.load(flow, options);
    statusBoard.clear();
    this.app.redraw();
    canvas.fit(model.flow.layout);
    this.render();
    chrome.refresh();
    statusBoard.load().catch(() => {});
    deployer.validateSoon();
    this.rememberFlow();
  }

  openNew(id) {
    this.open(emptyFlow(id), { isNew: true });
  }

  // The address names the flow, so that a reload opens it again.
  rememberFlow() {
    window.history.replaceState(null, "", `/#flow=${encodeURIComponent(this.app.model.flow.id)}`);
  }

  async loadFlows() {
    this.app.model.flows = (await api.flows()).flows;
  }

  async openById(flowId) {
    this.open(await api.flow(flowId));
  }

  // Leaving a flow with edits keeps them, to come back to or to deploy with the others.
  keepDraft() {
    const { model, drafts } = this.app;
    if (!model.flow) return;
    if (model.isDirty()) {
      drafts.keep(model.flow.id, { flow: model.flow, deployed: model.deployed, isNew: model.isNew, history: model.history });
    } else drafts.take(model.flow.id);
  }

  async show(flowId) {
    const draft = this.app.drafts.take(flowId);
    if (draft) this.open(draft.flow, { isNew: draft.isNew, draft });
    else await this.openById(flowId);
  }

  async switchTo(flowId) {
    const { model } = this.app;
    if (model.flow && flowId === model.flow.id) return;
    this.keepDraft();
    await this.show(flowId);
  }

  newFlow() {
    const { model, drafts } = this.app;
    this.keepDraft();
    const taken = new Set([...model.flows.map((flow) => flow.id), ...drafts.ids()]);
    let n = model.flows.length + 1;
    while (taken.has(`flow-${n}`)) n++;
    this.openNew(`flow-${n}`);
  }

  render() {
    const { model, drafts } = this.app;
    const shown = model.flow;
    const entries = model.flows.map((flow) => ({ id: flow.id, label: flow.label || flow.id }));
    for (const [id, draft] of drafts.entries()) {
      if (!entries.some((entry) => entry.id === id)) entries.push({ id, label: draft.flow.label });
    }
    if (shown && !entries.some((entry) => entry.id === shown.id)) entries.push({ id: shown.id, label: shown.label });
    clear(
      this.element,
      entries.map((entry) =>
        h(
          "button.flow-tab",
          {
            type: "button",
            class: [shown && entry.id === shown.id ? "active" : "", drafts.has(entry.id) ? "dirty" : ""].join(" ").trim(),
            dataset: { flow: entry.id },
            title: `${entry.label} (${entry.id}) · double-click for its properties`,
            on: { click: () => this.switchTo(entry.id), dblclick: () => this.editProperties() },
          },
          entry.label,
        ),
      ),
      h("button.icon.flow-add", { type: "button", title: "New flow", "aria-label": "New flow", on: { click: () => this.newFlow() } }, "+"),
    );
  }

  // Label and description are edits like any other (undo, deploy); deleting a flow stops it at once.
  editProperties() {
    const { model } = this.app;
    const flow = model.flow;
    const summary = model.summary() || {};
    const label = h("input#flow-label", { type: "text", value: flow.label });
    const description = h("textarea#flow-description", { rows: 3 });
    description.value = flow.description || "";
    // The id names the flow's file: it can change until the first deploy.
    const idInput = h("input#flow-id.mono", { type: "text", value: flow.id, readOnly: !model.isNew, spellcheck: "false" });
    const idError = h("div.field-error");
    const done = ({ close }) => {
      const newId = idInput.value.trim();
      const taken = newId !== flow.id && model.flows.some((f) => f.id === newId);
      idError.textContent = !IDENTIFIER.test(newId) ? "use letters, digits, '_', '-', '.'" : taken ? `flow ${newId} exists` : "";
      if (idError.textContent) return;
      if (flow.label === flow.id && !label.value.trim()) label.value = newId;
      flow.id = newId;
      this.rememberFlow();
      flow.label = label.value.trim() || flow.id;
      flow.description = description.value.trim() || undefined;
      close();
      this.render();
      model.changed();
    };
    const buttons = [{ label: "Cancel", action: "cancel" }, { label: "Done", primary: true, action: done }];
    if (!model.isNew) buttons.unshift({ label: "Delete flow", name: "delete-flow", danger: true, action: (dialog) => this.deleteShown(dialog) });
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

  async deleteShown({ close, showError }) {
    const { model, toast } = this.app;
    const flow = model.flow;
    if (!window.confirm(`Stop and delete flow ${flow.label}?`)) return;
    try {
      await api.deleteFlow(flow.id);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showError(error.message);
      return;
    }
    close();
    model.deployed = canonical(model.flow);
    await this.loadFlows();
    if (model.flows.length) await this.show(model.flows[0].id);
    else this.openNew("flow-1");
    toast(`Flow ${flow.label} deleted`, "ok");
  }
}
