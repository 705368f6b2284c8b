// The backend port and the UI port (where the seed's Vite frontend lived) carry
// one and the same chat: Socket.IO, rooms and history are shared.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Inbox, ack, connected, ok, serverFor } from "./helpers.mjs";

test("a client on the UI port and one on the backend port are in the same chat", async (t) => {
  // --ui-port 0: the server picks a free UI port and reports it.
  const server = await serverFor(t, ["--ui-port", "0"]);
  const { backend, ui } = server.ready.ports;
  assert.ok(ui > 0 && ui !== backend, `two different bound ports: ${JSON.stringify(server.ready.ports)}`);
  assert.equal(server.uiUrl, `http://127.0.0.1:${ui}`, "ready.local.ui is the UI port");
  assert.equal(server.url, `http://127.0.0.1:${backend}`, "ready.local.backend is the backend port");

  // Rich clients, one per port.
  const back = await server.rich("back");
  const front = await server.rich("front", {}, server.uiUrl);
  const backNew = new Inbox(back, "message:new");
  const frontNew = new Inbox(front, "message:new");
  const backPresence = new Inbox(back, "presence:join");
  ok(await ack(back, "room:join", { room: "cross" }));
  const joined = ok(await ack(front, "room:join", { room: "cross" }));
  assert.deepEqual(joined.members.map((u) => u.name).sort(), ["back", "front"], "one membership");
  assert.equal((await backPresence.next()).user.name, "front");

  const m1 = ok(await ack(back, "message:send", { room: "cross", text: "backend -> ui" })).message;
  assert.deepEqual(await frontNew.next(), m1);
  const m2 = ok(await ack(front, "message:send", { room: "cross", text: "ui -> backend" })).message;
  assert.deepEqual(await backNew.next(), m1);
  assert.deepEqual(await backNew.next(), m2);
  assert.deepEqual(await frontNew.next(), m2);

  // Seed clients, one per port, in the lobby.
  const seedBack = server.seed({ forceNew: true });
  const seedFront = server.seed({ forceNew: true }, server.uiUrl);
  const seedBackGot = new Inbox(seedBack, "message");
  const seedFrontGot = new Inbox(seedFront, "message");
  await Promise.all([connected(seedBack), connected(seedFront)]);
  seedFront.emit("message", "seed from the ui port");
  assert.equal(await seedBackGot.next(), "seed from the ui port");
  assert.equal(await seedFrontGot.next(), "seed from the ui port");
  seedBack.emit("message", "seed from the backend port");
  assert.equal(await seedFrontGot.next(), "seed from the backend port");
  assert.equal(await seedBackGot.next(), "seed from the backend port");

  // The same history from either port, over Socket.IO and REST.
  const viaBack = ok(await ack(back, "history", { room: "cross" })).messages;
  const viaFront = ok(await ack(front, "history", { room: "cross" })).messages;
  assert.deepEqual(viaBack, [m1, m2]);
  assert.deepEqual(viaFront, [m1, m2]);
  for (const base of [server.url, server.uiUrl]) {
    const res = await fetch(`${base}/api/rooms/cross/messages`);
    assert.equal(res.status, 200, base);
    assert.deepEqual((await res.json()).messages, [m1, m2], base);
  }
});

test("--ui-port off serves everything on the backend port", async (t) => {
  const server = await serverFor(t, ["--ui-port", "off"]);
  assert.equal(server.uiUrl, server.url);
  assert.equal(server.ready.ports.ui, null, "no UI port is bound");
  const a = await server.rich("a", {}, server.uiUrl);
  ok(await ack(a, "room:join", { room: "solo" }));
});
