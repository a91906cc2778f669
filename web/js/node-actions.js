// What the buttons on the canvas do: inject's sends the running node's message (POST .../inject), debug's mutes
// or unmutes the node (its `active` setting, an edit like any other that the next deploy applies).

import { api, ApiError } from "./api.js";
import { stableJson } from "./ports.js";

// The node as the server runs it: in the deployed version, unchanged since (or the server would run another one).
function deployedAsIs(node, deployedText) {
  if (!deployedText) return false;
  const deployed = (JSON.parse(deployedText).nodes || []).find((candidate) => candidate.id === node.id);
  return Boolean(deployed) && stableJson(deployed) === stableJson(node);
}

/** flowId, node: the node pressed; deployedText: the canonical text of the deployed flow, or "" for a new one. */
export async function injectNode({ flowId, node, deployedText, isNew, toast }) {
  const label = node.name || node.id;
  if (isNew || !deployedAsIs(node, deployedText)) {
    toast(`${label} is not deployed as shown here: deploy first, then inject`, "error", 6000);
    return;
  }
  try {
    await api.injectNode(flowId, node.id);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    toast(`Inject ${label} failed: ${error.message}`, "error", 8000);
    return;
  }
  toast(`Injected ${label}`, "ok", 1500);
}

// Muting keeps the node in the flow; the setting is left out while it has its default (true).
export function toggleActive(node) {
  const config = { ...(node.config || {}) };
  if (config.active === false) delete config.active;
  else config.active = false;
  node.config = config;
  return config.active !== false;
}
