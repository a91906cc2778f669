// The edit dialog of a node: its name and id, then the form generated from its type's schema. "Done" checks the
// change with the server first; errors show at their fields and the user fixes them or keeps the change anyway.

import { codecTryBox } from "./codec-try.js";
import { openDialog } from "./dialog.js";
import { h } from "./dom.js";
import { SchemaForm } from "./schema-form.js";

/**
 * node, type: what is edited; choices: {field: [[value, label]]} for fields naming a connection;
 * knownErrors: [{field, message}] already known; idProblem(newId): why an id cannot be used, or null;
 * check(candidate): the candidate's errors ([{field, message}]), without marking the canvas (the candidate is not
 * the flow until it is applied); apply(candidate, newId); remove();
 * needsConnection and addConnection(): offer to create the connection the node needs.
 */
export function openNodeDialog({ node, type, flowId, choices, knownErrors, needsConnection, idProblem, check, apply, remove, addConnection }) {
  const nameInput = h("input#node-name", { type: "text", name: "name", value: node.name || "", placeholder: node.id });
  const idInput = h("input#node-id.mono", { type: "text", name: "id", value: node.id, spellcheck: "false" });
  const idError = h("div.field-error");
  const disabledInput = h("input#node-disabled", { type: "checkbox", name: "disabled", checked: Boolean(node.disabled) });
  const form = new SchemaForm(type.schema, node.config || {}, { secretFields: type.secretFields || [], idPrefix: "node", choices });
  const body = h(
    "div.node-form",
    h("p.type-description", h("span.type-chip", { class: `cat-${type.category}` }, node.type), " ", type.description || ""),
    h(
      "div.field-row",
      h("div.field", { dataset: { field: "name" } }, h("label", { for: "node-name" }, "Name"), h("div.control", nameInput)),
      h("div.field", { dataset: { field: "id" } }, h("label", { for: "node-id" }, "ID"), h("div.control", idInput), idError),
    ),
    h("label.node-disabled", { dataset: { field: "disabled" } }, disabledInput, " Disabled: kept in the flow, not run (its settings are not checked)"),
    h("hr"),
    needsConnection
      ? h("p.notice", "This node needs a connection and there is none yet. ",
        h("button.small", { type: "button", on: { click: () => { dialog.close(); addConnection(); } } }, "Add a connection"))
      : null,
    form.element,
    node.type === "codec" ? codecTryBox({ flowId, nodeId: node.id, readConfig: () => form.read() }) : null,
  );
  const show = (errors, showError) => {
    const unmatched = form.showErrors(errors.filter((e) => e.field));
    showError([...errors.filter((e) => !e.field), ...unmatched].map((e) => e.message).join("\n"));
  };
  // After a refused "Done" the button offers "Keep anyway"; any edit makes it "Done" again, and the change is
  // checked again shortly after, so that errors leave their fields as soon as the values are right.
  let insist = false;
  let recheck = null;
  const candidate = () => {
    const edited = { ...node, config: form.read() };
    delete edited.name;
    delete edited.disabled;
    if (nameInput.value.trim()) edited.name = nameInput.value.trim();
    if (disabledInput.checked) edited.disabled = true;
    return edited;
  };
  const doneButton = () => dialog.dialog.querySelector('[data-action="done"]');
  const onEdit = () => {
    if (!insist) return;
    insist = false;
    doneButton().textContent = "Done";
    doneButton().classList.remove("warn");
    clearTimeout(recheck);
    recheck = setTimeout(async () => {
      const errors = await check(candidate());
      if (!insist && dialog.dialog.isConnected) show(errors, dialog.showError);
    }, 400);
  };
  body.addEventListener("input", onEdit);
  body.addEventListener("change", onEdit);
  const dialog = openDialog({
    title: `Edit ${node.type} node`,
    className: "node-dialog",
    body,
    buttons: [
      { label: "Delete", danger: true, action: ({ close }) => { close(); remove(); } },
      { label: "Cancel", action: "cancel" },
      {
        label: "Done",
        primary: true,
        action: async ({ close, showError }) => {
          const newId = idInput.value.trim();
          idError.textContent = idProblem(newId) || "";
          if (idError.textContent) return;
          clearTimeout(recheck);
          const edited = candidate();
          const errors = await check(edited);
          if (errors.length && !insist) {
            show(errors, showError);
            insist = true;
            doneButton().textContent = "Keep anyway";
            doneButton().classList.add("warn");
            return;
          }
          close();
          apply(edited, newId);
        },
      },
    ],
  });
  if (knownErrors.length) show(knownErrors, dialog.showError);
  (form.element.querySelector("input, select, textarea") || nameInput).focus();
}
