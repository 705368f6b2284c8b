// The rich protocol (docs/protocol.md) driven by the official socket.io-client,
// over WebSocket and over HTTP long-polling.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Inbox,
  ack,
  assertMessage,
  connected,
  errorCode,
  ok,
  recordEvents,
  refused,
  serverFor,
} from "./helpers.mjs";

for (const transport of ["websocket", "polling"]) {
  test(`rich clients over ${transport}: join, send, message:new, typing, history, leave`, async (t) => {
    const server = await serverFor(t);
    const opts = { transports: [transport] };
    const ann = await server.rich("ann", opts);
    const bob = await server.rich("bob", opts);
    const annNew = new Inbox(ann, "message:new");
    const bobNew = new Inbox(bob, "message:new");
    const annPresenceJoin = new Inbox(ann, "presence:join");
    const annPresenceLeave = new Inbox(ann, "presence:leave");
    const bobTyping = new Inbox(bob, "typing");
    const annPlain = new Inbox(ann, "message");
    const bobPlain = new Inbox(bob, "message");

    const annJoined = ok(await ack(ann, "room:join", { room: "general" }));
    assert.deepEqual(annJoined.room, { id: "general", private: false });
    assert.deepEqual(annJoined.members, [{ id: ann.id, name: "ann" }]);
    assert.deepEqual(annJoined.history, []);

    const bobJoined = ok(await ack(bob, "room:join", { room: "general" }));
    assert.deepEqual(bobJoined.members.map((u) => u.name).sort(), ["ann", "bob"]);
    assert.deepEqual(await annPresenceJoin.next(), {
      room: "general",
      user: { id: bob.id, name: "bob" },
    });

    // typing goes to the others.
    ok(await ack(ann, "typing", { room: "general", typing: true }));
    assert.deepEqual(await bobTyping.next(), {
      room: "general",
      user: { id: ann.id, name: "ann" },
      typing: true,
    });

    // message:send is acked with the stored Message; every member gets message:new.
    const sent = ok(await ack(ann, "message:send", { room: "general", text: "hello", clientId: "c-1" }));
    const first = sent.message;
    assertMessage(first, { room: "general", text: "hello", name: "ann" });
    assert.deepEqual(first.user, { id: ann.id, name: "ann" });
    assert.equal(first.clientId, "c-1");
    assert.deepEqual(await bobNew.next(), first);
    assert.deepEqual(await annNew.next(), first, "the sender gets its own message:new too");

    const reply = ok(await ack(bob, "message:send", { room: "general", text: "hi ann" }));
    const second = reply.message;
    assertMessage(second, { room: "general", text: "hi ann", name: "bob" });
    assert.equal(second.clientId, undefined, "no clientId when none was sent");
    assert.ok(second.id > first.id, `ids sort in delivery order: ${first.id} < ${second.id}`);
    assert.deepEqual(await annNew.next(), second);
    assert.deepEqual(await bobNew.next(), second);

    // history: oldest first; after/before by id.
    assert.deepEqual(ok(await ack(bob, "history", { room: "general" })).messages, [first, second]);
    assert.deepEqual(ok(await ack(bob, "history", { room: "general", after: first.id })).messages, [second]);
    assert.deepEqual(ok(await ack(bob, "history", { room: "general", before: second.id })).messages, [first]);
    assert.deepEqual(ok(await ack(bob, "history", { room: "general", limit: 1 })).messages, [second]);
    assert.equal(errorCode(await ack(bob, "history", { room: "general", limit: 0 })), "bad_request");

    // A later joiner gets both as history.
    const cat = await server.rich("cat", opts);
    assert.deepEqual(ok(await ack(cat, "room:join", { room: "general" })).history, [first, second]);
    assert.equal((await annPresenceJoin.next()).user.name, "cat");

    // rooms:list, with nothing and with {}.
    for (const args of [[], [{}]]) {
      const listed = ok(await ack(ann, "rooms:list", ...args));
      assert.deepEqual(
        listed.rooms.find((r) => r.id === "general"),
        { id: "general", private: false, members: 3 },
        `rooms:list ${JSON.stringify(args)}`,
      );
    }

    ok(await ack(bob, "room:leave", { room: "general" }));
    assert.deepEqual(await annPresenceLeave.next(), {
      room: "general",
      user: { id: bob.id, name: "bob" },
    });
    cat.disconnect();
    assert.equal((await annPresenceLeave.next()).user.name, "cat", "a disconnect is a presence:leave");

    assert.equal(annPlain.count + bobPlain.count, 0, "rich clients never get plain message strings");
    for (const s of [ann, bob]) assert.equal(s.io.engine.transport.name, transport);
  });
}

