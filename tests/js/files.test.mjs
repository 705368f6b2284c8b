// Files and script posts (docs/protocol.md, "Files" and POST .../messages)
// with the official socket.io-client: what the lesson's plain clients and
// rich clients see of them.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Inbox, ack, connected, ok, serverFor } from "./helpers.mjs";

test("a file attached to a message reaches rich clients as a File and plain clients as a link", async (t) => {
  const server = await serverFor(t);
  const ann = await server.rich("ann");
  ok(await ack(ann, "room:join", { room: "lobby" }));
  const plain = server.seed();
  const plainMessages = new Inbox(plain, "message");
  await connected(plain);
  const annNew = new Inbox(ann, "message:new");

  const upload = await fetch(`${server.url}/api/rooms/lobby/files?name=notes.txt`, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: "remember the milk",
  });
  assert.equal(upload.status, 201);
  const { file } = await upload.json();
  assert.equal(file.type, "text/plain");

  const sent = ok(await ack(ann, "message:send", { room: "lobby", text: "see this", files: [file.id] }));
  assert.deepEqual(sent.message.files, [file]);
  assert.deepEqual(await annNew.next(), sent.message);
  assert.equal(await plainMessages.next(), `see this\n${server.url}${file.url}`);
  const served = await fetch(`${server.url}${file.url}`);
  assert.equal(await served.text(), "remember the milk");
});

test("a script's post reaches everyone once, however often it is resent", async (t) => {
  const server = await serverFor(t);
  const ann = await server.rich("ann");
  ok(await ack(ann, "room:join", { room: "ci" }));
  const annNew = new Inbox(ann, "message:new");
  const post = (body) =>
    fetch(`${server.url}/api/rooms/ci/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const first = await post({ text: "build passed", name: "ci", clientId: "run-1" });
  assert.equal(first.status, 201);
  const again = await post({ text: "build passed", name: "ci", clientId: "run-1" });
  assert.equal(again.status, 200);
  assert.deepEqual((await again.json()).message, (await first.json()).message);
  assert.equal((await post({ text: "next" })).status, 201);
  const seen = await annNew.take(2);
  assert.deepEqual(seen.map((m) => [m.user.name, m.text]), [["ci", "build passed"], ["api", "next"]]);
});
