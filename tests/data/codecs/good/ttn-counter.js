// flowhost test codec in The Things Network v2 payload-function style: Decoder(bytes, port), Encoder(object, port).
// Uplink: a 32-bit big-endian pulse counter, then a battery level in 1/100 V.
function Decoder(bytes, port) {
  var count = ((bytes[0] << 24) >>> 0) + (bytes[1] << 16) + (bytes[2] << 8) + bytes[3];
  return { pulses: count, battery: bytes[4] / 100, port: port };
}

function Encoder(object, port) {
  return [object.reset ? 1 : 0];
}
