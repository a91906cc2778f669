// flowhost bench codec (TS013 shape, LoRa Alliance TS013-1.0.0), written for bench/run.py's "decoder" test.
// Decodes the Cayenne LPP channel/type/value layout (format published by myDevices: a channel byte, a type
// byte, then a big-endian value whose size and scale the type gives), for the types the bench payload uses
// and a few more. bench/loadgen.py sends 03 67 F600 04 68 82: temperature_3 -256 (degC), humidity_4 65 (%).
const LPP_TYPES = {
  0x00: { name: "digitalInput", size: 1, scale: 1, signed: false },
  0x01: { name: "digitalOutput", size: 1, scale: 1, signed: false },
  0x02: { name: "analogInput", size: 2, scale: 100, signed: true },
  0x65: { name: "illuminance", size: 2, scale: 1, signed: false },
  0x66: { name: "presence", size: 1, scale: 1, signed: false },
  0x67: { name: "temperature", size: 2, scale: 10, signed: true },
  0x68: { name: "humidity", size: 1, scale: 2, signed: false },
  0x73: { name: "barometer", size: 2, scale: 10, signed: false },
};

function readValue(bytes, offset, type) {
  let value = 0;
  for (let i = 0; i < type.size; i++) value = value * 256 + bytes[offset + i];
  const top = 2 ** (8 * type.size - 1);
  if (type.signed && value >= top) value -= 2 * top;
  return value / type.scale;
}

function decodeUplink(input) {
  const bytes = input.bytes;
  const data = {};
  const warnings = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + 2 > bytes.length) return { errors: [`truncated header at byte ${offset}`] };
    const channel = bytes[offset];
    const type = LPP_TYPES[bytes[offset + 1]];
    if (type === undefined) return { errors: [`unknown type 0x${bytes[offset + 1].toString(16)} at byte ${offset + 1}`] };
    if (offset + 2 + type.size > bytes.length) return { errors: [`truncated ${type.name} on channel ${channel}`] };
    const key = `${type.name}_${channel}`;
    if (key in data) warnings.push(`${key} given twice, the last one kept`);
    data[key] = readValue(bytes, offset + 2, type);
    offset += 2 + type.size;
  }
  return { data, warnings, errors: [] };
}
