// The help of a node type, as Node-RED's help pane gives it: what it does (its description and its class's
// docstring), its ports, and every field of its form with what the field takes, all from /api/node-types (the
// schema that validates the config), so that nothing is written a second time in JavaScript.

import { h, humanize } from "./dom.js";

function range(field) {
  const unit = field.unit ? ` ${field.unit}` : "";
  if (field.min !== undefined && field.max !== undefined) return `${field.min}–${field.max}${unit}`;
  if (field.min !== undefined) return `≥ ${field.min}${unit}`;
  if (field.max !== undefined) return `≤ ${field.max}${unit}`;
  return "";
}

// "duration, ≥ 0.001 s", "integer, 1–223", "list of dev-eui", "one of SSL, WSS, TCP"
export function fieldKind(field) {
  if (field.type === "select") return `one of ${(field.options || []).map(([value]) => value).join(", ")}`;
  if (field.type === "list") return `list of ${field.items ? fieldKind(field.items) : "values"}`;
  const kind = field.format ? field.format.replace(/-/g, " ") : field.type;
  return [kind, range(field)].filter(Boolean).join(", ");
}

function defaultText(field) {
  if (field.default === undefined) return field.required ? "required" : "optional";
  return `default ${typeof field.default === "string" ? field.default : JSON.stringify(field.default)}`;
}

export function typeHelp(type) {
  const outputs = type.outputs.length ? type.outputs.join(", ") : "none";
  return h(
    "div.type-help",
    { dataset: { type: type.type } },
    type.help ? type.help.split(/\n\s*\n/).map((paragraph) => h("p.help-text", paragraph)) : null,
    h("h4", "Ports"),
    h("dl.info-table", h("dt", "input"), h("dd", type.inputs ? "1" : "none"), h("dt", "outputs"), h("dd.mono", outputs)),
    h("h4", "Fields"),
    type.schema.length
      ? h(
          "dl.help-fields",
          type.schema.map((field) => [
            h("dt", { dataset: { field: field.name } }, h("span.mono", field.name), field.label || humanize(field.name) !== field.name ? h("span.muted", ` ${field.label || humanize(field.name)}`) : null),
            h("dd", h("span.help-kind", fieldKind(field)), " · ", h("span.help-default", defaultText(field)),
              field.secret ? " · secret (masked, encrypted at rest)" : null,
              field.description ? h("div.help-description", field.description) : null),
          ]),
        )
      : h("p.muted", "No fields: nothing to configure."),
  );
}
