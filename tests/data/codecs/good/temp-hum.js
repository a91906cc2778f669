// flowhost test codec (TS013 shape, LoRa Alliance TS013-1.0.0): a temperature/humidity sensor.
// Uplink on FPort 1: 0x01 TTTT (signed, 0.1 degC) 0x02 HH (%). Downlink on FPort 2: 0x10 IIII (interval, s).
function decodeUplink(input) {
  var b = input.bytes;
  if (input.fPort !== 1) {
    return { errors: ["unknown FPort " + input.fPort] };
  }
  if (b.length !== 5 || b[0] !== 0x01 || b[3] !== 0x02) {
    return { errors: ["not a temperature/humidity frame"] };
  }
  var raw = (b[1] << 8) | b[2];
  if (raw & 0x8000) raw -= 0x10000;
  var warnings = [];
  if (b[4] > 100) warnings.push("humidity over 100%");
  var data = { temperature: raw / 10, humidity: b[4] };
  if (input.recvTime instanceof Date) data.receivedYear = input.recvTime.getUTCFullYear();
  return { data: data, warnings: warnings, errors: [] };
}

function encodeDownlink(input) {
  var interval = input.data.interval;
  if (typeof interval !== "number" || interval < 1 || interval > 65535) {
    return { errors: ["interval must be a number of seconds 1..65535"] };
  }
  return { bytes: [0x10, (interval >> 8) & 0xff, interval & 0xff], fPort: 2, warnings: [], errors: [] };
}

function decodeDownlink(input) {
  if (input.bytes.length !== 3 || input.bytes[0] !== 0x10) {
    return { errors: ["not an interval command"] };
  }
  return { data: { interval: (input.bytes[1] << 8) | input.bytes[2] }, warnings: [], errors: [] };
}
