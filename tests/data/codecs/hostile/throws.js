// flowhost hostile test codec: throws on odd first bytes, decodes even ones.
function decodeUplink(input) {
  if (input.bytes[0] % 2) throw new TypeError("odd first byte " + input.bytes[0]);
  return { data: { value: input.bytes[0] } };
}
