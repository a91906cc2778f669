// Output ports that come from a node's config (a switch: one per rule, then `otherwise`): asked of the server
// (`POST /api/node-types/{type}/outputs`, or a running node's status), remembered per config, so that undo and
// redraws find them again without asking.

import { api } from "./api.js";

// JSON with keys sorted: the same config written with its keys in another order is the same config.
export function stableJson(value) {
  const sorted = (item) => {
    if (Array.isArray(item)) return item.map(sorted);
    if (item === null || typeof item !== "object") return item;
    return Object.fromEntries(Object.keys(item).sort().map((key) => [key, sorted(item[key])]));
  };
  return JSON.stringify(sorted(value));
}

export class ConfigPorts {
  constructor(nodeTypes) {
    this.nodeTypes = nodeTypes;
    this.known = new Map(); // type + config -> port names
  }

  key(node) {
    return `${node.type}\n${stableJson(node.config || {})}`;
  }

  fromConfig(node) {
    const type = this.nodeTypes.get(node.type);
    return Boolean(type && type.outputsFromConfig);
  }

  portsOf(node) {
    const type = this.nodeTypes.get(node.type);
    if (!type) return ["out"];
    if (!type.outputsFromConfig) return type.outputs;
    const known = this.known.get(this.key(node));
    if (known) return known;
    // Not asked yet, or a config the server refuses: the ports its wires name, then the type's own.
    const wired = Object.keys(node.wires || {}).filter((port) => !type.outputs.includes(port));
    return [...wired, ...type.outputs];
  }

  remember(node, ports) {
    this.known.set(this.key(node), [...ports]);
  }

  async ask(node) {
    const { outputs } = await api.nodeOutputs(node.type, node.config || {});
    this.remember(node, outputs);
    return outputs;
  }
}

// The wires of `node` from ports it no longer has are removed; returns the names of those ports.
export function dropWiresOfMissingPorts(node, ports) {
  const gone = Object.keys(node.wires || {}).filter((port) => !ports.includes(port));
  for (const port of gone) delete node.wires[port];
  return gone;
}
