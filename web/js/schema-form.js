// Forms generated from the voluptuous-serialize schemas of /api/node-types. Field definitions never live here:
// the schema says the name, type, whether it is required, its default, choices, range and format.

import { h, humanize } from "./dom.js";

const NUMBER_TYPES = new Set(["integer", "float", "number", "int"]);
const LIST_TYPES = new Set(["list", "array", "multi_string", "list_string", "list_integer"]);

function optionsOf(field) {
  const options = field.options || field.choices || [];
  if (Array.isArray(options)) {
    return options.map((option) => (Array.isArray(option) ? option : [option, String(option)]));
  }
  return Object.entries(options);
}

function kindOf(field, secretFields) {
  const format = field.format || "";
  if (format === "pem") return "pem";
  if (format === "password" || field.secret || secretFields.has(field.name)) return "password";
  if (field.type === "boolean") return "boolean";
  if (field.type === "select" || (field.options && !LIST_TYPES.has(field.type) && field.type !== "multi_select")) return "select";
  if (field.type === "multi_select") return "multi_select";
  // A list of mappings (a switch's rules) is edited as JSON, one item per line: one item per line of text cannot hold it.
  if (LIST_TYPES.has(field.type) && field.items && typeof field.items === "object" && field.items.type === "mapping") return "json-list";
  if (LIST_TYPES.has(field.type) || field.multiple) return "list";
  if (NUMBER_TYPES.has(field.type)) return "number";
  if (format === "duration" || field.type === "duration") return "duration";
  if (field.type === "string" || !field.type) return format === "multiline" ? "textarea" : "text";
  return "json";
}

function numericBound(field, ...names) {
  for (const name of names) if (typeof field[name] === "number") return field[name];
  return undefined;
}

function itemIsNumber(field) {
  const item = field.items || field.itemType || field.item;
  const type = typeof item === "string" ? item : item && item.type;
  return NUMBER_TYPES.has(type) || field.type === "list_integer";
}

function rangeHint(field) {
  const min = numericBound(field, "valueMin", "min");
  const max = numericBound(field, "valueMax", "max");
  const unit = field.unit ? ` ${field.unit}` : "";
  if (min !== undefined && max !== undefined) return `${min} – ${max}${unit}`;
  if (min !== undefined) return `≥ ${min}${unit}`;
  if (max !== undefined) return `≤ ${max}${unit}`;
  return unit ? `in${unit}` : "";
}

class FieldControl {
  constructor(field, kind, value, hasValue, idPrefix) {
    this.field = field;
    this.kind = kind;
    this.name = field.name;
    const id = `${idPrefix}-${field.name}`;
    this.input = this.build(id, value, hasValue);
    const required = field.required === true;
    const label = field.label || field.title || humanize(field.name);
    const hint = [rangeHint(field), kind === "duration" ? "e.g. 500ms, 30s, 10m" : "", kind === "list" ? "one per line" : "", kind === "json-list" ? "JSON: a list, an object per item" : ""]
      .filter(Boolean).join(" · ");
    this.error = h("div.field-error", { role: "alert" });
    this.element = h(
      "div.field",
      { dataset: { field: field.name, kind } },
      h("label", { for: id }, label, required ? h("span.required", { title: "required" }, " *") : null),
      h("div.control", this.input),
      field.description ? h("div.field-help", field.description) : null,
      hint ? h("div.field-hint", hint) : null,
      this.error,
    );
    if (required) this.element.classList.add("is-required");
  }