test("a websocket client and a polling client talk in one room", async (t) => {
  const server = await serverFor(t);
  const ws = await server.rich("ws", { transports: ["websocket"] });
  const poll = await server.rich("poll", { transports: ["polling"] });
  const wsNew = new Inbox(ws, "message:new");
  const pollNew = new Inbox(poll, "message:new");
  ok(await ack(ws, "room:join", { room: "mixed" }));
  ok(await ack(poll, "room:join", { room: "mixed" }));

  const a = ok(await ack(ws, "message:send", { room: "mixed", text: "from ws" })).message;
  assert.deepEqual(await pollNew.next(), a);
  const b = ok(await ack(poll, "message:send", { room: "mixed", text: "from polling" })).message;
  assert.deepEqual(await wsNew.next(), a);
  assert.deepEqual(await wsNew.next(), b);
  assert.deepEqual(await pollNew.next(), b);
});

test("private rooms: create returns a key; join needs it", async (t) => {
  const server = await serverFor(t);
  const ann = await server.rich("ann");
  const eve = await server.rich("eve");
  const zed = await server.rich("zed");

  // The server picks a private room's id; the name is for people.
  const created = ok(await ack(ann, "room:create", { private: true, name: "secret" }));
  const secret = created.room.id;
  assert.match(secret, /^p-[a-z2-7]{16}$/);
  assert.deepEqual(created.room, { id: secret, private: true, name: "secret" });
  assert.equal(typeof created.key, "string");
  assert.ok(created.key.length > 0);
  assert.equal(errorCode(await ack(ann, "room:create", { room: "lobby", private: true })), "bad_request", "no squatting");
  ok(await ack(ann, "room:join", { room: secret, key: created.key }));

  // Without the key it is answered like a room that does not exist.
  const wrong = await ack(eve, "room:join", { room: secret, key: "wrong" });
  assert.equal(errorCode(wrong), "not_found", "wrong key");
  assert.deepEqual(Object.keys(wrong).sort(), ["error", "ok"], JSON.stringify(wrong));
  assert.equal(errorCode(await ack(eve, "room:join", { room: secret })), "not_found", "no key");
  assert.equal(errorCode(await ack(eve, "history", { room: secret })), "not_found");
  assert.equal(errorCode(await ack(eve, "message:send", { room: secret, text: "hi" })), "forbidden");

  const joined = ok(await ack(eve, "room:join", { room: secret, key: created.key }));
  assert.deepEqual(joined.room, { id: secret, private: true, name: "secret" });
  assert.deepEqual(joined.members.map((u) => u.name).sort(), ["ann", "eve"]);

  const eveNew = new Inbox(eve, "message:new");
  const m = ok(await ack(ann, "message:send", { room: secret, text: "psst" })).message;
  assert.deepEqual(await eveNew.next(), m);

  const forMember = ok(await ack(ann, "rooms:list")).rooms;
  assert.deepEqual(forMember.find((r) => r.id === secret), { id: secret, private: true, name: "secret", members: 2 });
  const forOutsider = ok(await ack(zed, "rooms:list")).rooms;
  assert.equal(forOutsider.some((r) => r.id === secret), false, "private rooms are hidden from non-members");

  // A generated public room has an id and no key.
  const generated = ok(await ack(zed, "room:create", { private: false }));
  assert.equal(generated.room.private, false);
  assert.equal(typeof generated.room.id, "string");
  assert.equal(generated.key, undefined);
});

test("--token: refused without the token (connect_error 'unauthorized'), admitted with it", async (t) => {
  const server = await serverFor(t, ["--token", "s3cret"]);

  const attempts = [
    ["rich client without a token", { auth: { name: "ann", v: 1 } }],
    ["rich client with a wrong token", { auth: { name: "ann", v: 1, token: "nope" } }],
    ["seed client without a token", {}],
  ];
  for (const [what, opts] of attempts) {
    const socket = server.seed({ forceNew: true, ...opts });
    const err = await refused(socket);
    assert.equal(err.message, "unauthorized", what);
    socket.disconnect();
  }

  const ann = await server.rich("ann", { auth: { name: "ann", v: 1, token: "s3cret" } });
  const joined = ok(await ack(ann, "room:join", { room: "r" }));
  assert.deepEqual(joined.members, [{ id: ann.id, name: "ann" }]);
  ok(await ack(ann, "message:send", { room: "r", text: "inside" }));

  const seed = server.seed({ forceNew: true, query: { token: "s3cret" } });
  await connected(seed);
  const echo = new Inbox(seed, "message");
  seed.emit("message", "seed inside");
  assert.equal(await echo.next(), "seed inside", "seed clients may pass ?token=");
});

