// Browser tests of the bundled UI against the real rtchat binary.
//
//   RTCHAT_BIN=/path/to/rtchat npm run e2e
//
// Each test starts its own server on free ports with a fresh database, drives
// headless Chromium like a person would, and leaves a screenshot in target/e2e/.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { io } from 'socket.io-client';
import {
  DESKTOP,
  PHONE,
  TIMEOUT,
  enter,
  horizontalOverflow,
  launchBrowser,
  messageTexts,
  screenshot,
  send,
  waitConnected,
  waitForMessage,
  scenario as runScenario,
} from './helpers.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Runs `fn` with a fresh server (started with `opts`) and the people it opens. */
const scenario = (opts, fn) => runScenario(browser, opts, fn);

async function memberNames(page) {
  return page.$$eval('[data-testid=member]', (els) => els.map((e) => e.textContent));
}

async function waitMembers(page, names) {
  await page.waitForFunction(
    (want) => {
      const got = [...document.querySelectorAll('[data-testid=member]')].map((e) => e.textContent ?? '');
      return want.every((n) => got.some((g) => g.includes(n)));
    },
    names,
    { timeout: TIMEOUT },
  );
}

async function waitTyping(page, name) {
  await page.waitForFunction(
    (n) => document.querySelector('[data-testid=typing]')?.textContent?.includes(`${n} is typing`),
    name,
    { timeout: TIMEOUT },
  );
}

test('a desktop and a phone chat both ways, see each other type and see who is there', async () => {
  await scenario({}, async ({ server, person }) => {
    const desk = await person(DESKTOP);
    const phone = await person(PHONE);
    const room = `${server.url}/#room=standup`;
    await enter(desk.page, room, 'Dana Desk');
    await enter(phone.page, room, 'Pat Phone');

    // Presence: the desktop sidebar lists both; on the phone it is in the drawer.
    await waitMembers(desk.page, ['Dana Desk', 'Pat Phone']);
    await phone.page.getByTestId('menu').click();
    await waitMembers(phone.page, ['Dana Desk', 'Pat Phone']);
    await phone.page.waitForFunction(
      () => document.querySelector('[data-testid=room-item][data-room=standup] .count')?.textContent === '2',
    );
    await screenshot(phone.page, 'phone-drawer');
    await phone.page.keyboard.press('Escape');

    // Typing shows on the other side, then the message replaces it.
    await phone.page.getByTestId('composer').pressSequentially('Hello from the phone', { delay: 5 });
    await waitTyping(desk.page, 'Pat Phone');
    await phone.page.getByTestId('composer').press('Enter');
    await waitForMessage(desk.page, 'Hello from the phone');
    await waitForMessage(phone.page, 'Hello from the phone');
    await desk.page.waitForFunction(() => !document.querySelector('[data-testid=typing]')?.textContent);

    await desk.page.getByTestId('composer').pressSequentially('Hi Pat, desktop here 👋', { delay: 5 });
    await waitTyping(phone.page, 'Dana Desk');
    await desk.page.getByTestId('send').click();
    await waitForMessage(phone.page, 'Hi Pat, desktop here 👋');
    await waitForMessage(desk.page, 'Hi Pat, desktop here 👋');

    // Own messages are marked sent, with the clientId they were sent with.
    const own = await desk.page.$$eval('[data-testid=message]', (els) => {
      const el = els[els.length - 1];
      return {
        state: el.getAttribute('data-state'),
        clientId: el.getAttribute('data-client-id'),
        id: el.getAttribute('data-id'),
      };
    });
    assert.equal(own.state, 'sent');
    assert.ok(own.clientId, 'own message carries its clientId');
    assert.ok(own.id, 'own message carries its server id');

    // Shift+Enter is a newline, not a send.
    const box = phone.page.getByTestId('composer');
    await box.fill('line one');
    await box.press('Shift+Enter');
    await box.pressSequentially('line two');
    assert.equal(await box.inputValue(), 'line one\nline two');
    await box.press('Enter');
    await waitForMessage(desk.page, 'line one\nline two');

    const badge = desk.page.getByTestId('conn-badge');
    assert.equal(await badge.getAttribute('data-transport'), 'websocket');
    await desk.page.waitForFunction(() => /\d+ ms/.test(document.querySelector('[data-testid=conn-badge]')?.textContent ?? ''));

    await screenshot(desk.page, 'desktop-chat');
    await screenshot(phone.page, 'phone-chat');

    // On this machine only: the phone dialog says so, and how to change it.
    await desk.page.getByTestId('open-on-phone').click();
    const note = desk.page.getByTestId('phone-unreachable');
    await note.waitFor();
    assert.match(await note.textContent(), /--lan/);
    assert.match(await note.textContent(), /--tunnel/);
    await screenshot(desk.page, 'open-on-phone-local-only');
  });
});

