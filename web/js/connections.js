// The connections panel: every connection of /api/connections with its live state, last error and counters,
// and the create/edit form (ThingPark's "Creating a Connection From UI" form, generated from the schema).

import { api, ApiError } from "./api.js";
import { openDialog } from "./dialog.js";
import { clear, h, humanize } from "./dom.js";
import { fieldOfPath, SchemaForm } from "./schema-form.js";

// Live state comes by /api/events; polling finds connections added or removed elsewhere.
const POLL_MS = 5000;

function stateLevel(state) {
  const value = String(state || "").toUpperCase();
  if (value === "OPENED") return "ok";
  if (value === "OPENING" || value === "AUTHENTICATING" || value === "CONNECTING") return "pending";
  if (value === "CLOSED" || value === "DEACTIVATED" || value === "" || value === "STOPPED") return "off";
  return "error";
}

function slug(text) {
  return String(text).toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60);
}

// A connection schema lists its essential fields first (ThingPark's form): from the first optional field with a
// default that is not a choice, fields are tuning and go under "Advanced settings".
function advancedFields(schema) {
  const first = schema.findIndex((f) => !f.required && f.default !== undefined && f.default !== "" && f.type !== "select");
  return new Set(first < 0 ? [] : schema.slice(first).map((f) => f.name));
}

export class ConnectionsPanel {
  constructor(element, connectionTypes, { toast, onChange }) {
    this.element = element;
    this.connectionTypes = connectionTypes;
    this.toast = toast;
    this.onChange = onChange || (() => {});
    this.connections = new Map();
    this.list = h("div.connection-list");
    const addButton = h("button.primary.small", { type: "button", dataset: { action: "add-connection" }, on: { click: () => this.edit(null) } }, "+ Add connection");
    addButton.disabled = !connectionTypes.size;
    clear(element, h("div.panel-toolbar", h("span.panel-note", "Shared by every flow"), h("span.spacer"), addButton), this.list);
  }

  async refresh() {
    const { connections: items } = await api.connections();
    this.connections = new Map(items.map((item) => [item.id, item]));
    this.render();
  }

  startPolling() {
    setInterval(() => {
      if (document.visibilityState === "visible") this.refresh().catch(() => {});
    }, POLL_MS);
  }

  applyEvent(event) {
    const data = event.data || {};
    if (event.kind === "counters") {
      // Every second: {connections: {id: {state, lastError, counters}}, nodes: ...}.
      for (const [id, snapshot] of Object.entries(data.connections || {})) {
        const connection = this.connections.get(id);
        if (connection && JSON.stringify(snapshot) !== JSON.stringify({ state: connection.state, lastError: connection.lastError, counters: connection.counters })) {
          Object.assign(connection, snapshot);
          this.renderOne(connection);
        }
      }
      return;
    }
    const connection = this.connections.get(event.connection);
    if (!connection) return;
    if (event.kind === "connection_state") {
      connection.state = data.state;
      connection.lastError = data.error ?? null;
    }
    this.renderOne(connection);
  }

  ids() {
    return [...this.connections.keys()];
  }

  render() {
    clear(this.list);
    if (!this.connections.size) {
      this.list.append(h("p.muted.empty-note", "No connections yet. A connection is a broker session that mqtt nodes share."));
    }
    for (const connection of this.connections.values()) this.list.append(this.card(connection));
    this.onChange(this.connections);
  }

  renderOne(connection) {
    const old = this.list.querySelector(`.conn-card[data-id="${CSS.escape(connection.id)}"]`);
    if (!old) {
      this.render();
      return;
    }
    old.replaceWith(this.card(connection));
    this.onChange(this.connections);
  }

  card(connection) {
    const level = connection.active === false ? "off" : stateLevel(connection.state);
    const configuration = connection.configuration || {};
    const counters = Object.entries(connection.counters || {}).filter(([, value]) => typeof value === "number" && value !== 0);
    const type = this.connectionTypes.get(connection.connectorId);
    const protocolField = type && type.schema.find((f) => f.name === "protocol");
    const protocol = configuration.protocol || (protocolField && protocolField.default);
    return h(
      "div.conn-card",
      { dataset: { id: connection.id, state: connection.state || "", level } },
      h(
        "div.connection-head",
        h("span.state-dot", { class: `level-${level}`, title: connection.state || "unknown" }),
        h("span.connection-name", connection.name || connection.id),
        h("span.connection-state", connection.active === false ? "INACTIVE" : connection.state || "—"),
        h("span.spacer"),
        connection.readOnly
          ? h("span.muted.small-note", { title: "Change it in its flow file or with Import" }, `in flow ${(connection.definedBy || {}).flow || "?"}`)
          : h("button.ghost.small", { type: "button", dataset: { action: "edit" }, on: { click: () => this.edit(connection) } }, "Edit"),
      ),
      h(
        "div.connection-sub",
        h("span.mono", configuration.hostName || ""),
        protocol ? h("span.badge", protocol) : null,
        h("span.muted", connection.connectorId),
      ),
      connection.lastError ? h("div.connection-error", { title: connection.lastError }, h("div.clamp", connection.lastError)) : null,
      h("div.counters", counters.length
        ? counters.map(([name, value]) => h("span.counter", { dataset: { counter: name }, title: humanize(name) }, h("b", String(value)), ` ${humanize(name).toLowerCase()}`))
        : h("span.muted", "no traffic yet")),
    );
  }

