// A hostile web page in a real browser: Chromium resolves two made-up names to
// 127.0.0.1, loads an attacker's page from one of them, and that page must not
// reach rtchat's Socket.IO or REST API, neither across sites nor by DNS
// rebinding, while rtchat's own UI and the lesson's Node client keep chatting.
//
//   RTCHAT_BIN=/path/to/rtchat npm run e2e

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { io } from 'socket.io-client';
import {
  DESKTOP,
  TIMEOUT,
  enter,
  launchBrowser,
  newPerson,
  repoRoot,
  screenshot,
  send,
  startServer,
  waitForMessage,
} from './helpers.mjs';

/** The official browser bundle, for the attacker's page. */
const clientBundle = readFileSync(
  join(repoRoot, 'assets', 'web', 'node_modules', 'socket.io-client', 'dist', 'socket.io.min.js'),
);

const ATTACKER_PAGE = `<!doctype html><meta charset="utf-8"><title>attacker</title>
<script src="/socket.io.min.js"></script><p>nothing to see here</p>`;

/** The attacker's own web server, on a free loopback port. */
async function startAttacker() {
  const server = createServer((req, res) => {
    if (req.url === '/socket.io.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(clientBundle);
    } else {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(ATTACKER_PAGE);
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { port: server.address().port, close: () => new Promise((r) => server.close(r)) };
}

let browser;
before(async () => {
  browser = await launchBrowser(['--host-resolver-rules=MAP attacker.test 127.0.0.1, MAP rebind.test 127.0.0.1']);
});
after(async () => {
  await browser?.close();
});

/** In the page: how a Socket.IO connection to `url` ends, 'connect' or 'connect_error: …'. */
function tryConnect([url, transports]) {
  return new Promise((resolve) => {
    // eslint-disable-next-line no-undef
    const socket = io(url, { transports, reconnection: false, timeout: 5000, auth: { name: 'thief', v: 1 } });
    socket.on('connect', () => {
      socket.disconnect();
      resolve('connect');
    });
    socket.on('connect_error', (e) => {
      socket.disconnect();
      resolve(`connect_error: ${e.message}`);
    });
  });
}

/** In the page: a raw WebSocket to `url` ends 'open' or 'refused'. */
function tryWebSocket(url) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.onopen = () => {
      ws.close();
      resolve('open');
    };
    ws.onerror = () => resolve('refused');
  });
}

test('an attacker page cannot use rtchat, by cross-site requests or by DNS rebinding; rtchat itself still chats', async () => {
  const server = await startServer();
  const attacker = await startAttacker();
  const evil = await newPerson(browser, DESKTOP);
  const ann = await newPerson(browser, DESKTOP);
  const port = new URL(server.backendUrl).port;
  // The lesson's client code, adapted only in its URL.
  const seed = io(server.backendUrl, { query: { projectId: 'lobby' } });
  try {
    // Cross-site: the attacker's page calls rtchat at its real address.
    await evil.page.goto(`http://attacker.test:${attacker.port}/`);
    const target = `http://127.0.0.1:${port}`;
    for (const transports of [['websocket'], ['polling', 'websocket']]) {
      const outcome = await evil.page.evaluate(tryConnect, [target, transports]);
      assert.match(outcome, /^connect_error/, `Socket.IO over ${transports} from the attacker's page`);
    }
    const stolen = await evil.page.evaluate(async (url) => {
      try {
        const r = await fetch(url);
        return `read ${r.status}: ${await r.text()}`;
      } catch (e) {
        return `failed: ${e}`;
      }
    }, `${target}/api/rooms`);
    assert.match(stolen, /^failed/, 'the REST API is unreadable across sites');

    // DNS rebinding: the attacker's name now points at 127.0.0.1, so its page
    // is same-origin with rtchat's port; the Host header gives it away.
    const rebound = `http://rebind.test:${port}`;
    const response = await evil.page.goto(`${rebound}/api/rooms`);
    assert.equal(response.status(), 403);
    assert.match(await response.text(), /not reachable as rebind\.test; .*--allowed-host rebind\.test/);
    const sameOrigin = await evil.page.evaluate(async () => {
      const r = await fetch('/api/rooms');
      return `${r.status} ${await r.text()}`;
    });
    assert.match(sameOrigin, /^403 /, 'a same-origin read after rebinding is refused');
    const ws = await evil.page.evaluate(tryWebSocket, `ws://rebind.test:${port}/socket.io/?EIO=4&transport=websocket`);
    assert.equal(ws, 'refused');
    await screenshot(evil.page, 'hostile-rebinding');

    // rtchat's own UI still chats, and so does the lesson's Node client (no Origin).
    if (!seed.connected) {
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the Node client did not connect')), TIMEOUT);
        seed.once('connect', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await enter(ann.page, `${server.url}/#room=lobby`, 'Ann');
    const heard = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the Node client heard nothing')), TIMEOUT);
      seed.on('message', (text) => {
        if (text === 'still safe to chat') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await send(ann.page, 'still safe to chat');
    await waitForMessage(ann.page, 'still safe to chat');
    await heard;
    seed.emit('message', 'hello from node');
    await waitForMessage(ann.page, 'hello from node');
    assert.deepEqual([...evil.errors, ...ann.errors].map(String), [], 'the pages threw');
  } finally {
    seed.disconnect();
    await evil.context.close().catch(() => {});
    await ann.context.close().catch(() => {});
    await attacker.close();
    await server.stop();
  }
});
