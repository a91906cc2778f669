// Positions for nodes a flow file does not place: columns by topological depth (longest path from a source),
// rows in file order within a column. Placed nodes keep their positions.

const COLUMN_WIDTH = 270;
const ROW_HEIGHT = 90;
const ORIGIN = { x: 60, y: 60 };

export function depths(nodes) {
  const incoming = new Map(nodes.map((node) => [node.id, 0]));
  for (const node of nodes) {
    for (const targets of Object.values(node.wires || {})) {
      for (const target of targets || []) if (incoming.has(target)) incoming.set(target, incoming.get(target) + 1);
    }
  }
  const depth = new Map();
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const queue = nodes.filter((node) => incoming.get(node.id) === 0).map((node) => [node.id, 0]);
  // A cycle has no source: start it at depth 0 too. Each node is deepened at most nodes.length times.
  if (!queue.length && nodes.length) queue.push([nodes[0].id, 0]);
  let budget = nodes.length * nodes.length + nodes.length;
  while (queue.length && budget-- > 0) {
    const [id, d] = queue.shift();
    if (depth.has(id) && depth.get(id) >= d) continue;
    depth.set(id, d);
    for (const targets of Object.values(byId.get(id).wires || {})) {
      for (const target of targets || []) if (byId.has(target) && d + 1 < nodes.length) queue.push([target, d + 1]);
    }
  }
  for (const node of nodes) if (!depth.has(node.id)) depth.set(node.id, 0);
  return depth;
}

export function completeLayout(nodes, layout = {}) {
  const result = {};
  for (const node of nodes) if (layout[node.id]) result[node.id] = { x: layout[node.id].x, y: layout[node.id].y };
  const missing = nodes.filter((node) => !result[node.id]);
  if (!missing.length) return result;
  const depth = depths(nodes);
  const rows = new Map();
  const placedBottom = Math.max(ORIGIN.y - ROW_HEIGHT, ...Object.values(result).map((p) => p.y));
  const top = Object.keys(result).length ? placedBottom + ROW_HEIGHT * 1.5 : ORIGIN.y;
  for (const node of missing) {
    const column = depth.get(node.id);
    const row = rows.get(column) || 0;
    rows.set(column, row + 1);
    result[node.id] = { x: ORIGIN.x + column * COLUMN_WIDTH, y: top + row * ROW_HEIGHT };
  }
  return result;
}

// A free id for a new node of `type`: "switch-1", then "switch-2"... (the label differs from the type, so the node
// shows its type line too). Bounded: one more than the nodes there are is always free.
export function newNodeId(type, nodes) {
  const taken = new Set(nodes.map((node) => node.id));
  const base = type.replace(/[^a-z0-9-]/g, "-");
  for (let n = 1; n <= nodes.length + 1; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
  return `${base}-${nodes.length + 1}`;
}
