// A node's edit dialog wired to the flow: the connections a field can name, the server's check of a candidate
// config before it is applied, ports that follow the config (wires of ports that are gone removed, with Undo),
// renaming a node with its wires.

import { ApiError, api } from "./api.js";
import { h } from "./dom.js";
import { IDENTIFIER } from "./flow-model.js";
import { openNodeDialog } from "./node-dialog.js";
import { dropWiresOfMissingPorts } from "./ports.js";
import { fieldOfPath } from "./schema-form.js";

export class NodeEditor {
  constructor(app) {
    this.app = app;
  }

  // Which connection ids a field naming a connection can take: the API's connections and the flow's own.
  connectionChoices(type, current) {
    const { model, connections } = this.app;
    const names = new Set([...(type.connectionFields || []), ...type.schema.filter((f) => f.format === "connection").map((f) => f.name)]);
    const choices = {};
    for (const name of names) {
      const options = [
        ...[...connections.connections.values()].map((c) => [c.id, c.name && c.name !== c.id ? `${c.name} (${c.id})` : c.id]),
        ...model.flow.connections.map((c) => [c.id, `${c.name || c.id} (in this flow)`]),
      ];
      const value = current[name];
      if (value !== undefined && !options.some(([id]) => id === value)) options.push([value, `${value} (not found)`]);
      choices[name] = options;
    }
    return choices;
  }

  idProblem(nodeId, newId) {
    if (newId === nodeId) return null;
    if (!IDENTIFIER.test(newId)) return "use letters, digits, '_', '-', '.'";
    return this.app.model.nodeById(newId) ? `another node is called ${newId}` : null;
  }

  edit(nodeId) {
    const { model, connections, canvas, chrome, toast } = this.app;
    const node = model.nodeById(nodeId);
    if (!node) return;
    const type = model.nodeTypes.get(node.type);
    if (!type) {
      toast(`No installed plugin provides node type ${node.type}`, "error");
      return;
    }
    openNodeDialog({
      node,
      type,
      flowId: model.flow.id,
      choices: this.connectionChoices(type, node.config || {}),
      knownErrors: model.nodeErrors.get(nodeId) || [],
      needsConnection: (type.connectionFields || []).length > 0 && !connections.connections.size && !model.flow.connections.length,
      idProblem: (newId) => this.idProblem(nodeId, newId),
      check: (candidate) => this.checkCandidate(node, candidate),
      apply: (candidate, newId) => this.apply(node, nodeId, candidate, newId),
      remove: () => canvas.removeNode(nodeId),
      addConnection: () => {
        chrome.showTab("connections");
        connections.edit(null);
      },
    });
  }

  async apply(node, nodeId, candidate, newId) {
    const { model, canvas, configPorts, deployer } = this.app;
    const ports = await this.portsOfCandidate(node, candidate);
    Object.keys(node).forEach((key) => delete node[key]);
    Object.assign(node, candidate);
    const dropped = ports ? dropWiresOfMissingPorts(node, ports) : [];
    if (newId !== nodeId) model.renameNode(nodeId, newId);
    if (newId !== nodeId || configPorts.fromConfig(node)) this.app.redraw();
    else canvas.updateNode(node);
    model.changed();
    deployer.validateSoon();
    if (dropped.length) this.offerUndo(`Removed the wires of ${dropped.map((port) => `“${port}”`).join(", ")}: ${newId} has no such port now`);
  }

  // The candidate's errors, without marking the canvas or the problems count (the user may still cancel it).
  async checkCandidate(node, candidate) {
    const { model, configPorts } = this.app;
    const index = model.flow.nodes.indexOf(node);
    const body = model.payload();
    body.nodes = model.flow.nodes.map((n, i) => (i === index ? candidate : n));
    const prefix = `nodes[${index}]`;
    const result = await api.validateFlow(body, model.isNew);
    const errors = result && Array.isArray(result.errors) ? result.errors : [];
    // Wires from ports the new config no longer has are removed when it is applied.
    const wiresGo = configPorts.fromConfig(candidate);
    return errors
      .filter((e) => e.path === prefix || (e.path || "").startsWith(`${prefix}.`) || (e.path || "").startsWith(`${prefix}[`))
      .filter((e) => !(wiresGo && (e.path || "").startsWith(`${prefix}.wires`)))
      .map((e) => ({ field: fieldOfPath(e.path, `${prefix}.config`), message: e.message }));
  }

  // The ports a config gives (a switch's rules), asked only of a config that is valid (a refused one keeps the
  // ports drawn); null when the type's ports do not come from its config.
  async portsOfCandidate(node, candidate) {
    const { configPorts } = this.app;
    if (!configPorts.fromConfig(candidate)) return null;
    if ((await this.checkCandidate(node, candidate)).length) return null;
    try {
      return await configPorts.ask(candidate);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      return null;
    }
  }

  offerUndo(message) {
    const undo = h("button.small.toast-undo", { type: "button", on: { click: () => this.app.undo() } }, "Undo");
    this.app.toast(h("span", message, " ", undo), "info", 10000);
  }
}
