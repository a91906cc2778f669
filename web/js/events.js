// /api/events over a WebSocket, reconnecting with a growing delay (capped) while the page is open.

export class EventStream {
  constructor(path, onEvent, onLive) {
    this.url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${path}`;
    this.onEvent = onEvent;
    this.onLive = onLive;
    this.delay = 500;
  }

  start() {
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.delay = 500;
      this.onLive(true);
    });
    socket.addEventListener("message", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      for (const item of Array.isArray(event) ? event : [event]) this.onEvent(item);
    });
    socket.addEventListener("close", () => {
      this.onLive(false);
      setTimeout(() => this.start(), this.delay);
      this.delay = Math.min(this.delay * 2, 10000);
    });
  }
}
