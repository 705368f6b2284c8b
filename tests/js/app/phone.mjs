// Opens a developer's app through rtchat on a phone-sized page in Chromium:
// the page loads, its io() connects, a message from another client arrives,
// one is sent back, and an edit of title.js arrives as a hot update without a
// reload. Driven by tests/app_vite.rs; not a test on its own.
//
//   node phone.mjs <link> <title.js path> <screenshot name>
//
// Prints "connected" once the page's socket is up, then reads one line, the
// text to wait for, from stdin; prints "sent <text>" after answering.

import { writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { PHONE, launchBrowser, screenshot } from '../../../assets/web/e2e/helpers.mjs';

const [link, titleFile, shot] = process.argv.slice(2);
if (!link || !titleFile || !shot) {
  console.error('usage: phone.mjs <link> <title.js path> <screenshot name>');
  process.exit(2);
}
const TIMEOUT = 20_000;
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const browser = await launchBrowser();
try {
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // Every socket (the app's io() and Vite's hot-reload socket) must go
  // through rtchat's address: a phone cannot reach the dev server's own port.
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto(link);
  await page.waitForSelector('body[data-connected="yes"]', { timeout: TIMEOUT });
  const heading = await page.textContent('#title');
  if (heading !== 'Hello from my app') throw new Error(`unexpected heading ${heading}`);
  if (page.url().includes('rtchat_token')) throw new Error(`the token stayed in the address: ${page.url()}`);
  await page.evaluate(() => { window.loadedOnce = true; });
  console.log('connected');

  const { value: expected } = await lines.next();
  await page.getByText(expected, { exact: true }).waitFor({ timeout: TIMEOUT });
  const reply = `reply to ${expected}`;
  await page.fill('#text', reply);
  await page.click('button');
  console.log(`sent ${reply}`);

  await writeFile(titleFile, "export const title = 'Hot reloaded on the phone';\n");
  await page.waitForFunction(
    () => document.getElementById('title').textContent === 'Hot reloaded on the phone',
    null,
    { timeout: TIMEOUT },
  );
  if (!(await page.evaluate(() => window.loadedOnce))) throw new Error('the page reloaded instead of a hot update');
  const origin = new URL(page.url()).host;
  const elsewhere = sockets.filter((url) => new URL(url).host !== origin);
  if (elsewhere.length) throw new Error(`sockets bypassed rtchat: ${elsewhere.join(', ')}`);
  if (!sockets.some((url) => url.includes('/socket.io/'))) throw new Error(`no Socket.IO socket: ${sockets}`);
  if (!sockets.some((url) => !url.includes('/socket.io/'))) throw new Error(`no hot-reload socket: ${sockets}`);
  await screenshot(page, shot);
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  console.log('done');
} finally {
  await browser.close();
}
