// Edits of flows that are not the one shown: kept while the user looks at another flow (its tab shows a dot), and
// deployed with "All flows with changes" or one by one. And which of the two the Deploy button does.

const MODE_KEY = "flowhost.deployMode";
export const DEPLOY_MODES = { changed: "All flows with changes", flow: "This flow only" };

export class Drafts {
  constructor() {
    this.byFlow = new Map(); // flow id -> {flow, deployed, isNew, history}
  }

  keep(flowId, draft) {
    this.byFlow.set(flowId, draft);
  }

  // The draft of a flow, taken out: it becomes the flow shown.
  take(flowId) {
    const draft = this.byFlow.get(flowId);
    this.byFlow.delete(flowId);
    return draft;
  }

  has(flowId) {
    return this.byFlow.has(flowId);
  }

  ids() {
    return [...this.byFlow.keys()];
  }

  get size() {
    return this.byFlow.size;
  }

  entries() {
    return [...this.byFlow.entries()];
  }
}

export function deployMode() {
  const saved = window.localStorage.getItem(MODE_KEY);
  return saved in DEPLOY_MODES ? saved : "changed";
}

export function setDeployMode(mode) {
  if (mode in DEPLOY_MODES) window.localStorage.setItem(MODE_KEY, mode);
}

// The ▾ beside Deploy opens the choice; picking one keeps it (in this browser) and calls onChange.
export function bindDeployMenu(menu, toggle, onChange) {
  const show = (open) => {
    menu.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
  };
  toggle.addEventListener("click", (event) => {
    event.stopPropagation();
    show(menu.hidden);
  });
  for (const item of menu.querySelectorAll("[data-mode]")) {
    item.addEventListener("click", () => {
      setDeployMode(item.dataset.mode);
      show(false);
      onChange();
    });
  }
  document.addEventListener("click", (event) => {
    if (!menu.contains(event.target)) show(false);
  });
}
