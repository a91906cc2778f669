// A tiny element builder: h("div.panel#id", {attrs, on: {click}}, children...).

export function h(spec, props = {}, ...children) {
  if (typeof props !== "object" || props === null || props instanceof Node || Array.isArray(props)) {
    children.unshift(props);
    props = {};
  }
  const [tagAndId, ...classes] = spec.split(".");
  const [tag, id] = tagAndId.split("#");
  const el = document.createElement(tag || "div");
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "on") {
      for (const [event, handler] of Object.entries(value)) el.addEventListener(event, handler);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "class") {
      el.className = [el.className, value].filter(Boolean).join(" ");
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else if (key === "value" || key === "checked" || key === "textContent") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : value);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function formatTime(seconds) {
  const date = new Date(seconds * 1000);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

// "uplinkTopicPattern" -> "Uplink Topic Pattern"; known acronyms stay upper case.
const ACRONYMS = { ca: "CA", qos: "QoS", id: "ID", ids: "IDs", mqtt: "MQTT", ws: "WS", url: "URL", http: "HTTP",
  eui: "EUI", euis: "EUIs", dev: "Dev", hex: "Hex", tls: "TLS", ssl: "SSL", tcp: "TCP" };

export function humanize(name) {
  const words = String(name)
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z]{2,})/g, "$1 $2")
    .replace(/[_-]+/g, " ")
    .split(" ")
    .filter(Boolean);
  // "fPort" -> "FPort", as LoRaWAN writes it.
  if (words.length > 1 && words[0].length === 1) words.splice(0, 2, words[0].toUpperCase() + words[1]);
  return words
    .map((word) => ACRONYMS[word.toLowerCase()] || word[0].toUpperCase() + word.slice(1))
    .join(" ");
}
