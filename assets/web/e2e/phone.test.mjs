// Browser tests of notifications, "open on phone as me" and the phone layout,
// against the real rtchat binary.
//
//   RTCHAT_BIN=/path/to/rtchat npm run e2e
//
// Chromium resolves LAN_HOST to 127.0.0.1: a page there stands in for a phone
// on a LAN address over plain http, which is not a secure context.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { io } from 'socket.io-client';
import {
  DESKTOP,
  LAN_HOST,
  PHONE,
  TIMEOUT,
  enter,
  horizontalOverflow,
  launchBrowser,
  screenshot,
  send,
  waitConnected,
  waitForMessage,
  scenario as runScenario,
} from './helpers.mjs';

let browser;
before(async () => {
  browser = await launchBrowser([`--host-resolver-rules=MAP ${LAN_HOST} 127.0.0.1`]);
});
after(async () => {
  await browser?.close();
});

/** Runs `fn` with a fresh server (reachable as LAN_HOST too) and the people it opens. */
const scenario = (fn) =>
  runScenario(browser, { extraArgs: ['--allowed-host', LAN_HOST] }, ({ server, person }) =>
    fn({ server, person, lanUrl: server.url.replace('127.0.0.1', LAN_HOST) }),
  );

/** In the page: records every Notification the app constructs, and still makes the real one. */
function recordNotifications() {
  const Real = window.Notification;
  const shown = [];
  window.__notifications = shown;
  window.Notification = class extends Real {
    constructor(title, options = {}) {
      shown.push({ title, body: options.body, tag: options.tag });
      super(title, options);
    }
    static get permission() {
      return Real.permission;
    }
    static requestPermission() {
      return Real.requestPermission();
    }
  };
}

/** In the page: what the browser tells a page in a background tab. */
function setVisibility(state) {
  Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => state === 'hidden' });
  document.dispatchEvent(new Event('visibilitychange'));
}

async function openDrawer(page) {
  await page.getByTestId('menu').click();
  await page.locator('.drawer-open .sidebar').waitFor();
}

async function closeDrawer(page) {
  await page.keyboard.press('Escape');
  await page.locator('.drawer-open').waitFor({ state: 'detached' });
}

test('a message that arrives while the page is hidden raises a notification and counts in the title', async () => {
  await scenario(async ({ server, person }) => {
    const reader = await person(PHONE);
    await reader.context.grantPermissions(['notifications'], { origin: server.url });
    await reader.context.addInitScript(recordNotifications);
    await enter(reader.page, `${server.url}/#room=lobby`, 'Rae Reader');
    const writer = await person(DESKTOP);
    await enter(writer.page, `${server.url}/#room=lobby`, 'Wes Writer');

    // Off until the person turns it on.
    await openDrawer(reader.page);
    const toggle = reader.page.getByTestId('notify-toggle');
    assert.equal(await toggle.getAttribute('aria-checked'), 'false');
    assert.equal(await reader.page.getByTestId('sound-toggle').getAttribute('aria-checked'), 'false');
    await toggle.click();
    await reader.page.waitForSelector('[data-testid=notify-toggle][aria-checked=true]');
    await screenshot(reader.page, 'phone-notification-toggle');
    await closeDrawer(reader.page);

    // While the page is on screen, a message is just shown.
    await send(writer.page, 'seen on screen');
    await waitForMessage(reader.page, 'seen on screen');
    assert.deepEqual(await reader.page.evaluate(() => window.__notifications), []);
    assert.equal(await reader.page.title(), '#lobby · rtchat');

    // In the background, it raises a notification and counts in the title.
    await reader.page.evaluate(setVisibility, 'hidden');
    await send(writer.page, 'Lunch at noon?\nMeet at the door.');
    await reader.page.waitForFunction(() => window.__notifications.length > 0, null, { timeout: TIMEOUT });
    assert.deepEqual(await reader.page.evaluate(() => window.__notifications), [
      { title: '#lobby', body: 'Wes Writer: Lunch at noon? Meet at the door.', tag: 'rtchat-room:lobby' },
    ]);
    await reader.page.waitForFunction(() => document.title === '(1) #lobby · rtchat', null, { timeout: TIMEOUT });

    await send(writer.page, 'x'.repeat(400));
    await reader.page.waitForFunction(() => window.__notifications.length === 2, null, { timeout: TIMEOUT });
    const long = await reader.page.evaluate(() => window.__notifications[1]);
    assert.equal(long.tag, 'rtchat-room:lobby', "one tag per room, so a room's notifications collapse");
    assert.ok(long.body.length <= 140 && long.body.endsWith('…'), `a long text is cut: ${long.body}`);
    await reader.page.waitForFunction(() => document.title === '(2) #lobby · rtchat', null, { timeout: TIMEOUT });

    // Back on screen, the count goes.
    await reader.page.evaluate(setVisibility, 'visible');
    await reader.page.waitForFunction(() => document.title === '#lobby · rtchat', null, { timeout: TIMEOUT });
    await screenshot(reader.page, 'phone-notification');
  });
});

