// flowhost test codec in ChirpStack v3 style: Decode(fPort, bytes, variables), Encode(fPort, obj, variables).
// Uplink: a tank level in millimetres (16 bits) and a valve state.
function Decode(fPort, bytes, variables) {
  return { level: (bytes[0] << 8) | bytes[1], valveOpen: bytes[2] === 1, fPort: fPort };
}

function Encode(fPort, obj, variables) {
  return [obj.open ? 1 : 0, fPort];
}
