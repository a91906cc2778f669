// Undo and redo by snapshots of the flow being edited (a flow is small; copies are cheap and never drift).

export class History {
  constructor(limit = 200) {
    this.limit = limit;
    this.past = [];
    this.future = [];
  }

  reset(state) {
    this.past = [JSON.stringify(state)];
    this.future = [];
  }

  record(state) {
    const snapshot = JSON.stringify(state);
    if (snapshot === this.past[this.past.length - 1]) return;
    this.past.push(snapshot);
    if (this.past.length > this.limit) this.past.shift();
    this.future = [];
  }

  get canUndo() { return this.past.length > 1; }
  get canRedo() { return this.future.length > 0; }

  undo() {
    if (!this.canUndo) return null;
    this.future.push(this.past.pop());
    return JSON.parse(this.past[this.past.length - 1]);
  }

  redo() {
    if (!this.canRedo) return null;
    const snapshot = this.future.pop();
    this.past.push(snapshot);
    return JSON.parse(snapshot);
  }
}
