// The REST API client: JSON in and out, the session cookie, and the CSRF header the API asks for.

export class ApiError extends Error {
  constructor(status, errors, body) {
    super(errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("\n") || `HTTP ${status}`);
    this.status = status;
    this.errors = errors;
    this.body = body;
  }
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export async function request(method, path, body, { raw = false, contentType = "application/json" } = {}) {
  const headers = { Accept: "application/json" };
  if (!SAFE_METHODS.has(method)) {
    // flowhost/api/auth.py: a cookie-authenticated change must come from flowhost's own pages.
    headers["X-Flowhost-Client"] = "editor";
  }
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = contentType;
    init.body = contentType === "application/json" ? JSON.stringify(body) : body;
  }
  const response = await fetch(`/api${path}`, init);
  const text = await response.text();
  let data = null;
  if (text && (response.headers.get("Content-Type") || "").includes("json")) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (response.status === 401) window.dispatchEvent(new Event("flowhost:unauthorized"));
  if (!response.ok) {
    const errors = data && Array.isArray(data.errors) ? data.errors : [{ path: "", message: text || response.statusText }];
    throw new ApiError(response.status, errors, data);
  }
  return raw ? text : data;
}

export const api = {
  nodeTypes: () => request("GET", "/node-types"),
  flows: () => request("GET", "/flows"),
  flow: (id) => request("GET", `/flows/${encodeURIComponent(id)}`),
  createFlow: (flow) => request("POST", "/flows", flow),
  saveFlow: (flow) => request("PUT", `/flows/${encodeURIComponent(flow.id)}`, flow),
  validateFlow: (flow, isNew) =>
    request("POST", isNew ? "/flows/validate" : `/flows/${encodeURIComponent(flow.id)}/validate`, flow),
  deleteFlow: (id) => request("DELETE", `/flows/${encodeURIComponent(id)}`),
  flowYaml: (id) => request("GET", `/flows/${encodeURIComponent(id)}/yaml`, undefined, { raw: true }),
  importFlow: (yamlText) => request("POST", "/flows/import", yamlText, { contentType: "application/yaml" }),
  nodeOutputs: (type, config) => request("POST", `/node-types/${encodeURIComponent(type)}/outputs`, config),
  injectNode: (flowId, nodeId) =>
    request("POST", `/flows/${encodeURIComponent(flowId)}/nodes/${encodeURIComponent(nodeId)}/inject`),
  flowStatus: (id) => request("GET", `/flows/${encodeURIComponent(id)}/status`),
  connections: () => request("GET", "/connections"),
  createConnection: (c) => request("POST", "/connections", c),
  saveConnection: (c) => request("PUT", `/connections/${encodeURIComponent(c.id)}`, c),
  deleteConnection: (id) => request("DELETE", `/connections/${encodeURIComponent(id)}`),
};
