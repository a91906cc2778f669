// flowhost test codec in the ThingPark driver shape: TS013 functions plus extractPoints({message, time}).
// Uplink: an energy index in Wh (32 bits) and a power in W (16 bits).
function decodeUplink(input) {
  var b = input.bytes;
  var index = ((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3];
  return { data: { energy: index, power: (b[4] << 8) | b[5] }, warnings: [], errors: [] };
}

function extractPoints(input) {
  return {
    energy: { unitId: "Wh", record: input.message.energy },
    power: { unitId: "W", record: input.message.power }
  };
}
