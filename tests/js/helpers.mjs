// Shared plumbing for the JavaScript client tests: start the real rtchat binary on
// port 0 with a throwaway SQLite file, connect official socket.io-client sockets to
// it, and wait for events with a timeout (never a fixed sleep).

import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import assert from "node:assert/strict";
import { io } from "socket.io-client";

export { io };

/** The binary under test. */
export const RTCHAT_BIN = process.env.RTCHAT_BIN ?? "/work/main/target/release/rtchat";

/** Default wait for any single event or ack. */
export const TIMEOUT_MS = 5000;

const STARTUP_MS = 15000;
const SHUTDOWN_MS = 5000;

/**
 * Start `rtchat serve` with its own temporary database and wait for its JSON
 * `ready` line. Returns a handle with the URLs, helpers that connect tracked
 * clients, and `stop()`, which disconnects every tracked client, sends SIGTERM
 * and waits for the process to exit.
 *
 * @param {string[]} flags extra command-line flags
 */
export async function startServer(flags = []) {
  const dir = await mkdtemp(join(tmpdir(), "rtchat-jstest-"));
  const args = [
    "serve",
    "--host", "127.0.0.1",
    "--port", "0",
    // One port unless the test asks for a UI port (clap refuses a repeated flag).
    ...(flags.includes("--ui-port") ? [] : ["--ui-port", "off"]),
    "--db", join(dir, "chat.db"),
    "--json",
    ...flags,
  ];
  const child = spawn(RTCHAT_BIN, args, { stdio: ["ignore", "pipe", "pipe"] });

  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-64 * 1024);
  });
  const exited = new Promise((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }));
  });
  const describe = () => `${RTCHAT_BIN} ${args.join(" ")}\n--- stderr ---\n${stderr}`;

  const ready = await new Promise((resolve, reject) => {
    // (on failure the temporary directory is removed below)
    const lines = createInterface({ input: child.stdout });
    const fail = (why) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`rtchat did not become ready: ${why}\n${describe()}`));
    };
    const timer = setTimeout(() => fail(`no ready line within ${STARTUP_MS} ms`), STARTUP_MS);
    const onError = (e) => fail(e.message);
    const onExit = (code, signal) => fail(`exited early (code ${code}, signal ${signal})`);
    child.on("error", onError);
    child.on("exit", onExit);
    lines.on("line", (line) => {
      let parsed;
      try {
        parsed = JSON.parse(line);
      } catch {
        return; // not the JSON line
      }
      if (parsed && parsed.event === "ready") {
        clearTimeout(timer);
        child.off("error", onError);
        child.off("exit", onExit);
        resolve(parsed);
      }
    });
  }).catch(async (e) => {
    // 'exit' may never come when the spawn itself failed, so bound the wait.
    let timer;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, SHUTDOWN_MS)))]);
    clearTimeout(timer);
    await rm(dir, { recursive: true, force: true });
    throw e;
  });
  assert.match(ready.local.backend, /^http:\/\/127\.0\.0\.1:\d+$/, "ready.local.backend");

  const sockets = new Set();
  let stopped = null;
  const server = {
    ready,
    url: ready.local.backend,
    uiUrl: ready.local.ui,
    dir,
    child,
    /** Remember a socket so that stop() disconnects it. */
    track(socket) {
      sockets.add(socket);
      return socket;
    },
    /** A seed-style socket exactly as the lesson makes it: io(url, opts), not awaited. */
    seed(opts, url = server.url) {
      return server.track(opts === undefined ? io(url) : io(url, opts));
    },
    /** A connected rich client (auth.v = 1). */
    async rich(name, opts = {}, url = server.url) {
      const { auth, ...rest } = opts;
      const socket = server.track(
        io(url, { forceNew: true, ...rest, auth: auth ?? { name, v: 1 } }),
      );
      await connected(socket);
      return socket;
    },
    /** Disconnect tracked clients, SIGTERM the server, wait for it and clean up. */
    stop() {
      stopped ??= (async () => {
        for (const s of sockets) s.disconnect();
        sockets.clear();
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        let timer;
        const result = await Promise.race([
          exited,
          new Promise((resolve) => (timer = setTimeout(() => resolve(null), SHUTDOWN_MS))),
        ]);
        clearTimeout(timer);
        if (result === null) {
          child.kill("SIGKILL");
          await exited;
          throw new Error(`rtchat ignored SIGTERM for ${SHUTDOWN_MS} ms\n${describe()}`);
        }
        await rm(dir, { recursive: true, force: true });
        return result;
      })();
      return stopped;
    },
    stderr: () => stderr,
  };
  return server;
}

/**
 * Start a server for one test; when the test ends, stop it and check that
 * SIGTERM made it exit cleanly (status 0).
 */
