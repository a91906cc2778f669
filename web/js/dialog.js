// Modal dialogs on <dialog>: a title, a body, an error banner and buttons. Escape cancels.

import { h } from "./dom.js";

export function openDialog({ title, body, className = "", buttons = [] }) {
  const banner = h("div.dialog-banner", { role: "alert", hidden: true });
  const footer = h("footer.dialog-buttons");
  const dialog = h(
    "dialog.dialog",
    { class: className, "aria-label": title },
    h("header.dialog-head", h("h2", title), h("button.icon.dialog-close", { type: "button", title: "Close", "aria-label": "Close", on: { click: () => close() } }, "×")),
    banner,
    h("div.dialog-body", body),
    footer,
  );
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  for (const { label, primary, danger, action, name } of buttons) {
    const button = h(`button${primary ? ".primary" : danger ? ".danger" : ""}`, { type: "button", dataset: { action: name || label.toLowerCase() } }, label);
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        if (action === "cancel") close();
        else await action({ close, showError, dialog });
      } finally {
        button.disabled = false;
      }
    });
    footer.append(button);
  }
  function showError(message) {
    banner.hidden = !message;
    banner.textContent = message || "";
  }
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    close();
  });
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, close, showError };
}
