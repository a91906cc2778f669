// Copy and paste within the editor: pasted nodes keep their config and the wires between them (not those to nodes
// left out), get new ids, and land beside the originals; several pasted nodes stay selected together.

export class Clipboard {
  constructor(app) {
    this.app = app;
    this.copied = null;
  }

  copySelected() {
    const { model, canvas } = this.app;
    const nodes = canvas.selectedNodes().map((id) => model.nodeById(id)).filter(Boolean);
    if (!nodes.length) return;
    this.copied = {
      nodes: JSON.parse(JSON.stringify(nodes)),
      at: Object.fromEntries(nodes.map((node) => [node.id, { ...model.flow.layout[node.id] }])),
    };
  }

  paste() {
    if (!this.copied) return;
    const { model, canvas } = this.app;
    const { nodes: originals, at } = this.copied;
    const flow = model.flow;
    const newIds = new Map();
    for (const original of originals) {
      const node = { ...JSON.parse(JSON.stringify(original)), id: model.newIdLike(original), wires: {} };
      delete node.name;
      newIds.set(original.id, node.id);
      at[original.id] = { x: at[original.id].x + 40, y: at[original.id].y + 40 };
      flow.nodes.push(node);
      flow.layout[node.id] = { ...at[original.id] };
      canvas.drawNode(node, flow.layout[node.id]);
    }
    for (const original of originals) {
      const node = model.nodeById(newIds.get(original.id));
      for (const [port, targets] of Object.entries(original.wires || {})) {
        const kept = (targets || []).filter((target) => newIds.has(target)).map((target) => newIds.get(target));
        if (!kept.length) continue;
        node.wires[port] = kept;
        for (const target of kept) canvas.drawWire(node.id, port, target);
      }
    }
    if (newIds.size > 1) canvas.setGroup(newIds.values());
    model.changed();
    this.app.deployer.validateSoon();
  }

  duplicateSelected() {
    this.copySelected();
    this.paste();
  }
}
