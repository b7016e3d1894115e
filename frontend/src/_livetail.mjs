// The client side of live tail's early lines (monitoring/consumers.py). A socket opened
// with early=1 sends a line as soon as the function prints it ("early", with a key and no
// id), then its id once it is stored ("stored"), or a stored line the socket never sent
// early ("events", with its id, and its key if it had one). Lines are shown once each:
//
// - a stored line whose key was shown early on this socket is that line's confirmation;
// - when a socket closes, the lines it showed early without their ids are remembered by
//   stream, timestamp and message; after reconnecting with after_id (the highest id given)
//   the first stored line equal to each of them is that line, not a new one.
//
// The highest id is the only resume point the server needs, as for clients without early.

const content = (event) => JSON.stringify([event.stream, event.timestamp, event.message]);

export class LiveTailLines {
  constructor(carriedLimit = 10_000) {
    this.lastId = 0;
    this.unconfirmed = new Map(); // key -> the line, shown early on the open socket
    this.carried = new Map(); // content -> count, shown early on a closed socket
    this.carriedLimit = carriedLimit;
  }

  // The query parameters of the next connection (besides the group).
  resumeParams(sinceMs) {
    const params = { early: "1" };
    if (this.lastId) params.after_id = String(this.lastId);
    else if (sinceMs !== undefined) params.since = String(sinceMs);
    return params;
  }

  // One message from the socket: the lines to show now, and the lines now known stored.
  receive(data) {
    if (data.type === "early") {
      for (const event of data.events) this.unconfirmed.set(event.key, event);
      // Ids that never come (the server lost a message) must not pile up for good.
      for (const key of this.unconfirmed.keys()) {
        if (this.unconfirmed.size <= this.carriedLimit) break;
        this.unconfirmed.delete(key);
      }
      return { show: data.events, stored: [] };
    }
    if (data.type === "stored") {
      const stored = [];
      for (const { key, id } of data.events) {
        this.lastId = Math.max(this.lastId, id);
        const line = this.unconfirmed.get(key);
        if (line) stored.push(line);
        this.unconfirmed.delete(key);
      }
      return { show: [], stored };
    }
    if (data.type !== "events") return { show: [], stored: [] };
    const show = [];
    for (const event of data.events) {
      this.lastId = Math.max(this.lastId, event.id);
      if (event.key !== undefined && this.unconfirmed.delete(event.key)) continue;
      const seen = content(event);
      const count = this.carried.get(seen);
      if (count) {
        if (count === 1) this.carried.delete(seen);
        else this.carried.set(seen, count - 1);
        continue;
      }
      show.push(event);
    }
    return { show, stored: data.events };
  }

  // The socket closed: what it showed early without ids is matched by content from now on.
  disconnected() {
    for (const line of this.unconfirmed.values()) {
      const seen = content(line);
      this.carried.set(seen, (this.carried.get(seen) || 0) + 1);
    }
    this.unconfirmed.clear();
    // Lines never stored (the server went away with them) would stay here for good.
    for (const seen of this.carried.keys()) {
      if (this.carried.size <= this.carriedLimit) break;
      this.carried.delete(seen);
    }
  }
}
