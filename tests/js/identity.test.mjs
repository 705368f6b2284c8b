// Who is who (docs/protocol.md, "Identity") with the official socket.io-client:
// a userKey is one person on every connection, rename, edit and delete of
// one's own messages, deleting one's own room, and the key never sent back.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Inbox, ack, connected, errorCode, io, ok, serverFor } from "./helpers.mjs";

const ANN = "ann-key-0123456789abcdefghij";
const BOB = "bob-key-0123456789abcdefghij";

/**
 * A keyed rich client, with inboxes set up before it connects (the server
 * sends `session` right after the handshake) and a transcript of everything
 * it heard, acks included.
 */
async function person(server, name, key, transport) {
  const socket = server.track(
    io(server.url, { forceNew: true, transports: [transport], auth: { name, v: 1, userKey: key } }),
  );
  const heard = [];
  socket.onAny((event, ...args) => heard.push(JSON.stringify([event, ...args])));
  const inbox = (event) => new Inbox(socket, event);
  const session = inbox("session");
  await connected(socket);
  const request = async (event, data) => {
    const reply = await ack(socket, event, data);
    heard.push(JSON.stringify(reply));
    return reply;
  };
  return { socket, session: await session.next(), inbox, request, heard };
}

for (const transport of ["websocket", "polling"]) {
  test(`a userKey is one person over ${transport}: presence, rename, edit, delete`, async (t) => {
    const server = await serverFor(t);
    const laptop = await person(server, "ann", ANN, transport);
    const phone = await person(server, "phone", ANN, transport);
    const bob = await person(server, "bob", BOB, transport);
    const ann = laptop.session.user;
    assert.match(ann.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(phone.session.user, ann, "the phone is ann, with her stored name");
    assert.notEqual(bob.session.user.id, ann.id);

    const bobJoins = bob.inbox("presence:join");
    const bobUpdates = bob.inbox("message:update");
    const bobRenames = bob.inbox("user:update");
    const phoneRenames = phone.inbox("user:update");
    ok(await bob.request("room:join", { room: "r" }));
    ok(await laptop.request("room:join", { room: "r" }));
    assert.deepEqual((await bobJoins.next()).user, ann);
    const joined = ok(await phone.request("room:join", { room: "r" }));
    assert.deepEqual(joined.members.map((u) => u.name), ["ann", "bob"], "ann once");

    const sent = ok(await phone.request("message:send", { room: "r", text: "helo", clientId: "c1" }));
    const again = ok(await laptop.request("message:send", { room: "r", text: "helo", clientId: "c1" }));
    assert.deepEqual(again.message, sent.message, "a resend from her other device is the same message");

    const forbidden = await bob.request("message:edit", { room: "r", id: sent.message.id, text: "x" });
    assert.equal(errorCode(forbidden), "forbidden");
    const edited = ok(await laptop.request("message:edit", { room: "r", id: sent.message.id, text: "hello" }));
    assert.equal(edited.message.text, "hello");
    assert.deepEqual(await bobUpdates.next(), edited.message);
    const deleted = ok(await phone.request("message:delete", { room: "r", id: sent.message.id }));
    assert.equal(deleted.message.deleted, true);
    assert.equal(deleted.message.text, "");
    assert.ok(deleted.message.edited > edited.message.edited);
    assert.deepEqual(await bobUpdates.next(), deleted.message);
    const history = ok(await bob.request("history", { room: "r" }));
    assert.deepEqual(history.messages, [deleted.message]);

    const renamed = ok(await laptop.request("user:rename", { name: "Annie" }));
    assert.deepEqual(renamed.user, { id: ann.id, name: "Annie" });
    assert.deepEqual(await bobRenames.next(), { user: renamed.user });
    assert.deepEqual(await phoneRenames.next(), { user: renamed.user });

    const created = ok(await laptop.request("room:create", { room: "den" }));
    assert.equal(created.room.creator, ann.id);
    ok(await bob.request("room:join", { room: "den" }));
    const bobDeleted = bob.inbox("room:deleted");
    assert.equal(errorCode(await bob.request("room:delete", { room: "den" })), "forbidden");
    ok(await phone.request("room:delete", { room: "den" }));
    assert.deepEqual(await bobDeleted.next(), { room: "den" });

    for (const p of [laptop, phone, bob]) {
      const all = p.heard.join("\n");
      assert.ok(!all.includes(ANN) && !all.includes(BOB), "a userKey was sent to a client");
    }
  });
}

test("a bad userKey is refused at the handshake", async (t) => {
  const server = await serverFor(t);
  const socket = server.track(
    io(server.url, { forceNew: true, auth: { name: "ann", v: 1, userKey: "too-short" } }),
  );
  const error = await new Promise((resolve) => socket.once("connect_error", resolve));
  assert.equal(error.message, "bad_request");
});
