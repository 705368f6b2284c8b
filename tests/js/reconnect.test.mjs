// A rich client loses its connection while others keep talking; socket.io-client
// reconnects by itself, and the client catches up with `history` `after` the last
// id it saw, page by page, merging what arrives live: no gap, no duplicate.

import { test } from "node:test";
import assert from "node:assert/strict";
import { Inbox, ack, errorCode, ok, once, serverFor } from "./helpers.mjs";

const ROOM = "r";
const PAGE = 100;
const MISSED = 120;
const LIVE = 3;

/**
 * The client logic under test, as a chat UI would write it: keep messages by id,
 * remember the last id seen when the connection drops, and on every reconnect
 * re-join and page `history` `after` that id until a short page.
 */
function chatClient(socket, { onCaughtUp } = {}) {
  const byId = new Map();
  const historyPages = [];
  let lastSeen = null;
  let connects = socket.connected ? 1 : 0;

  const keep = (m) => {
    if (!byId.has(m.id)) byId.set(m.id, m);
  };
  const lastId = () => [...byId.keys()].sort().at(-1) ?? null;

  socket.on("message:new", (m) => {
    if (m.room === ROOM) keep(m);
  });
  socket.on("disconnect", () => {
    lastSeen = lastId();
  });
  socket.on("connect", () => {
    connects += 1;
    if (connects === 1) return; // the first connect is handled by the test
    (async () => {
      ok(await ack(socket, "room:join", { room: ROOM }));
      let after = lastSeen;
      const pages = [];
      for (;;) {
        const page = ok(await ack(socket, "history", { room: ROOM, after, limit: PAGE })).messages;
        pages.push(page);
        page.forEach(keep);
        if (page.length > 0) after = page.at(-1).id;
        if (page.length < PAGE) break;
      }
      historyPages.push(pages);
      onCaughtUp?.(pages);
    })().catch((e) => onCaughtUp?.(null, e));
  });

  return {
    messages: () => [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    historyPages,
    lastSeen: () => lastSeen,
  };
}

for (const transport of ["websocket", "polling"]) {
  test(`reconnect over ${transport}: history after the last id fills the gap exactly once`, async (t) => {
    const server = await serverFor(t, ["--rate-limit", "0", "--rate-limit-per-ip", "0"]);
    const ann = await server.rich("ann");
    ok(await ack(ann, "room:join", { room: ROOM }));
    const annLeft = new Inbox(ann, "presence:leave");
    const annJoined = new Inbox(ann, "presence:join");

    // Bob's handshake goes through an auth callback: socket.io-client calls it on
    // every (re)connect, so the test can hold the reconnect until the missed
    // messages are stored, without a sleep. The reconnect itself is the client's own.
    let gate = Promise.resolve();
    let caughtUp;
    const catchUp = new Promise((resolve, reject) => {
      caughtUp = (pages, err) => (err ? reject(err) : resolve(pages));
    });
    const bob = await server.rich("bob", {
      transports: [transport],
      auth: (cb) => {
        gate.then(() => cb({ name: "bob", v: 1 }));
      },
      reconnectionDelay: 50,
      reconnectionDelayMax: 200,
    });
    const client = chatClient(bob, { onCaughtUp: caughtUp });
    const bobNew = new Inbox(bob, "message:new");
    ok(await ack(bob, "room:join", { room: ROOM }));
    await annJoined.next();

    const expected = [];
    for (let i = 0; i < 5; i++) {
      const text = `before ${i}`;
      expected.push(text);
      ok(await ack(ann, "message:send", { room: ROOM, text }));
      assert.equal((await bobNew.next()).text, text);
    }
    const firstId = bob.id;

    // Lose the connection; hold the reconnect's handshake until we say so.
    let release;
    gate = new Promise((resolve) => {
      release = resolve;
    });
    const disconnected = once(bob, "disconnect");
    const managerReconnected = once(bob.io, "reconnect", 10000);
    const reconnected = once(bob, "connect", 10000);
    bob.io.engine.close();
    const reason = await disconnected;
    assert.equal(bob.connected, false, `disconnected (${reason})`);
    assert.equal((await annLeft.next()).user.name, "bob", "the server saw bob go");

    // 120 messages while bob is away, each acked (so durably stored).
    const missedIds = [];
    for (let i = 0; i < MISSED; i++) {
      const text = `missed ${i}`;
      expected.push(text);
      missedIds.push(ok(await ack(ann, "message:send", { room: ROOM, text })).message.id);
    }
    assert.equal(client.messages().length, 5, "bob got none of them live");

    // Let the client's own reconnect finish; as soon as bob is back in the room,
    // more messages arrive live while it pages through history.
    release();
    await managerReconnected; // socket.io-client's own reconnection, not ours
    await reconnected;
    assert.notEqual(bob.id, firstId, "a new session after the reconnect");
    assert.equal((await annJoined.next()).user.name, "bob", "bob re-joined");
    const liveIds = [];
    for (let i = 0; i < LIVE; i++) {
      const text = `live ${i}`;
      expected.push(text);
      liveIds.push(ok(await ack(ann, "message:send", { room: ROOM, text })).message.id);
    }
    const pages = await catchUp;

    // The live ones are delivered to the re-joined bob as message:new.
    assert.deepEqual(
      (await bobNew.take(LIVE)).map((m) => m.id),
      liveIds,
      "after re-joining, bob gets exactly the live messages as message:new",
    );

    // The pages themselves: strictly increasing ids, no overlap between pages, the
    // first one starts right after the last id bob had seen, only the last is short.
    const paged = pages.flat();
    const pagedIds = paged.map((m) => m.id);
    for (let i = 1; i < pagedIds.length; i++) {
      assert.ok(pagedIds[i - 1] < pagedIds[i], `history pages ascend without duplicates at ${i}`);
    }
    assert.ok(pagedIds[0] > client.lastSeen(), "nothing at or before the last id seen");
    assert.deepEqual(pagedIds.slice(0, MISSED), missedIds, "the missed messages, all of them, in order");
    assert.ok(pages.length >= 2, `paged (${pages.map((p) => p.length)})`);
    assert.ok(pages.slice(0, -1).every((p) => p.length === PAGE), `full pages before the last (${pages.map((p) => p.length)})`);
    assert.ok(pages.at(-1).length < PAGE, "stopped on a short page");
    for (const m of paged.slice(MISSED)) {
      assert.ok(liveIds.includes(m.id), `after the missed ones only live messages: ${m.text}`);
    }

    // The merged view: every message exactly once, in order.
    const merged = client.messages();
    assert.deepEqual(merged.map((m) => m.text), expected);
    assert.equal(new Set(merged.map((m) => m.id)).size, merged.length);

    // And it matches the server's whole history, paged backwards from the latest.
    let page = ok(await ack(bob, "history", { room: ROOM, limit: PAGE })).messages;
    const all = [...page];
    while (page.length === PAGE) {
      page = ok(await ack(bob, "history", { room: ROOM, before: page[0].id, limit: PAGE })).messages;
      all.unshift(...page);
    }
    assert.deepEqual(all, merged);
    assert.equal(errorCode(await ack(bob, "history", { room: ROOM, after: "not-an-id" })), "bad_request");
  });
}