test('a reload shows history, and a page that was offline catches up on every message once, in order', async () => {
  await scenario({}, async ({ server, person }) => {
    const a = await person(DESKTOP);
    const b = await person(PHONE);
    const room = `${server.url}/#room=catchup`;
    await enter(a.page, room, 'Alice');
    await enter(b.page, room, 'Bob');
    await waitMembers(a.page, ['Bob']);

    const expected = [];
    for (let i = 1; i <= 3; i++) {
      const t = `before reload ${i}`;
      await send(a.page, t);
      expected.push(t);
    }
    await waitForMessage(b.page, 'before reload 3');

    await b.page.reload();
    await waitConnected(b.page);
    await waitForMessage(b.page, 'before reload 3');
    assert.deepEqual(await messageTexts(b.page), expected, 'history after a reload');
    assert.equal(await b.page.getByTestId('name-input').count(), 0, 'the name is remembered');

    // Bob's phone loses its network.
    await b.context.setOffline(true);
    await b.page.waitForSelector('[data-testid=conn-badge]:not([data-state=connected])');
    await screenshot(b.page, 'phone-offline');

    // Bob writes while offline: it waits as "sending".
    await send(b.page, 'written offline');
    await b.page.waitForSelector('[data-testid=message][data-state=sending]');

    // Meanwhile Alice sends some from the page, and a script sends well over
    // a page of history (100), so the catch-up has to page.
    for (let i = 1; i <= 5; i++) {
      const t = `while offline ${i}`;
      await send(a.page, t);
      expected.push(t);
    }
    await waitForMessage(a.page, 'while offline 5');
    const bot = io(server.url, { auth: { name: 'bulk-bot', v: 1 }, transports: ['websocket'] });
    try {
      await bot.timeout(TIMEOUT).emitWithAck('room:join', { room: 'catchup' });
      for (let i = 1; i <= 130; i++) {
        const t = `bulk ${String(i).padStart(3, '0')}`;
        const ack = await bot.timeout(TIMEOUT).emitWithAck('message:send', { room: 'catchup', text: t, clientId: `bulk-${i}` });
        assert.equal(ack.ok, true);
        expected.push(t);
      }
    } finally {
      bot.disconnect();
    }
    await waitForMessage(a.page, 'bulk 130');

    await b.context.setOffline(false);
    await waitConnected(b.page);
    await waitForMessage(b.page, 'bulk 130');
    await waitForMessage(a.page, 'written offline');
    await b.page.waitForSelector('[data-testid=message][data-state=sending]', { state: 'detached' });

    const texts = await messageTexts(b.page);
    const withoutOwn = texts.filter((t) => t !== 'written offline');
    assert.deepEqual(withoutOwn, expected, 'every missed message once, in order');
    assert.equal(texts.filter((t) => t === 'written offline').length, 1, 'the offline message is sent once');
    assert.equal((await messageTexts(a.page)).filter((t) => t === 'written offline').length, 1);

    const ids = await b.page.$$eval('[data-testid=message][data-id]', (els) => els.map((e) => e.getAttribute('data-id')));
    assert.equal(new Set(ids).size, ids.length, 'no duplicate ids');
    assert.deepEqual([...ids].sort(), ids, 'ids in delivery order');
    await screenshot(b.page, 'phone-caught-up');
  });
});

test('scrolling up loads older history, page by page, keeping the place', async () => {
  await scenario({}, async ({ server, person }) => {
    const bot = io(server.url, { auth: { name: 'archivist', v: 1 }, transports: ['websocket'] });
    const expected = [];
    try {
      await bot.timeout(TIMEOUT).emitWithAck('room:join', { room: 'archive' });
      for (let i = 1; i <= 160; i++) {
        const t = `archived ${String(i).padStart(3, '0')}`;
        const ack = await bot.timeout(TIMEOUT).emitWithAck('message:send', { room: 'archive', text: t });
        assert.equal(ack.ok, true);
        expected.push(t);
      }
    } finally {
      bot.disconnect();
    }

    const reader = await person(DESKTOP);
    await enter(reader.page, `${server.url}/#room=archive`, 'Reader');
    await waitForMessage(reader.page, 'archived 160');
    assert.deepEqual(await messageTexts(reader.page), expected.slice(-50), 'the join shows the latest 50');

    const list = reader.page.getByTestId('messages');
    for (const shown of [100, 150, 160]) {
      const anchor = await reader.page.$eval('[data-testid=message]', (el) => el.getAttribute('data-id'));
      await list.hover();
      await reader.page.mouse.wheel(0, -100_000);
      await reader.page.waitForFunction(
        (n) => document.querySelectorAll('[data-testid=message]').length === n,
        shown,
      );
      // The message that was at the top is still on screen: no jump.
      const inView = await reader.page.$eval(`[data-testid=message][data-id="${anchor}"]`, (el) => {
        const r = el.getBoundingClientRect();
        const box = document.querySelector('[data-testid=messages]').getBoundingClientRect();
        return r.bottom > box.top && r.top < box.bottom;
      });
      assert.ok(inView, `after loading up to ${shown}, the previous top message stays in view`);
    }
    await reader.page.getByTestId('history-start').waitFor();
    await reader.page.mouse.wheel(0, -100_000);
    await reader.page.waitForFunction(() => document.querySelector('[data-testid=messages]').scrollTop === 0);
    assert.deepEqual(await messageTexts(reader.page), expected, 'all history once, in order');
    await screenshot(reader.page, 'history-start');
  });
});

