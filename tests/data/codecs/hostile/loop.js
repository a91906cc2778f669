// flowhost hostile test codec: never returns.
function decodeUplink(input) {
  for (;;) {
    try { while (true) {} } catch (e) { /* an interrupt must not be catchable */ }
  }
}