  edit(existing) {
    const isNew = !existing;
    const types = [...this.connectionTypes.values()];
    let connectorId = existing ? existing.connectorId : types[0].type;
    const nameInput = h("input#conn-name", { type: "text", name: "name", value: existing ? existing.name || "" : "", required: true, placeholder: "My MQTT application" });
    const idInput = h("input#conn-id.mono", { type: "text", name: "id", value: existing ? existing.id : "", readOnly: !isNew, spellcheck: "false" });
    let idTouched = !isNew;
    idInput.addEventListener("input", () => { idTouched = true; });
    nameInput.addEventListener("input", () => { if (!idTouched) idInput.value = slug(nameInput.value); });
    const activeInput = h("input#conn-active", { type: "checkbox", name: "active", checked: existing ? existing.active !== false : true });
    const nameError = h("div.field-error");
    const idError = h("div.field-error");
    const typeSelect = h("select#conn-type", { name: "connectorId", disabled: !isNew }, types.map((t) => h("option", { value: t.type }, t.type)));
    typeSelect.value = connectorId;
    const formHolder = h("div");
    let form;
    const build = () => {
      const type = this.connectionTypes.get(connectorId);
      const advanced = advancedFields(type.schema);
      form = new SchemaForm(orderForForm(type.schema), existing ? existing.configuration || {} : {}, {
        secretFields: type.secretFields || [],
        idPrefix: "conn",
        advanced: (field) => advanced.has(field.name) && field.name !== "description",
      });
      clear(formHolder, form.element);
      const protocol = form.control("protocol");
      const pemFields = form.controls.filter((control) => control.kind === "pem");
      const syncTls = () => {
        const tcp = protocol && String(protocol.read() ?? protocol.field.default ?? "").toUpperCase() === "TCP";
        for (const control of pemFields) control.element.hidden = tcp;
      };
      if (protocol) protocol.input.addEventListener("change", syncTls);
      syncTls();
    };
    typeSelect.addEventListener("change", () => {
      connectorId = typeSelect.value;
      build();
    });
    build();
    const body = h(
      "div.connection-form",
      h("div.field.is-required", { dataset: { field: "name" } }, h("label", { for: "conn-name" }, "Application Name", h("span.required", " *")), h("div.control", nameInput), nameError),
      h("div.field-row",
        h("div.field", { dataset: { field: "id" } }, h("label", { for: "conn-id" }, "ID"), h("div.control", idInput), h("div.field-hint", "what nodes refer to; fixed once created"), idError),
        h("div.field", h("label", { for: "conn-type" }, "Connector"), h("div.control", typeSelect)),
        h("div.field.field-check", h("label.check", { for: "conn-active" }, activeInput, " Active")),
      ),
      formHolder,
    );
    const showErrors = (error, showBanner) => {
      nameError.textContent = "";
      idError.textContent = "";
      const fieldErrors = [];
      const other = [];
      for (const item of error.errors) {
        const path = item.path || "";
        if (path === "name") nameError.textContent = item.message;
        else if (path === "id") idError.textContent = item.message;
        else if (path.startsWith("configuration")) fieldErrors.push({ field: fieldOfPath(path, "configuration"), message: item.message });
        else other.push(item);
      }
      const unmatched = form.showErrors(fieldErrors);
      const rest = [...other, ...unmatched].map((item) => (item.path ? `${item.path}: ${item.message}` : item.message));
      showBanner(rest.length ? rest.join("\n") : error.status === 409 ? error.message : "");
    };
    const buttons = [
      { label: "Cancel", action: "cancel" },
      {
        label: isNew ? "Create" : "Update",
        name: "save",
        primary: true,
        action: async ({ close, showError }) => {
          const connection = {
            id: idInput.value.trim() || undefined, // left out, the server makes one from the name
            connectorId,
            name: nameInput.value.trim(),
            active: activeInput.checked,
            configuration: form.read(),
          };
          try {
            const saved = isNew ? await api.createConnection(connection) : await api.saveConnection(connection);
            close();
            this.toast(`Connection ${connection.name || connection.id} ${isNew ? "created" : "updated"}`, "ok");
            if (saved && saved.id) this.connections.set(saved.id, saved);
            await this.refresh();
          } catch (error) {
            if (!(error instanceof ApiError)) throw error;
            showErrors(error, showError);
          }
        },
      },
    ];
    if (!isNew) {
      buttons.unshift({
        label: "Delete",
        danger: true,
        action: async ({ close, showError }) => {
          if (!window.confirm(`Delete connection ${existing.name || existing.id}?`)) return;
          try {
            await api.deleteConnection(existing.id);
            close();
            this.toast(`Connection ${existing.name || existing.id} deleted`, "ok");
            await this.refresh();
          } catch (error) {
            if (!(error instanceof ApiError)) throw error;
            showError(error.message);
          }
        },
      });
    }
    openDialog({ title: isNew ? "New connection" : `Connection ${existing.name || existing.id}`, body, className: "wide", buttons });
    nameInput.focus();
  }
}

// A description field reads best last, as in ThingPark's form; everything else keeps the schema's order.
function orderForForm(schema) {
  const fields = Array.isArray(schema) ? schema : [];
  return [...fields.filter((f) => f.name !== "description"), ...fields.filter((f) => f.name === "description")];
}
