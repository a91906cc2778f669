// flowhost hostile test codec: each FPort returns a different wrong shape.
function decodeUplink(input) {
  var cyclic = {}; cyclic.self = cyclic;
  switch (input.fPort) {
    case 1: return undefined;
    case 2: return 42;
    case 3: return { warnings: "not a list" };
    case 4: return { data: cyclic };
    case 5: return { data: 1n };
    case 6: return { data: "x".repeat(2000000) };
    case 7: return { errors: [1, 2] };
    case 8: return new Promise(function () {});
    default: return { data: { ok: true } };
  }
}

function encodeDownlink(input) {
  switch (input.data.kind) {
    case "bytes": return { bytes: [256, -1] };
    case "port": return { bytes: [1], fPort: 0 };
    default: return { bytes: "01" };
  }
}