test('rooms: create a public one, move between rooms and stay in them, change name, leave', async () => {
  await scenario({}, async ({ server, person }) => {
    const ann = await person(DESKTOP);
    const ben = await person(PHONE);
    await enter(ann.page, `${server.url}/`, 'Ann');
    await enter(ben.page, `${server.url}/`, 'Ben');
    assert.match(ann.page.url(), /#room=lobby$/, 'the default room is the lobby');

    await ann.page.getByTestId('create-room-name').fill('Book Club');
    await ann.page.getByText('Will be created as #Book-Club').waitFor();
    await ann.page.getByTestId('create-room-submit').click();
    await ann.page.waitForFunction(() => location.hash === '#room=Book-Club');
    await ann.page.waitForSelector('[data-testid=composer]:not([disabled])');
    assert.equal(await ann.page.getByTestId('invite-link').count(), 0, 'no invite pops up for a public room');

    // Ben finds the new room in his list, with Ann in it, and goes there.
    await ben.page.getByTestId('menu').click();
    const item = ben.page.locator('[data-testid=room-item][data-room=Book-Club]');
    await item.waitFor();
    await ben.page.waitForFunction(
      () => document.querySelector('[data-testid=room-item][data-room=Book-Club] .count')?.textContent === '1',
    );
    await item.click();
    await ben.page.waitForFunction(() => location.hash === '#room=Book-Club');
    await waitMembers(ann.page, ['Ann', 'Ben']);
    await send(ben.page, 'found it');
    await waitForMessage(ann.page, 'found it');

    // Ann renames herself; Ben sees the new name on people and messages.
    await ann.page.getByRole('button', { name: 'Change name' }).click();
    await ann.page.getByTestId('name-input').fill('Ann Smith');
    await ann.page.getByTestId('name-submit').click();
    await waitConnected(ann.page);
    await waitMembers(ben.page, ['Ann Smith']);
    await ann.page.waitForSelector('[data-testid=composer]:not([disabled])');
    await send(ann.page, 'new name, same me');
    await waitForMessage(ben.page, 'new name, same me');
    assert.equal(await ben.page.locator('.msg-name', { hasText: 'Ann Smith' }).count(), 1);
    assert.deepEqual(await messageTexts(ann.page), ['found it', 'new name, same me'], 'history survives the rename');

    // Ann goes back to the lobby: she stays in Book-Club, so Ben still sees her.
    await ann.page.locator('[data-testid=room-item][data-room=lobby]').click();
    await ann.page.waitForFunction(() => location.hash === '#room=lobby');
    assert.deepEqual(await messageTexts(ann.page), [], 'the lobby has its own history');
    await send(ben.page, 'still here, Ann?');
    await ann.page.waitForFunction(
      () => document.querySelector('[data-testid=room-item][data-room=Book-Club] [data-testid=unread]')?.textContent === '1',
    );
    await waitMembers(ben.page, ['Ann Smith']);

    // Ann leaves Book-Club: Ben sees her go.
    await ann.page.locator('[data-testid=room-item][data-room=Book-Club]').hover();
    await ann.page.locator('[data-testid=leave-room][data-room=Book-Club]').click();
    await ben.page.waitForFunction(
      () => ![...document.querySelectorAll('[data-testid=member]')].some((e) => e.textContent?.includes('Ann')),
    );
    assert.equal(await ann.page.locator('[data-testid=room-item][data-room=Book-Club][data-joined]').count(), 0);
    await screenshot(ben.page, 'rooms-phone');
  });
});

test('a private room: the invite link gets in, a wrong key gets a clear refusal', async () => {
  await scenario({}, async ({ server, person }) => {
    const owner = await person(DESKTOP);
    await enter(owner.page, `${server.url}/`, 'Olivia Owner');
    await owner.page.getByTestId('create-room-name').fill('secret-plans');
    await owner.page.getByTestId('create-room-private').check();
    await owner.page.getByTestId('create-room-submit').click();

    const link = owner.page.getByTestId('invite-link');
    await link.waitFor();
    await owner.page.getByTestId('qr').waitFor();
    const invite = await link.getAttribute('href');
    // The server picks a private room's id; the name typed is what people see.
    const [, roomId] = invite.match(/#room=(p-[a-z2-7]{16})&key=[^&]+$/) ?? [];
    assert.ok(roomId, `an invite names the room by its random id: ${invite}`);
    await screenshot(owner.page, 'private-invite');
    await owner.page.keyboard.press('Escape');
    await owner.page.waitForSelector('[data-testid=composer]:not([disabled])');

    const guest = await person(PHONE);
    await enter(guest.page, invite, 'Gus Guest');
    assert.doesNotMatch(guest.page.url(), /key=/, 'the key is taken out of the address bar');
    await waitMembers(owner.page, ['Gus Guest']);
    assert.match(await guest.page.locator('.room-title h1').textContent(), /secret-plans/, 'the guest sees the name');
    await send(guest.page, 'in via the invite');
    await waitForMessage(owner.page, 'in via the invite');
    await screenshot(guest.page, 'private-guest');

    const intruder = await person(DESKTOP);
    await intruder.page.goto(invite.replace(/key=[^&]+/, 'key=not-the-key'));
    await intruder.page.getByTestId('name-input').fill('Ivan');
    await intruder.page.getByTestId('name-submit').click();
    const refusal = intruder.page.getByTestId('refused');
    await refusal.waitFor();
    assert.match(await refusal.textContent(), new RegExp(`Can’t open #${roomId}`));
    assert.doesNotMatch(await refusal.textContent(), /secret-plans/, 'a refused visitor learns nothing of the room');
    assert.match(await refusal.textContent(), /invite link/);
    assert.match(await intruder.page.getByTestId('error').textContent(), /private.*key is missing or wrong/i);
    assert.equal(await intruder.page.getByTestId('composer').count(), 0, 'no composer for a room one is not in');
    assert.equal(await intruder.page.getByTestId('message').count(), 0, 'nothing of the room is shown');
    assert.equal(await intruder.page.locator(`[data-testid=room-item][data-room=${roomId}]`).count(), 0);
    await screenshot(intruder.page, 'private-refused');
  });
});

test("the seed's plain-string client and the UI see each other's messages", async () => {
  await scenario({}, async ({ server, person }) => {
    const ui = await person(DESKTOP);
    await enter(ui.page, `${server.url}/#room=project-42`, 'Uma');

    // The lesson's client code, adapted only in its URL.
    const projectId = 'project-42';
    const seed = io(server.url, { query: { projectId } });
    const received = [];
    const waiters = [];
    seed.on('message', (msg) => {
      received.push(msg);
      for (const w of waiters.splice(0)) w();
    });
    const receivedText = (t) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`seed client never got ${JSON.stringify(t)}: ${JSON.stringify(received)}`)), TIMEOUT);
        const check = () => {
          if (received.includes(t)) {
            clearTimeout(timer);
            resolve();
          } else waiters.push(check);
        };
        check();
      });
    try {
      seed.emit('joinRoom', projectId);
      // The seed client shows up in the room as a guest.
      await ui.page.waitForFunction(() =>
        [...document.querySelectorAll('[data-testid=member]')].some((e) => e.textContent?.includes('guest-')),
      );

      seed.emit('message', 'hello from the seed client');
      await waitForMessage(ui.page, 'hello from the seed client');
      await receivedText('hello from the seed client');

      await send(ui.page, 'hello back from the UI');
      await receivedText('hello back from the UI');
      assert.equal(received.filter((m) => m === 'hello back from the UI').length, 1);
    } finally {
      seed.disconnect();
    }
    await screenshot(ui.page, 'seed-interop');
  });
});

