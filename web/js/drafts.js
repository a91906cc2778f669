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
