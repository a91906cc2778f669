// The codec node's try-out box: hex bytes and an FPort in, the decoded result (or the codec's errors) out, at once.
// It decodes with the form's inline source when there is one (unsaved edits included), else with the deployed
// node's codecs (POST /api/codecs/decode).

import { request } from "./api.js";
import { clear, h } from "./dom.js";

/** flowId, nodeId: the node as deployed; readConfig(): the form's current config. */
export function codecTryBox({ flowId, nodeId, readConfig }) {
  const bytes = h("input#codec-try-bytes.mono", { type: "text", placeholder: "0100e7022d", spellcheck: "false" });
  const fPort = h("input#codec-try-fport", { type: "number", min: 0, max: 255, value: "1" });
  const devEUI = h("input#codec-try-deveui.mono", { type: "text", placeholder: "DevEUI (optional)", spellcheck: "false" });
  const output = h("pre#codec-try-result.codec-try-result");
  const run = async () => {
    const config = readConfig();
    const body = { bytes: bytes.value.trim(), fPort: Number(fPort.value) };
    if (config.source) body.source = config.source;
    else Object.assign(body, { flow: flowId, node: nodeId });
    if (devEUI.value.trim() && !config.source) body.devEUI = devEUI.value.trim();
    output.classList.remove("failed");
    try {
      const result = await request("POST", "/codecs/decode", body);
      const failed = result.errors && result.errors.length;
      output.classList.toggle("failed", Boolean(failed));
      const shown = failed ? { errors: result.errors, warnings: result.warnings } : { data: result.data, warnings: result.warnings, points: result.points };
      clear(output, `${result.codec}: ${JSON.stringify(shown, null, 2)}`);
    } catch (error) {
      output.classList.add("failed");
      clear(output, error.message);
    }
  };
  const decode = h("button#codec-try-decode.small", { type: "button", on: { click: run } }, "Decode");
  for (const input of [bytes, fPort, devEUI]) {
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        run();
      }
    });
  }
  return h(
    "div.codec-try",
    h("hr"),
    h("label", { for: "codec-try-bytes" }, "Try it: payload bytes (hex) and FPort"),
    h("div.codec-try-inputs", bytes, fPort, devEUI, decode),
    output,
  );
}
