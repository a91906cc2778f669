// Notices in the corner: a line of text or an element, gone after `timeout` ms (0: until clicked).

import { h } from "./dom.js";

export function toast(message, level = "info", timeout = 4000) {
  const item = h("div.toast", { class: `level-${level}`, role: level === "error" ? "alert" : "status" }, message);
  document.querySelector("#toasts").append(item);
  if (timeout) setTimeout(() => item.remove(), timeout);
  item.addEventListener("click", () => item.remove());
  return item;
}
