// The console's live-tail client shows every line once, across early sends, confirmations
// and reconnects (run by monitoring/tests/test_live_tail_client.py with `node --test`).
import assert from "node:assert/strict";
import test from "node:test";
import { LiveTailLines } from "../src/_livetail.mjs";

const line = (key, message, ts = 1000) => ({ key, timestamp: ts, stream: "s", message });
const stored = (early, id) => ({ ...early, id });
const messages = (shown) => shown.map((e) => e.message);

test("an early line is shown once and its confirmation moves the resume point", () => {
  const tail = new LiveTailLines();
  const a = line("n.1", "a");
  assert.deepEqual(messages(tail.receive({ type: "early", events: [a] }).show), ["a"]);
  const { show, stored: done } = tail.receive({ type: "stored", events: [{ key: "n.1", id: 7 }] });
  assert.deepEqual(show, []);
  assert.deepEqual(messages(done), ["a"]);
  assert.equal(tail.lastId, 7);
  assert.deepEqual(tail.resumeParams(5), { early: "1", after_id: "7" });
});

test("a stored line sent in full after its early copy is not shown twice", () => {
  const tail = new LiveTailLines();
  tail.receive({ type: "early", events: [line("n.1", "a")] });
  const { show } = tail.receive({ type: "events", events: [stored(line("n.1", "a"), 3)] });
  assert.deepEqual(show, []);
  assert.equal(tail.lastId, 3);
});

test("after a reconnect the backfilled copies of unconfirmed early lines are dropped once each", () => {
  const tail = new LiveTailLines();
  tail.receive({ type: "events", events: [{ id: 1, timestamp: 900, stream: "s", message: "old" }] });
  tail.receive({ type: "early", events: [line("n.1", "same"), line("n.2", "same"), line("n.3", "b")] });
  tail.disconnected();
  assert.deepEqual(tail.resumeParams(), { early: "1", after_id: "1" });
  // The backfill (no keys) carries both "same" lines, "b", and a line never seen.
  const backfill = [
    { id: 2, timestamp: 1000, stream: "s", message: "same" },
    { id: 3, timestamp: 1000, stream: "s", message: "same" },
    { id: 4, timestamp: 1000, stream: "s", message: "b" },
    { id: 5, timestamp: 1000, stream: "s", message: "same" },
  ];
  assert.deepEqual(messages(tail.receive({ type: "events", events: backfill }).show), ["same"]);
  assert.equal(tail.lastId, 5);
});

test("a line on another stream or at another time is a different line", () => {
  const tail = new LiveTailLines();
  tail.receive({ type: "early", events: [line("n.1", "x", 1000)] });
  tail.disconnected();
  const others = [
    { id: 2, timestamp: 1001, stream: "s", message: "x" },
    { id: 3, timestamp: 1000, stream: "t", message: "x" },
  ];
  assert.equal(tail.receive({ type: "events", events: others }).show.length, 2);
});

test("lines the server never stored are forgotten beyond the limit", () => {
  const tail = new LiveTailLines(2);
  tail.receive({ type: "early", events: [line("n.1", "a"), line("n.2", "b"), line("n.3", "c")] });
  tail.disconnected();
  assert.equal(tail.carried.size, 2);
});

test("a first connection asks for the recent past, with early lines", () => {
  assert.deepEqual(new LiveTailLines().resumeParams(42), { early: "1", since: "42" });
});

test("early lines whose ids never come are forgotten beyond the limit", () => {
  const tail = new LiveTailLines(2);
  tail.receive({ type: "early", events: [line("n.1", "a"), line("n.2", "b"), line("n.3", "c")] });
  assert.deepEqual([...tail.unconfirmed.keys()], ["n.2", "n.3"]);
});
