// The lesson's seed client code (../shared/seed/socketio-rooms-lesson.md), minus
// React, against rtchat with the official socket.io-client: plain strings over
// `message`, rooms through `query.projectId` and `joinRoom`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Inbox, ack, connected, once, recordEvents, serverFor } from "./helpers.mjs";

test("ChatComponent: io(url), emit('message'), on('message') reaches everyone, sender included", async (t) => {
  const server = await serverFor(t);

  // As in ChatComponent's useEffect: connect, then listen for "message".
  const a = server.seed();
  const aReceived = new Inbox(a, "message");
  const b = server.seed();
  const bReceived = new Inbox(b, "message");
  // The component emits whenever the user clicks Send; the other tab has to be
  // connected by then to hear it.
  await Promise.all([connected(a), connected(b)]);

  a.emit("message", "hello from a");
  assert.equal(await aReceived.next(), "hello from a", "the sender gets its own message, as io.emit did");
  assert.equal(await bReceived.next(), "hello from a");

  b.emit("message", "hi back");
  assert.equal(await aReceived.next(), "hi back");
  assert.equal(await bReceived.next(), "hi back");
});

test("ChatComponent buffers a message emitted before the socket is connected", async (t) => {
  const server = await serverFor(t);
  const listener = server.seed();
  const heard = new Inbox(listener, "message");
  await connected(listener);

  // Exactly the component's order: io(url) and, at once, emit (no await between).
  const eager = server.seed();
  const echo = once(eager, "message");
  eager.emit("message", "sent before connect");
  assert.equal(await echo, "sent before connect");
  assert.equal(await heard.next(), "sent before connect");
});

test("rooms: query.projectId + joinRoom keep a project's messages in the project", async (t) => {
  const server = await serverFor(t);
  const projectId = "12345";

  // The lesson's room example, verbatim but for the URL.
  const a = server.seed({ query: { projectId } });
  a.emit("joinRoom", projectId);
  const aReceived = new Inbox(a, "message");
  const b = server.seed({ query: { projectId } });
  b.emit("joinRoom", projectId);
  const bReceived = new Inbox(b, "message");
  const lobby = server.seed();
  const lobbyReceived = new Inbox(lobby, "message");
  await Promise.all([connected(a), connected(b), connected(lobby)]);

  a.emit("message", "project talk");
  assert.equal(await bReceived.next(), "project talk");
  assert.equal(await aReceived.next(), "project talk");

  // Absence without sleeping: the lobby client's first message must be its own.
  lobby.emit("message", "lobby talk");
  assert.equal(await lobbyReceived.next(), "lobby talk", "the lobby did not get the project's message");
  // ... and the project's next message is the project's, not the lobby's.
  b.emit("message", "project again");
  assert.equal(await aReceived.next(), "project again", "the project did not get the lobby's message");
  assert.equal(await bReceived.next(), "project again");

  // joinRoom moves a seed client (the ack is optional; it tells us the move is done).
  assert.deepEqual(await ack(b, "joinRoom", "other"), { ok: true });
  a.emit("message", "b left");
  assert.equal(await aReceived.next(), "b left");
  b.emit("message", "in other");
  assert.equal(await bReceived.next(), "in other", "b's next message comes from its new room");
  a.emit("message", "still here");
  assert.equal(await aReceived.next(), "still here", "a did not get b's message from the other room");

  // Seed messages are stored like any other (REST history of the project room).
  const res = await fetch(`${server.url}/api/rooms/${projectId}/messages`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(
    body.messages.map((m) => m.text),
    ["project talk", "project again", "b left", "still here"],
  );
  assert.equal(lobbyReceived.drain().length, 0);
});

test("seed clients work over polling only", async (t) => {
  const server = await serverFor(t);
  const opts = { transports: ["polling"] };

  const a = server.seed(opts);
  const aReceived = new Inbox(a, "message");
  const b = server.seed(opts);
  const bReceived = new Inbox(b, "message");
  // A project client, polling too, must not hear the lobby.
  const p = server.seed({ ...opts, query: { projectId: "p1" } });
  p.emit("joinRoom", "p1");
  const pReceived = new Inbox(p, "message");
  await Promise.all([connected(a), connected(b), connected(p)]);

  a.emit("message", "over polling");
  assert.equal(await aReceived.next(), "over polling");
  assert.equal(await bReceived.next(), "over polling");
  b.emit("message", "polling back");
  assert.equal(await aReceived.next(), "polling back");
  assert.equal(await bReceived.next(), "polling back");

  p.emit("message", "project over polling");
  assert.equal(await pReceived.next(), "project over polling", "p heard only its own room");
  a.emit("message", "lobby again");
  assert.equal(await bReceived.next(), "lobby again", "the lobby did not get p's message");

  for (const s of [a, b, p]) {
    assert.equal(s.io.engine.transport.name, "polling", "never upgraded");
  }
});

test("seed clients: refused input comes back as chat:error, nothing else arrives", async (t) => {
  const server = await serverFor(t, ["--max-message-len", "5"]);
  const a = server.seed();
  const events = recordEvents(a);
  const errors = new Inbox(a, "chat:error");
  const received = new Inbox(a, "message");
  await connected(a);

  a.emit("message", "too long");
  const tooLong = await errors.next();
  assert.equal(tooLong.event, "message");
  assert.equal(tooLong.code, "too_large");
  assert.equal(typeof tooLong.message, "string");
  assert.ok(tooLong.message.length > 0);

  a.emit("message", { not: "a string" });
  assert.equal((await errors.next()).code, "bad_request");
  a.emit("joinRoom", "bad room!");
  const badRoom = await errors.next();
  assert.deepEqual([badRoom.event, badRoom.code], ["joinRoom", "bad_request"]);

  a.emit("message", "ok");
  assert.equal(await received.next(), "ok", "still in the lobby after the refused joinRoom");
  assert.deepEqual(events, ["chat:error", "chat:error", "chat:error", "message"]);
});
