// flowhost hostile test codec: allocates without end, and catches the out-of-memory error to try again.
function decodeUplink(input) {
  var hoard = [];
  for (;;) {
    try { hoard.push(new Array(100000).fill(input.fPort)); } catch (e) { hoard.push([e]); }
  }
}
