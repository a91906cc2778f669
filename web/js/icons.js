// An icon per node type: a small inline SVG (16x16, stroked in the node's colour), chosen by the type's name, its
// family (mqtt-*, http-*, *-decoder...) or, for any other plugin's type, its category. Drawn here: no downloads.

const PATHS = {
  inject: "M4.5 3l8 5-8 5z",
  debug: "M3 4h10M3 8h10M3 12h6",
  switch: "M2 8h3.5l4-4.5H14M5.5 8l4 4.5H14",
  change: "M3 13l.8-3.2L10.5 3 13 5.5l-6.7 6.7zM9 4.5l2.5 2.5",
  template: "M6 3C4 3 4.5 6 4.5 6.5S4 8 2.5 8c1.5 0 2 .8 2 1.5S4 13 6 13M10 3c2 0 1.5 3 1.5 3.5s.5 1.5 2 1.5c-1.5 0-2 .8-2 1.5S12 13 10 13",
  delay: "M8 2.5a5.5 5.5 0 1 0 0 11 5.5 5.5 0 0 0 0-11zM8 5v3.2l2.2 1.6",
  "rate-limit": "M2.5 11.5a5.5 5.5 0 0 1 11 0M8 11.5l3-3.5",
  dedupe: "M2.5 2.5h7v7h-7zM6.5 6.5h7v7h-7",
  batch: "M3 4.5h10M3 8h10M3 11.5h10M1.5 3v10",
  filter: "M2 3h12l-4.8 5.5V13l-2.4 1V8.5z",
  mqtt: "M8 8.5V14M5.2 5.7a4 4 0 0 1 5.6 0M3 3.5a7 7 0 0 1 10 0M8 6.5a1 1 0 1 1 0 2 1 1 0 0 1 0-2z",
  http: "M8 2a6 6 0 1 0 0 12A6 6 0 0 0 8 2zM2 8h12M8 2c2.2 2.3 2.2 9.7 0 12M8 2c-2.2 2.3-2.2 9.7 0 12",
  radio: "M8 7a1 1 0 1 1 0 2 1 1 0 0 1 0-2zM5.5 5.2a3.8 3.8 0 0 0 0 5.6M10.5 5.2a3.8 3.8 0 0 1 0 5.6M3.3 3a7 7 0 0 0 0 10M12.7 3a7 7 0 0 1 0 10",
  code: "M5 4L1.8 8 5 12M11 4l3.2 4-3.2 4M9.2 2.8l-2.4 10.4",
  bridge: "M1.5 10.5h13M3 10.5V7M13 10.5V7M3 7c2 2.5 8 2.5 10 0M8 8.8v1.7",
  // by category, for types this file does not know
  input: "M1.5 8h8M6.5 4.5 10 8l-3.5 3.5M13 2.5v11",
  network: "M4.5 12.5h7.2a3 3 0 0 0 .3-6 4 4 0 0 0-7.8 1 2.5 2.5 0 0 0 .3 5z",
  function: "M10.5 2.5C8.5 2.5 7.5 3.5 7.5 5.5v8M4.5 7h6",
  output: "M3 2.5v11M5.5 8h8M10 4.5 13.5 8 10 11.5",
  other: "M8 2.5l5.5 5.5L8 13.5 2.5 8z",
};

export function iconName(type) {
  const name = type.type || "";
  if (PATHS[name] && !["input", "network", "function", "output", "other"].includes(name)) return name;
  if (name.startsWith("mqtt")) return "mqtt";
  if (name.startsWith("http")) return "http";
  if (name === "lorawan-simulator") return "radio";
  if (name.endsWith("decoder") || name.endsWith("encoder")) return "code";
  if (name.startsWith("from-") || name.startsWith("to-")) return "bridge";
  return PATHS[type.category] ? type.category : "other";
}

// The markup of the icon (nodes are drawn by drawflow from HTML text).
export function iconHtml(type) {
  const name = type ? iconName(type) : "other";
  return `<svg class="fh-icon" data-icon="${name}" viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">` +
    `<path d="${PATHS[name]}"/></svg>`;
}
