// flowhost hostile test codec: tries to reach the host. FPort 1 reports what it can see; the others try to use it.
function decodeUplink(input) {
  switch (input.fPort) {
    case 1:
      return { data: {
        require: typeof require, process: typeof process, std: typeof std, os: typeof os,
        fetch: typeof fetch, XMLHttpRequest: typeof XMLHttpRequest, python: typeof python,
        print: typeof print, scriptArgs: typeof scriptArgs, setTimeout: typeof setTimeout
      } };
    case 2: return { data: require("fs").readFileSync("/etc/passwd", "utf8") };
    case 3: return { data: process.env };
    case 4: return { data: std.loadFile("/etc/passwd") };
    case 5: return { data: os.exec(["/bin/true"]) };
    case 6: return { data: fetch("http://127.0.0.1:1/") };
    case 7: return { data: import("os") };
    default: return { data: Function("return this")() === globalThis };
  }
}
