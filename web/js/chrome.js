// The page around the canvas: the Deploy button and its mode, undo/redo, the sidebar tabs, node search, the
// keyboard shortcuts Node-RED users expect, and the login card shown when the token is missing or changed.

import { api } from "./api.js";
import { clear, h } from "./dom.js";
import { bindDeployMenu, DEPLOY_MODES, deployMode } from "./drafts.js";
import { exportFlow, importFlow } from "./flow-transfer.js";
import { openNodeSearch } from "./search.js";

const $ = (selector) => document.querySelector(selector);

export class Chrome {
  constructor(app) {
    this.app = app;
  }

  refresh() {
    const { model, deployer } = this.app;
    const dirty = model.isDirty();
    const count = deployer.flowsToDeploy();
    const deploy = $("#deploy");
    deploy.disabled = !count;
    deploy.classList.toggle("dirty", Boolean(count));
    deploy.querySelector(".label").textContent = count > 1 ? `Deploy ${count} flows` : count ? "Deploy" : "Deployed";
    deploy.title = `${DEPLOY_MODES[deployMode()]} (choose with ▾)`;
    for (const item of document.querySelectorAll("#deploy-menu [data-mode]")) {
      item.setAttribute("aria-checked", String(item.dataset.mode === deployMode()));
    }
    $("#undo").disabled = !model.history.canUndo;
    $("#redo").disabled = !model.history.canRedo;
    $("#export").disabled = model.isNew;
    const tab = document.querySelector(".flow-tab.active");
    if (tab) {
      tab.textContent = model.flow.label;
      tab.classList.toggle("dirty", dirty);
    }
    document.title = `${dirty ? "● " : ""}${model.flow.label} · flowhost`;
    $("#empty-hint").hidden = model.flow.nodes.length > 0;
  }

  showTab(name) {
    for (const tab of document.querySelectorAll(".sidebar-tab")) {
      tab.classList.toggle("active", tab.dataset.tab === name);
      tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
    }
    for (const panel of document.querySelectorAll(".sidebar-panel")) panel.hidden = panel.dataset.panel !== name;
    this.app.statusBoard.refreshInfo();
  }

  // The flow being edited as it is here; the others as the server has them.
  async allFlowsForSearch() {
    const { model, tabs } = this.app;
    await tabs.loadFlows();
    const others = model.flows.filter((flow) => flow.id !== model.flow.id);
    const loaded = await Promise.all(others.map((flow) => api.flow(flow.id).catch(() => null)));
    return [model.flow, ...loaded.filter(Boolean)];
  }

  searchNodes() {
    const { model, tabs, canvas } = this.app;
    openNodeSearch({
      loadFlows: () => this.allFlowsForSearch(),
      onPick: async (flowId, nodeId) => {
        if (flowId !== model.flow.id) await tabs.switchTo(flowId);
        canvas.focus(nodeId);
      },
    });
  }

  bind() {
    const app = this.app;
    const { canvas, deployer } = app;
    $("#deploy").addEventListener("click", () => deployer.deployChosen());
    bindDeployMenu($("#deploy-menu"), $("#deploy-mode"), () => this.refresh());
    $("#problems").addEventListener("click", () => deployer.showFirstProblem());
    $("#undo").addEventListener("click", () => app.undo());
    $("#redo").addEventListener("click", () => app.redo());
    $("#export").addEventListener("click", () => exportFlow(app));
    $("#import").addEventListener("click", () => importFlow(app));
    $("#search").addEventListener("click", () => this.searchNodes());
    $("#zoom-in").addEventListener("click", () => canvas.zoomIn());
    $("#zoom-out").addEventListener("click", () => canvas.zoomOut());
    $("#zoom-reset").addEventListener("click", () => {
      canvas.zoomReset();
      canvas.fit(app.model.flow.layout);
    });
    for (const tab of document.querySelectorAll(".sidebar-tab")) tab.addEventListener("click", () => this.showTab(tab.dataset.tab));
    document.addEventListener("keydown", (event) => this.onKey(event));
    window.addEventListener("beforeunload", (event) => {
      if (app.model.isDirty() || app.drafts.size) event.preventDefault();
    });
  }

  onKey(event) {
    const { canvas, clipboard, nodeEditor } = this.app;
    const typing = event.target.closest("input, textarea, select, [contenteditable]") || document.querySelector("dialog[open]");
    if (typing) return;
    const mod = event.ctrlKey || event.metaKey;
    const key = event.key.toLowerCase();
    const withModifier = {
      z: () => (event.shiftKey ? this.app.redo() : this.app.undo()),
      y: () => this.app.redo(),
      c: () => clipboard.copySelected(),
      v: () => clipboard.paste(),
      d: () => clipboard.duplicateSelected(),
      f: () => this.searchNodes(),
      a: () => canvas.selectAll(),
    };
    // Copy and paste keep the browser's default (nothing to prevent on the canvas); the others are ours.
    if (mod && withModifier[key]) {
      if (key !== "c" && key !== "v") event.preventDefault();
      withModifier[key]();
    } else if (event.key === "Backspace" || (event.key === "Delete" && canvas.group.size)) {
      // Delete alone is drawflow's (the selected node or wire); the rest of a selection of several goes here.
      canvas.removeSelected();
    } else if (event.key === "Enter" && canvas.selected) {
      nodeEditor.edit(canvas.selected);
    }
  }
}

export function showLogin() {
  const submit = (event) => {
    event.preventDefault();
    location.href = `/?token=${encodeURIComponent(event.target.token.value.trim())}`;
  };
  clear(
    document.body,
    h("main.login",
      h("div.login-card",
        h("div.brand.large", h("span.brand-mark"), "flowhost"),
        h("p", "Open the editor with the link that ", h("code", "flowhost run"), " printed (it ends in ", h("code", "/?token=…"), "), or paste the token:"),
        h("form", { on: { submit } },
          h("input", { name: "token", type: "password", placeholder: "token", autocomplete: "off", "aria-label": "token" }),
          h("button.primary", { type: "submit" }, "Open editor")))),
  );
}