test('hostile text renders as text and breaks no layout', async () => {
  await scenario({}, async ({ server, person }) => {
    const desk = await person(DESKTOP);
    const phone = await person(PHONE);
    const room = `${server.url}/#room=hostile`;
    await enter(desk.page, room, 'Mallory <b>bold</b>');
    await enter(phone.page, room, 'Rita');

    const texts = [
      '<img src=x onerror=alert(1)>',
      '<script>alert(2)</script><a href="javascript:alert(3)">click</a>',
      'W'.repeat(500),
      'مرحبا بالعالم، هذه رسالة من اليمين إلى اليسار',
      'שלום עולם, זו הודעה מימין לשמאל',
      '🎉🔥👩‍💻🇳🇴 emoji party 🥳',
      'see https://example.com/path?q=1 for details',
    ];
    for (const t of texts) await send(desk.page, t);
    for (const t of texts) {
      await waitForMessage(phone.page, t);
      await waitForMessage(desk.page, t);
    }

    for (const p of [desk, phone]) {
      assert.deepEqual(await messageTexts(p.page), texts, 'text comes out exactly as it went in');
      assert.equal(await p.page.locator('img').count(), 0, 'no img element was created');
      assert.equal(await p.page.locator('[data-testid=message-text] script').count(), 0);
      assert.equal(await p.page.locator('a[href^="javascript:"]').count(), 0);
      assert.deepEqual(p.dialogs, [], 'no dialog fired');
      assert.ok((await horizontalOverflow(p.page)) <= 0, 'nothing overflows sideways');
      const link = p.page.locator('[data-testid=message-text] a[href="https://example.com/path?q=1"]');
      assert.equal(await link.count(), 1, 'the URL became a link');
      assert.equal(await link.getAttribute('rel'), 'noopener noreferrer nofollow');
      // The long word wraps inside its bubble, within the screen.
      const right = await p.page.$$eval('[data-testid=message-text]', (els) =>
        Math.max(...els.map((e) => e.getBoundingClientRect().right)),
      );
      assert.ok(right <= (await p.page.evaluate(() => window.innerWidth)), 'bubbles stay on screen');
    }
    assert.match(await phone.page.locator('.msg-name').first().textContent(), /Mallory <b>bold<\/b>/);
    await screenshot(desk.page, 'hostile-desktop');
    await screenshot(phone.page, 'hostile-phone');
  });
});