export async function serverFor(t, flags = []) {
  const server = await startServer(flags);
  t.after(async () => {
    const exit = await server.stop();
    assert.deepEqual(exit, { code: 0, signal: null }, `exit status after SIGTERM\n${server.stderr()}`);
  });
  return server;
}

/**
 * The next `event` on an emitter (a Socket or its Manager), resolving with its
 * first argument; rejects after `ms`.
 */
export function once(emitter, event, ms = TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const handler = (...args) => {
      clearTimeout(timer);
      emitter.off(event, handler);
      resolve(args[0]);
    };
    const timer = setTimeout(() => {
      emitter.off(event, handler);
      reject(new Error(`timed out after ${ms} ms waiting for "${event}"`));
    }, ms);
    emitter.on(event, handler);
  });
}

/**
 * How the socket's handshake ends: `{ connected: true }` or `{ error }` (its
 * connect_error); rejects when neither happens within `ms`.
 */
function handshake(socket, ms) {
  if (socket.connected) return Promise.resolve({ connected: true });
  return new Promise((resolve, reject) => {
    const settle = (outcome) => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
      resolve(outcome);
    };
    const onConnect = () => settle({ connected: true });
    const onError = (error) => settle({ error });
    const timer = setTimeout(() => {
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
      reject(new Error(`timed out after ${ms} ms waiting for the handshake to end`));
    }, ms);
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
}

/** Resolve once the socket is connected; reject with its connect_error or on timeout. */
export async function connected(socket, ms = TIMEOUT_MS) {
  const { error } = await handshake(socket, ms);
  if (error) throw new Error(`connect_error: ${error?.message}`, { cause: error });
  return socket;
}

/** Resolve with the socket's connect_error; reject if it connects instead, or on timeout. */
export async function refused(socket, ms = TIMEOUT_MS) {
  const { error } = await handshake(socket, ms);
  if (!error) throw new Error("connected, but a connect_error was expected");
  return error;
}

/** Emit with an ack and wait for the reply (socket.io-client's own timeout). */
export function ack(socket, event, ...args) {
  return socket.timeout(TIMEOUT_MS).emitWithAck(event, ...args);
}

/** Assert an ok ack and return it. */
export function ok(reply) {
  assert.equal(reply?.ok, true, `expected { ok: true }, got ${JSON.stringify(reply)}`);
  return reply;
}

/** Assert an error ack and return its code. */
export function errorCode(reply) {
  assert.equal(reply?.ok, false, `expected { ok: false }, got ${JSON.stringify(reply)}`);
  assert.equal(typeof reply.error?.message, "string", `error without a message: ${JSON.stringify(reply)}`);
  assert.ok(reply.error.message.length > 0, `error with an empty message: ${JSON.stringify(reply)}`);
  return reply.error.code;
}

/**
 * Every `event` a socket receives, in order, from the moment this is created:
 * `next()` waits for the next one with a timeout, so nothing that arrives
 * between two awaits is lost.
 */
export class Inbox {
  constructor(emitter, event) {
    this.event = event;
    this.items = [];
    this.waiters = [];
    this.count = 0;
    emitter.on(event, (value) => {
      this.count += 1;
      const waiter = this.waiters.shift();
      if (waiter) waiter(value);
      else this.items.push(value);
    });
  }

  next(ms = TIMEOUT_MS) {
    if (this.items.length > 0) return Promise.resolve(this.items.shift());
    return new Promise((resolve, reject) => {
      const waiter = (value) => {
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${ms} ms waiting for "${this.event}" #${this.count + 1}`));
      }, ms);
      this.waiters.push(waiter);
    });
  }

  async take(n, ms = TIMEOUT_MS) {
    const out = [];
    for (let i = 0; i < n; i++) out.push(await this.next(ms));
    return out;
  }

  /** What has arrived and not been taken yet. */
  drain() {
    return this.items.splice(0);
  }
}

/** Every event name a socket receives, in order (for "nothing else arrived" checks). */
export function recordEvents(socket) {
  const names = [];
  socket.onAny((event) => names.push(event));
  return names;
}

/** A Message as docs/protocol.md describes it. */
export function assertMessage(m, { room, text, name }) {
  assert.equal(typeof m.id, "string", `message id: ${JSON.stringify(m)}`);
  assert.equal(m.id.length, 16, `message id is 16 chars: ${JSON.stringify(m)}`);
  assert.equal(m.room, room);
  assert.equal(m.text, text);
  assert.equal(typeof m.user?.id, "string");
  if (name !== undefined) assert.equal(m.user.name, name);
  assert.ok(Number.isInteger(m.ts) && m.ts > 1_700_000_000_000, `ts in ms: ${m.ts}`);
}