test('on a LAN address over plain http the page says notifications need HTTPS instead of offering them', async () => {
  await scenario(async ({ person, lanUrl }) => {
    const phone = await person(PHONE);
    await enter(phone.page, `${lanUrl}/#room=lobby`, 'Lan Lee');
    assert.equal(await phone.page.evaluate(() => window.isSecureContext), false, 'the page is not a secure context');
    await openDrawer(phone.page);
    const note = phone.page.getByTestId('notify-insecure');
    await note.waitFor();
    assert.match(await note.textContent(), /need HTTPS.*--tunnel/);
    assert.equal(await phone.page.getByTestId('notify-toggle').count(), 0, 'no button that cannot work');
    assert.equal(await phone.page.getByTestId('sound-toggle').count(), 1, 'the sound works anywhere');
    await screenshot(phone.page, 'phone-notification-insecure');
  });
});

test('"open on phone as me": the phone is the same person, and the key leaves the address bar', async () => {
  await scenario(async ({ server, person, lanUrl }) => {
    const desk = await person(DESKTOP);
    // This server listens on this computer only; pretend it is on a LAN, as LAN_HOST.
    await desk.context.route('**/api/info', async (route) => {
      const response = await route.fetch();
      const info = await response.json();
      await route.fulfill({ response, json: { ...info, phone_url: `${lanUrl}/` } });
    });
    await enter(desk.page, `${server.url}/#room=standup`, 'Dana Desk');

    await desk.page.getByTestId('open-on-phone').click();
    const link = desk.page.getByTestId('phone-link');
    await link.waitFor();
    assert.doesNotMatch(await link.getAttribute('href'), /userKey/, 'off by default');
    const asMe = desk.page.getByTestId('phone-as-me');
    assert.match(await desk.page.locator('.as-me').textContent(), /anyone with it can chat as you/);
    await asMe.check();
    await desk.page.waitForFunction(() => /userKey=/.test(document.querySelector('[data-testid=phone-link]').href));
    const href = await link.getAttribute('href');
    const url = new URL(href);
    assert.equal(url.origin, lanUrl);
    assert.doesNotMatch(url.search, /userKey/, 'never in the query, which reaches the server');
    const key = new URLSearchParams(url.hash.slice(1)).get('userKey');
    assert.match(key, /^[A-Za-z0-9_-]{22,128}$/);
    await screenshot(desk.page, 'phone-as-me-dialog');
    await desk.page.keyboard.press('Escape');
    // The desktop connects with its new key, so the phone joins the same person.
    await waitConnected(desk.page);
    await desk.page.waitForSelector('[data-testid=composer]:not([disabled])');

    const phone = await person(PHONE);
    await enter(phone.page, href, 'Pat Phone');
    assert.doesNotMatch(await phone.page.evaluate(() => location.hash), /userKey/, 'the key is taken out of the address');
    assert.doesNotMatch(phone.page.url(), /userKey/);
    assert.equal(await phone.page.evaluate(() => localStorage.getItem('rtchat.userKey')), key);

    await send(phone.page, 'from my phone');
    await waitForMessage(desk.page, 'from my phone');
    const deskMembers = await desk.page.$$eval('[data-testid=member]', (els) => els.map((e) => e.dataset.userId));
    await openDrawer(phone.page);
    const phoneMembers = await phone.page.$$eval('[data-testid=member]', (els) => els.map((e) => e.dataset.userId));
    assert.equal(deskMembers.length, 1, `the desktop sees one person: ${deskMembers}`);
    assert.deepEqual(phoneMembers, deskMembers, 'the phone is that same person');
    await screenshot(phone.page, 'phone-as-me');
  });
});

/** The element's content fits it: nothing is cut, sideways or below. */
async function fits(page, selector) {
  return page.$eval(selector, (el) => ({
    text: el.textContent,
    fits: el.scrollWidth <= el.clientWidth && el.scrollHeight <= el.clientHeight,
  }));
}