test('an access token from the link is used and hidden; without it the page asks for it', async () => {
  await scenario({ token: 'open-sesame' }, async ({ server, person }) => {
    const linked = await person(PHONE);
    await enter(linked.page, `${server.url}/#room=lobby&token=open-sesame`, 'Tina');
    assert.doesNotMatch(linked.page.url(), /open-sesame/, 'the token is taken out of the address bar');

    const bare = await person(DESKTOP);
    await bare.page.goto(`${server.url}/`);
    await bare.page.getByTestId('name-input').fill('Nora');
    await bare.page.getByTestId('name-submit').click();
    const prompt = bare.page.getByTestId('unauthorized');
    await prompt.waitFor();
    assert.match(await prompt.textContent(), /access token/);
    await screenshot(bare.page, 'token-prompt');
    await bare.page.getByTestId('token-input').fill('open-sesame');
    await bare.page.getByTestId('token-submit').click();
    await waitConnected(bare.page);
    await send(bare.page, 'let in by token');
    await waitForMessage(linked.page, 'let in by token');
  });
});

test('a refused message says why, and a retry sends it once with the same clientId', async () => {
  // One message a second, bursts of two: a quick third message is refused.
  await scenario({ rateLimit: 1 }, async ({ server, person }) => {
    const a = await person(PHONE);
    const b = await person(DESKTOP);
    const room = `${server.url}/#room=limits`;
    await enter(a.page, room, 'Quick Quinn');
    await enter(b.page, room, 'Bea');
    for (const t of ['one', 'two', 'three', 'four']) await send(a.page, t);

    const failed = a.page.locator('[data-testid=message][data-state=failed]').first();
    await failed.waitFor();
    const clientId = await failed.getAttribute('data-client-id');
    const text = await failed.getByTestId('message-text').textContent();
    assert.match(await failed.getByTestId('message-error').textContent(), /too quickly/);
    await screenshot(a.page, 'failed-message');

    // Retry until the limiter lets it through; every attempt reuses the clientId.
    const mine = a.page.locator(`[data-testid=message][data-client-id="${clientId}"]`);
    for (let attempt = 0; attempt < 20; attempt++) {
      if ((await mine.getAttribute('data-state')) === 'sent') break;
      await mine.getByTestId('retry').click();
      await a.page.waitForFunction(
        (id) => document.querySelector(`[data-testid=message][data-client-id="${id}"]`)?.getAttribute('data-state') !== 'sending',
        clientId,
      );
    }
    assert.equal(await mine.getAttribute('data-state'), 'sent');
    assert.equal(await mine.count(), 1);
    await waitForMessage(b.page, text);
    assert.equal((await messageTexts(b.page)).filter((t) => t === text).length, 1, 'stored once');
  });
});