test("handshake: a bad auth.name is refused with connect_error 'bad_request'", async (t) => {
  const server = await serverFor(t);
  for (const name of ["   ", "x".repeat(33)]) {
    const socket = server.seed({ forceNew: true, auth: { name, v: 1 } });
    const err = await refused(socket);
    assert.equal(err.message, "bad_request", JSON.stringify(name));
    socket.disconnect();
  }
  // 32 characters after trimming is fine.
  const edge = await server.rich("", { auth: { name: `  ${"y".repeat(32)}  `, v: 1 } });
  const joined = ok(await ack(edge, "room:join", { room: "r" }));
  assert.deepEqual(joined.members.map((u) => u.name), ["y".repeat(32)]);
});

test("resending a clientId returns the same message and stores/broadcasts it once", async (t) => {
  const server = await serverFor(t);
  const ann = await server.rich("ann");
  const bob = await server.rich("bob");
  const bobNew = new Inbox(bob, "message:new");
  ok(await ack(ann, "room:join", { room: "r" }));
  ok(await ack(bob, "room:join", { room: "r" }));

  const first = ok(await ack(ann, "message:send", { room: "r", text: "once", clientId: "abc" })).message;
  assert.equal(first.clientId, "abc");

  // Same socket, same clientId (a retry after an ack timeout).
  const again = ok(await ack(ann, "message:send", { room: "r", text: "once", clientId: "abc" })).message;
  assert.equal(again.id, first.id, "same id for the same clientId");
  assert.deepEqual(again, first);

  // Same user on a new connection (as after a reconnect), same clientId.
  const ann2 = await server.rich("ann");
  ok(await ack(ann2, "room:join", { room: "r" }));
  const third = ok(await ack(ann2, "message:send", { room: "r", text: "once", clientId: "abc" })).message;
  assert.equal(third.id, first.id, "same id after reconnecting");
  assert.deepEqual(third, first);

  // A different clientId is a different message.
  const other = ok(await ack(ann, "message:send", { room: "r", text: "once", clientId: "abd" })).message;
  assert.notEqual(other.id, first.id);

  assert.deepEqual(await bobNew.next(), first);
  assert.deepEqual(await bobNew.next(), other, "no second copy of the resent message was broadcast");
  const history = ok(await ack(bob, "history", { room: "r" })).messages;
  assert.deepEqual(history.map((m) => m.id), [first.id, other.id], "stored once");
});

test("a seed client and a rich client share a room, each in its own event shape", async (t) => {
  const server = await serverFor(t);
  // The seed client sits in the lobby, the seed's default room.
  const seed = server.seed();
  const seedEvents = recordEvents(seed);
  const seedMessages = new Inbox(seed, "message");
  await connected(seed);

  const rich = await server.rich("ann");
  const richEvents = recordEvents(rich);
  const richNew = new Inbox(rich, "message:new");
  const joined = ok(await ack(rich, "room:join", { room: "lobby" }));
  assert.equal(joined.members.length, 2, "the seed client is a lobby member");

  seed.emit("message", "from seed");
  assert.equal(await seedMessages.next(), "from seed");
  const fromSeed = await richNew.next();
  assertMessage(fromSeed, { room: "lobby", text: "from seed" });
  assert.match(fromSeed.user.name, /^guest-\d{4}$/, "a seed client gets a guest name");

  const fromRich = ok(await ack(rich, "message:send", { room: "lobby", text: "from rich" })).message;
  assert.equal(await seedMessages.next(), "from rich");
  assert.deepEqual(await richNew.next(), fromRich);

  // A last round trip on each socket, then nothing of the wrong shape may have arrived.
  seed.emit("message", "last");
  assert.equal(await seedMessages.next(), "last");
  assert.equal((await richNew.next()).text, "last");
  assert.deepEqual(seedEvents, ["message", "message", "message"], "seed clients get only plain messages");
  assert.deepEqual(richEvents, ["message:new", "message:new", "message:new"], "rich clients never get plain message");

  // The same across a projectId room.
  const project = server.seed({ query: { projectId: "p-7" } });
  const projectMessages = new Inbox(project, "message");
  await connected(project);
  ok(await ack(rich, "room:join", { room: "p-7" }));
  ok(await ack(rich, "message:send", { room: "p-7", text: "to the project" }));
  assert.equal(await projectMessages.next(), "to the project");
  assert.equal((await richNew.next()).room, "p-7");
  project.emit("message", "from the project");
  const back = await richNew.next();
  assert.deepEqual([back.room, back.text], ["p-7", "from the project"]);
  assert.equal(await projectMessages.next(), "from the project");
});