test('phone layout: the whole room name, a one-line composer, day labels that cover nothing, no button for itself', async () => {
  await scenario(async ({ server, person }) => {
    const name = 'Maximilian Alexander Worthington'; // 32 characters, the most a name may have
    const owner = await person(PHONE);
    await enter(owner.page, `${server.url}/`, name);
    assert.equal(await owner.page.getByTestId('open-on-phone').isVisible(), false, 'no "Open on phone" on a phone');

    // A private room, made from the drawer: the invite says where its link works.
    await openDrawer(owner.page);
    assert.deepEqual(await fits(owner.page, '.whoami strong'), { text: name, fits: true }, 'the whole name shows');
    await screenshot(owner.page, 'phone-drawer-name');
    await owner.page.getByTestId('create-room-name').fill('secret-planning');
    await owner.page.getByTestId('create-room-private').check();
    await owner.page.getByTestId('create-room-submit').click();
    const warning = owner.page.getByTestId('invite-local-only');
    await warning.waitFor();
    assert.match(await warning.textContent(), /only listens on this computer.*--lan.*--tunnel/s);
    await screenshot(owner.page, 'phone-invite-local-only');
    await owner.page.keyboard.press('Escape');
    await owner.page.getByTestId('invite-dialog').waitFor({ state: 'detached' });
    await owner.page.waitForSelector('[data-testid=composer]:not([disabled])');
    const roomId = new URLSearchParams((await owner.page.evaluate(() => location.hash)).slice(1)).get('room');

    // 390 px: the header gives the name its room.
    assert.deepEqual(await fits(owner.page, '.room-title h1 .ellipsis'), { text: 'secret-planning', fits: true });
    assert.ok((await horizontalOverflow(owner.page)) <= 0, 'nothing overflows sideways at 390 px');
    await screenshot(owner.page, 'phone-header-390');

    // Enough of a conversation to scroll; half way up, the day label covers no text.
    const bot = io(server.url, { auth: { name: 'Scribe', v: 1 }, transports: ['websocket'] });
    try {
      const key = await owner.page.evaluate((room) => JSON.parse(localStorage.getItem('rtchat.keys'))[room], roomId);
      assert.equal((await bot.timeout(TIMEOUT).emitWithAck('room:join', { room: roomId, key })).ok, true);
      for (let i = 1; i <= 30; i++) {
        const text = Array(6).fill(`note ${i}`).join(' ');
        const ack = await bot.timeout(TIMEOUT).emitWithAck('message:send', { room: roomId, text });
        assert.equal(ack.ok, true);
      }
    } finally {
      bot.disconnect();
    }
    await waitForMessage(owner.page, Array(6).fill('note 30').join(' '));
    await owner.page.$eval('[data-testid=messages]', (el) => {
      el.scrollTop = (el.scrollHeight - el.clientHeight) / 2;
    });
    const covered = await owner.page.evaluate(() => {
      const list = document.querySelector('[data-testid=messages]').getBoundingClientRect();
      const overlaps = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
      return [...document.querySelectorAll('.day span')]
        .map((d) => d.getBoundingClientRect())
        .filter((d) => overlaps(d, list))
        .flatMap((d) =>
          [...document.querySelectorAll('[data-testid=message-text]')]
            .filter((t) => overlaps(d, t.getBoundingClientRect()))
            .map((t) => t.textContent),
        );
    });
    assert.deepEqual(covered, [], 'no message text under a day label');
    await screenshot(owner.page, 'phone-day-label');

    // 320 px: the empty composer's placeholder stays on one line.
    await owner.page.setViewportSize({ width: 320, height: 640 });
    await owner.page.reload();
    await owner.page.waitForSelector('[data-testid=composer]:not([disabled])');
    const composer = await owner.page.getByTestId('composer').evaluate((el) => {
      const style = getComputedStyle(el);
      const line = parseFloat(style.lineHeight);
      const padding = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
      return { placeholder: el.placeholder, value: el.value, lines: Math.round((el.scrollHeight - padding) / line) };
    });
    assert.deepEqual(composer, { placeholder: 'Message secret-planning', value: '', lines: 1 });
    assert.deepEqual(await fits(owner.page, '.room-title h1 .ellipsis'), { text: 'secret-planning', fits: true }, 'at 320 px too');
    assert.ok((await horizontalOverflow(owner.page)) <= 0, 'nothing overflows sideways at 320 px');
    await screenshot(owner.page, 'phone-composer-320');
  });
});
