// Shared pieces of the browser tests: a real `rtchat serve` on free ports,
// Debian's Chromium driven by playwright-core, and the steps a person takes.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root: assets/web/e2e -> ../../.. */
export const repoRoot = resolve(here, '..', '..', '..');
export const shotDir = join(repoRoot, 'target', 'e2e');

/** Every wait in these tests ends within this. */
export const TIMEOUT = 15_000;

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export const DESKTOP = { viewport: { width: 1280, height: 800 } };
export const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  userAgent:
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36',
};

/**
 * A made-up name that the tests' Chromium may resolve to 127.0.0.1 (see
 * `launchBrowser`) and the server accepts with `--allowed-host`: a page there
 * is, like one at a LAN address over plain http, not a secure context.
 */
export const LAN_HOST = 'phone.test';

/** The binary under test: RTCHAT_BIN, else the repository's release build. */
function serverBinary() {
  const bin = process.env.RTCHAT_BIN || join(repoRoot, 'target', 'release', 'rtchat');
  if (!existsSync(bin)) throw new Error(`no rtchat binary at ${bin}: build it, or set RTCHAT_BIN`);
  return bin;
}

/**
 * Starts `rtchat serve` on free ports with a fresh database and resolves once
 * it prints its JSON `ready` line. `stop()` ends it with SIGTERM.
 */
export async function startServer({ token, rateLimit = 0, extraArgs = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'rtchat-e2e-'));
  const args = [
    'serve',
    '--host', '127.0.0.1',
    '--port', '0',
    '--ui-port', 'off',
    '--db', join(dir, 'chat.db'),
    '--json',
    '--rate-limit', String(rateLimit),
    // One browser is one address: a test that sends freely is not held to the address budget.
    '--rate-limit-per-ip', rateLimit === 0 ? '0' : '60',
    ...(token ? ['--token', token] : []),
    ...extraArgs,
  ];
  const proc = spawn(serverBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });

  const ready = await new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`rtchat printed no ready line within ${TIMEOUT} ms\n${stderr}`));
    }, TIMEOUT);
    const lines = createInterface({ input: proc.stdout });
    lines.on('line', (line) => {
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        return;
      }
      if (msg && msg.event === 'ready') {
        clearTimeout(timer);
        resolveReady(msg);
      }
    });
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`rtchat exited early (${code ?? signal})\n${stderr}`));
    });
  });

  const exited = new Promise((r) => proc.once('exit', r));
  return {
    url: ready.local.ui,
    backendUrl: ready.local.backend,
    ready,
    dir,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs `fn({ server, person })` with a fresh server started with `opts` (see
 * `startServer`); `person(device)` opens a new person in `browser`. Fails if
 * a page threw, and always closes the pages and stops the server.
 */
export async function scenario(browser, opts, fn) {
  const server = await startServer(opts);
  const people = [];
  const person = async (device) => {
    const p = await newPerson(browser, device);
    people.push(p);
    return p;
  };
  try {
    await fn({ server, person });
    for (const p of people) assert.deepEqual(p.errors.map(String), [], 'the page threw');
  } finally {
    for (const p of people) await p.context.close().catch(() => {});
    await server.stop();
  }
}

/** Debian's Chromium, headless, in a fresh throwaway profile, with `extraArgs` added. */
export async function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, ...extraArgs],
    timeout: TIMEOUT,
  });
}

/**
 * A new person: a fresh context (own storage, own network switch) and a page,
 * with every alert/confirm recorded and dismissed, and page errors collected.
 */
export async function newPerson(browser, device = DESKTOP) {
  const context = await browser.newContext({ ...device, colorScheme: 'light' });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  const dialogs = [];
  const errors = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (e) => errors.push(e));
  return { context, page, dialogs, errors };
}

/** Opens `url`, answers the name prompt, and waits until the room is joined. */
export async function enter(page, url, name) {
  await page.goto(url);
  await page.getByTestId('name-input').fill(name);
  await page.getByTestId('name-submit').click();
  await waitConnected(page);
  await page.waitForSelector('[data-testid=composer]:not([disabled])');
}

export async function waitConnected(page) {
  await page.waitForSelector('[data-testid=conn-badge][data-state=connected]');
}

/** Types into the composer like a person and presses Enter. */
export async function send(page, text) {
  const box = page.getByTestId('composer');
  await box.fill(text);
  await box.press('Enter');
}

/** Waits until a stored (sent) message with exactly this text is on the page. */
export async function waitForMessage(page, text) {
  await page.waitForFunction(
    (t) =>
      [...document.querySelectorAll('[data-testid=message][data-state=sent] [data-testid=message-text]')].some(
        (el) => el.textContent === t,
      ),
    text,
    { timeout: TIMEOUT },
  );
}

/** The texts of all messages shown, in order. */
export async function messageTexts(page) {
  return page.$$eval('[data-testid=message] [data-testid=message-text]', (els) => els.map((e) => e.textContent));
}

export async function screenshot(page, name) {
  mkdirSync(shotDir, { recursive: true });
  await page.screenshot({ path: join(shotDir, `${name}.png`), animations: 'disabled' });
}

/** The page is no wider than its viewport: nothing scrolls sideways. */
export async function horizontalOverflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/** Opens room `room` on `page` by its link, as if an invite link were pasted: the rooms open before stay joined. */
export async function openRoom(page, room) {
  await page.evaluate((r) => {
    location.hash = `#room=${encodeURIComponent(r)}`;
  }, room);
  await page.waitForSelector(`[data-testid=room-item][data-room="${room}"][aria-current=page]`, { state: 'attached' });
  await page.waitForSelector('[data-testid=composer]:not([disabled])');
}

/** Waits until the sidebar shows these unread and mention counts for `room`. */
export async function waitUnread(page, room, { unread, mentions }) {
  await page.waitForFunction(
    ([r, u, m]) => {
      const el = document.querySelector(`[data-testid=room-item][data-room="${r}"]`);
      if (!el) return false;
      const got = Number(el.querySelector('[data-testid=unread]')?.textContent ?? 0);
      const gotM = Number((el.querySelector('[data-testid=mentions]')?.textContent ?? '@0').slice(1));
      return got === u && gotM === m;
    },
    [room, unread, mentions],
    { timeout: TIMEOUT },
  );
}

/** The stored message on `page` whose text is exactly `text`, as a locator. */
export function messageWithText(page, text) {
  return page.locator('[data-testid=message][data-state=sent]').filter({
    has: page.getByTestId('message-text').getByText(text, { exact: true }),
  });
}
