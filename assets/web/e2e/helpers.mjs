// Shared pieces of the browser tests: a real `rtchat serve` on free ports,
// Debian's Chromium driven by playwright-core, and the steps a person takes.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
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

/**
 * RTCHAT_UI_DIST: a built web UI (a `dist/` folder) to serve to the pages
 * instead of the one built into the binary, to try a UI against a server
 * built from another branch. Only rtchat's own hosts are affected.
 */
const uiDist = process.env.RTCHAT_UI_DIST ? resolve(process.env.RTCHAT_UI_DIST) : null;
const UI_HOSTS = new Set(['127.0.0.1', 'localhost', LAN_HOST]);

function isUiRequest(url) {
  return UI_HOSTS.has(url.hostname) && !/^\/(socket\.io|api)\//.test(url.pathname) && !['/healthz', '/metrics'].includes(url.pathname);
}

/** Answers a UI request from `uiDist` as rtchat would: the file, a 404, or the app's index.html. */
async function serveFromDist(route) {
  const path = decodeURIComponent(new URL(route.request().url()).pathname);
  const file = resolve(uiDist, `.${path === '/' ? '/index.html' : path}`);
  if (file.startsWith(uiDist + sep) && existsSync(file) && statSync(file).isFile()) return route.fulfill({ path: file });
  if (path.split('/').pop().includes('.')) return route.fulfill({ status: 404, body: 'not found' });
  return route.fulfill({ path: join(uiDist, 'index.html') });
}

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
    url: ready.ui_url,
    backendUrl: ready.backend_url,
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

/** Debian's Chromium, headless, in a fresh throwaway profile, with `extraArgs` added. */
export async function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // Pages served from uiDist come from no network address, so Chromium would
    // take them for public pages and refuse them the loopback server.
    args: [...CHROMIUM_ARGS, ...(uiDist ? ['--disable-features=LocalNetworkAccessChecks'] : []), ...extraArgs],
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
  if (uiDist) await context.route(isUiRequest, serveFromDist);
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
