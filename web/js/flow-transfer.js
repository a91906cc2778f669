// Flows in and out as YAML: the deployed version of the flow shown (copy or download), and importing a flow file,
// which the server stores and deploys.

import { api, ApiError } from "./api.js";
import { openDialog } from "./dialog.js";
import { h } from "./dom.js";

export async function exportFlow(app) {
  const { model, toast } = app;
  let text;
  try {
    text = await api.flowYaml(model.flow.id);
  } catch (error) {
    toast(`Export failed: ${error.message}`, "error");
    return;
  }
  const area = h("textarea.yaml", { readOnly: true, spellcheck: "false", rows: 22 });
  area.value = text;
  const link = h("a.button", { href: URL.createObjectURL(new Blob([text], { type: "application/yaml" })), download: `${model.flow.id}.yaml` }, "Download");
  const copy = async () => {
    await navigator.clipboard.writeText(text).catch(() => area.select());
    toast("Copied", "ok", 1500);
  };
  openDialog({
    title: `Export ${model.flow.id}.yaml`,
    className: "wide",
    body: h("div", model.isDirty() ? h("p.muted", "This is the deployed version; deploy first to include your latest edits.") : null, area, h("div.dialog-inline", link)),
    buttons: [
      { label: "Copy", action: copy },
      { label: "Close", primary: true, action: "cancel" },
    ],
  });
}

export function importFlow(app) {
  const area = h("textarea#import-text.yaml", { spellcheck: "false", rows: 18, placeholder: "flowhost: 1\nid: my-flow\nnodes: ..." });
  const load = async () => {
    if (file.files.length) area.value = await file.files[0].text();
  };
  const file = h("input", { type: "file", accept: ".yaml,.yml", on: { change: load } });
  const submit = async ({ close, showError }) => {
    try {
      // The server stores and deploys an imported flow (an existing id is a conflict, not an overwrite).
      const flow = await api.importFlow(area.value);
      close();
      await app.tabs.loadFlows();
      app.tabs.open(flow);
      app.toast(`Imported and deployed ${flow.id}`, "ok");
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showError(error.errors.map((e) => (e.line ? `line ${e.line}: ` : "") + (e.path ? `${e.path}: ` : "") + e.message).join("\n"));
    }
  };
  openDialog({
    title: "Import a flow (YAML)",
    className: "wide",
    body: h("div", h("p.muted", "Paste a flow file or load one. flowhost stores it and runs it; it then opens here."), h("label.file-button", "Load file…", file), area),
    buttons: [
      { label: "Cancel", action: "cancel" },
      { label: "Import", primary: true, action: submit },
    ],
  });
  area.focus();
}