  build(id, value, hasValue) {
    const field = this.field;
    const show = hasValue ? value : field.default;
    const common = { id, name: field.name, dataset: { field: field.name } };
    switch (this.kind) {
      case "boolean":
        return h("input", { ...common, type: "checkbox", checked: Boolean(show) });
      case "select": {
        const select = h("select", common);
        if ((!field.required && field.default === undefined) || show === undefined) select.append(h("option", { value: "" }, "—"));
        for (const [optionValue, label] of optionsOf(field)) {
          select.append(h("option", { value: String(optionValue) }, label));
        }
        select.value = show === undefined || show === null ? "" : String(show);
        this.optionValues = new Map(optionsOf(field).map(([v]) => [String(v), v]));
        return select;
      }
      case "multi_select": {
        const box = h("div.multi", common);
        const chosen = new Set(Array.isArray(show) ? show.map(String) : []);
        for (const [optionValue, label] of optionsOf(field)) {
          box.append(h("label.check", h("input", { type: "checkbox", value: String(optionValue), checked: chosen.has(String(optionValue)) }), label));
        }
        return box;
      }
      case "number":
        return h("input", {
          ...common,
          type: "number",
          step: field.type === "integer" || field.type === "int" ? "1" : "any",
          min: numericBound(field, "valueMin", "min"),
          max: numericBound(field, "valueMax", "max"),
          value: show === undefined || show === null ? "" : String(show),
        });
      case "password":
        return h("input", { ...common, type: "password", autocomplete: "new-password", value: show ?? "" });
      case "pem": {
        const area = h("textarea.pem", { ...common, rows: 4, spellcheck: "false", placeholder: "-----BEGIN ...-----  (paste, or load a file)" });
        area.value = show ?? "";
        const file = h("input.file", {
          type: "file",
          accept: ".pem,.crt,.cer,.key,.txt",
          dataset: { fileFor: field.name },
          on: {
            change: async () => {
              if (file.files.length) {
                area.value = (await file.files[0].text()).trim() + "\n";
                area.dispatchEvent(new Event("input", { bubbles: true }));
              }
            },
          },
        });
        this.pemArea = area;
        return h("div.pem-control", area, h("label.file-button", "Load file…", file));
      }
      case "list": {
        const area = h("textarea.list", { ...common, rows: 3, spellcheck: "false" });
        area.value = Array.isArray(show) ? show.join("\n") : show ?? "";
        return area;
      }
      case "json-list": {
        const area = h("textarea.json-list.mono", { ...common, rows: 5, spellcheck: "false", placeholder: "[{...}, {...}]" });
        area.value = Array.isArray(show) ? `[\n${show.map((item) => `  ${JSON.stringify(item)}`).join(",\n")}\n]` : show ?? "";
        return area;
      }
      case "json": {
        const input = h("input", { ...common, type: "text", spellcheck: "false" });
        input.value = show === undefined ? "" : typeof show === "string" ? show : JSON.stringify(show);
        return input;
      }
      case "textarea": {
        const area = h("textarea", { ...common, rows: 3 });
        area.value = show ?? "";
        return area;
      }
      default: {
        const input = h("input", { ...common, type: "text", spellcheck: "false", placeholder: this.kind === "duration" ? "10s" : "" });
        input.value = show === undefined || show === null ? "" : String(show);
        return input;
      }
    }
  }

  // The value to send, or undefined when the field is left empty.
  read() {
    switch (this.kind) {
      case "boolean":
        return this.input.checked;
      case "select": {
        const raw = this.input.value;
        return raw === "" ? undefined : this.optionValues.get(raw) ?? raw;
      }
      case "multi_select": {
        const values = [...this.input.querySelectorAll("input:checked")].map((box) => box.value);
        return values.length ? values : undefined;
      }
      case "number": {
        const raw = this.input.value.trim();
        if (raw === "") return undefined;
        const number = Number(raw);
        return Number.isNaN(number) ? raw : number;
      }
      case "pem":
        return this.pemArea.value.trim() === "" ? undefined : this.pemArea.value;
      case "list": {
        const items = this.input.value.split(/[\n,]/).map((item) => item.trim()).filter(Boolean);
        if (!items.length) return undefined;
        return itemIsNumber(this.field) ? items.map((item) => (Number.isNaN(Number(item)) ? item : Number(item))) : items;
      }
      case "json-list":
      case "json": {
        const raw = this.input.value.trim();
        if (raw === "") return undefined;
        try {
          return JSON.parse(raw);
        } catch {
          return raw;
        }
      }
      default: {
        const raw = this.input.value;
        return raw.trim() === "" ? undefined : raw;
      }
    }
  }

  setError(message) {
    this.error.textContent = message || "";
    this.element.classList.toggle("has-error", Boolean(message));
  }
}

/**
 * A form for `schema` (a voluptuous-serialize field list) filled with `values`.
 * read() gives the mapping to send: empty fields are left out, and so are untouched defaults that were not in
 * `values` (a hand-written flow stays as short as it was).
 */
export class SchemaForm {
  constructor(schema, values = {}, { secretFields = [], idPrefix = "f", advanced = null, choices = {} } = {}) {
    this.schema = Array.isArray(schema) ? schema : [];
    this.values = values || {};
    const secrets = new Set(secretFields);
    this.controls = this.schema.filter((field) => field && field.name).map((field) => {
      // A field naming a connection becomes a choice of the existing connections.
      const choice = choices[field.name];
      const shown = choice ? { ...field, type: "select", options: choice } : field;
      return new FieldControl(shown, kindOf(shown, secrets), this.values[field.name], field.name in this.values, idPrefix);
    });
    const isAdvanced = (control) => advanced && advanced(control.field) && !(control.name in this.values);
    const main = this.controls.filter((control) => !isAdvanced(control));
    const more = this.controls.filter(isAdvanced);
    this.element = h("div.schema-form", main.map((control) => control.element));
    // An error stays until its field is changed.
    this.element.addEventListener("input", (event) => this.clearErrorOf(event.target));
    this.element.addEventListener("change", (event) => this.clearErrorOf(event.target));
    if (more.length) {
      this.advanced = h("details.advanced", h("summary", `Advanced settings (${more.length})`), more.map((control) => control.element));
      this.element.append(this.advanced);
    }
    if (!this.controls.length) this.element.append(h("p.muted", "This node has no settings."));
  }

  control(name) {
    return this.controls.find((control) => control.name === name);
  }

  setHidden(name, hidden) {
    const control = this.control(name);
    if (control) control.element.hidden = hidden;
  }

  read() {
    const result = {};
    for (const control of this.controls) {
      if (control.element.hidden) continue;
      const value = control.read();
      if (value === undefined) continue;
      const wasGiven = control.name in this.values;
      if (!wasGiven && control.field.default !== undefined && JSON.stringify(value) === JSON.stringify(control.field.default)) continue;
      result[control.name] = value;
    }
    return result;
  }

  clearErrorOf(target) {
    const control = this.controls.find((c) => c.element.contains(target));
    if (control) control.setError("");
  }

  clearErrors() {
    for (const control of this.controls) control.setError("");
  }

  // errors: [{field, message}]; returns those that match no field.
  showErrors(errors) {
    this.clearErrors();
    const unmatched = [];
    for (const error of errors) {
      const control = error.field && this.control(error.field);
      if (control) {
        const previous = control.error.textContent;
        control.setError(previous ? `${previous}; ${error.message}` : error.message);
      } else {
        unmatched.push(error);
      }
    }
    const first = this.controls.find((control) => control.element.classList.contains("has-error"));
    if (first) {
      if (this.advanced && this.advanced.contains(first.element)) this.advanced.open = true;
      first.element.scrollIntoView({ block: "nearest" });
    }
    return unmatched;
  }
}

// "nodes[1].config.interval" relative to "nodes[1].config" -> "interval"; "configuration.devEUIs[2]" -> "devEUIs".
export function fieldOfPath(path, prefix) {
  if (!path || !path.startsWith(prefix)) return null;
  const rest = path.slice(prefix.length).replace(/^\./, "");
  const match = /^([^.[\]]+)/.exec(rest);
  return match ? match[1] : "";
}
