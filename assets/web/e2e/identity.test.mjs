// Browser tests of stable identity (issue 12): namesakes told apart, renames
// seen at once, every opened room joined with unread counts, edits and
// deletions of own messages, one person in two tabs, and room deletion.
//
//   RTCHAT_BIN=/path/to/rtchat npm run e2e

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { io } from 'socket.io-client';
import {
  DESKTOP,
  PHONE,
  TIMEOUT,
  enter,
  launchBrowser,
  messageTexts,
  messageWithText,
  openRoom,
  screenshot,
  send,
  waitConnected,
  waitForMessage,
  waitUnread,
  scenario as runScenario,
} from './helpers.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Runs `fn` with a fresh server and the people it opens. */
const scenario = (fn) => runScenario(browser, {}, fn);

/** The members listed in the sidebar: id, text and avatar hue of each. */
async function members(page) {
  return page.$$eval('[data-testid=member]', (els) =>
    els.map((e) => ({
      id: e.getAttribute('data-user-id'),
      text: e.textContent ?? '',
      tag: e.querySelector('[data-testid=user-tag]')?.textContent ?? null,
      hue: Number(e.querySelector('.avatar')?.getAttribute('data-hue')),
      me: !!e.querySelector('.you'),
    })),
  );
}

async function waitMemberCount(page, n) {
  await page.waitForFunction((k) => document.querySelectorAll('[data-testid=member]').length === k, n, {
    timeout: TIMEOUT,
  });
}

/** The UI's colour rule, restated: FNV-1a over the id's UTF-16 units, modulo 360. */
function hueOfId(id) {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0) % 360;
}

/** A bot speaking the rich protocol with its own userKey. */
async function bot(server, name, userKey) {
  const socket = io(server.url, { auth: { name, v: 1, userKey }, transports: ['websocket'] });
  const session = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${name} got no session`)), TIMEOUT);
    socket.once('session', (s) => {
      clearTimeout(t);
      resolve(s);
    });
  });
  const ask = async (event, payload) => {
    const ack = await socket.timeout(TIMEOUT).emitWithAck(event, payload);
    assert.equal(ack.ok, true, `${event}: ${JSON.stringify(ack)}`);
    return ack;
  };
  return { socket, session, ask, close: () => socket.disconnect() };
}

test('two people with the same name are told apart, and each sees only their own messages as theirs', async () => {
  await scenario(async ({ server, person }) => {
    const first = await person(DESKTOP);
    const second = await person(DESKTOP);
    const room = `${server.url}/#room=twins`;
    await enter(first.page, room, 'Sam');
    await enter(second.page, room, 'Sam');
    await waitMemberCount(first.page, 2);
    await waitMemberCount(second.page, 2);

    const seen = await members(first.page);
    assert.equal(new Set(seen.map((m) => m.id)).size, 2, 'two people, two ids');
    assert.ok(seen.every((m) => /^#[0-9a-f]{4}$/.test(m.tag ?? '')), `each Sam carries a tag: ${JSON.stringify(seen)}`);
    assert.notEqual(seen[0].tag, seen[1].tag, 'the tags differ');
    for (const m of seen) assert.equal(m.hue, hueOfId(m.id), 'the avatar colour comes from the id, not the name');
    assert.equal(seen.filter((m) => m.me).length, 1, 'exactly one Sam is "you"');
    const otherSeen = await members(second.page);
    assert.deepEqual(
      otherSeen.map((m) => [m.id, m.tag]).sort(),
      seen.map((m) => [m.id, m.tag]).sort(),
      'both pages show the same tags for the same people',
    );
    assert.notEqual(otherSeen.find((m) => m.me).id, seen.find((m) => m.me).id, 'each page is a different Sam');

    await send(first.page, 'from the first Sam');
    await send(second.page, 'from the second Sam');
    for (const p of [first, second]) {
      await waitForMessage(p.page, 'from the first Sam');
      await waitForMessage(p.page, 'from the second Sam');
    }
    const mineOn = async (page, text) => (await messageWithText(page, text).getAttribute('class')).split(' ').includes('mine');
    assert.equal(await mineOn(first.page, 'from the first Sam'), true);
    assert.equal(await mineOn(first.page, 'from the second Sam'), false, 'the namesake’s message is not mine');
    assert.equal(await mineOn(second.page, 'from the second Sam'), true);
    assert.equal(await mineOn(second.page, 'from the first Sam'), false);

    // The other Sam's message header carries their tag.
    const otherId = seen.find((m) => !m.me).id;
    const header = messageWithText(first.page, 'from the second Sam').getByTestId('user-tag');
    assert.equal(await header.textContent(), seen.find((m) => m.id === otherId).tag);
    assert.equal(
      await messageWithText(first.page, 'from the second Sam').getByTestId('edit-message').count(),
      0,
      'no edit button on someone else’s message',
    );
    await screenshot(first.page, 'identity-same-name');
  });
});

test('a rename shows at once on the other page: members, typing line and "Chatting as"', async () => {
  await scenario(async ({ server, person }) => {
    const ann = await person(DESKTOP);
    const ben = await person(PHONE);
    const room = `${server.url}/#room=renames`;
    await enter(ann.page, room, 'Ann');
    await enter(ben.page, room, 'Ben');
    await send(ann.page, 'said as Ann');
    await waitForMessage(ben.page, 'said as Ann');

    await ann.page.getByRole('button', { name: 'Change name' }).click();
    await ann.page.getByTestId('name-input').fill('Ann Smith');
    await ann.page.getByTestId('name-submit').click();
    await ann.page.waitForFunction(() => document.querySelector('[data-testid=my-name]')?.textContent === 'Ann Smith');
    assert.equal(await ann.page.getByTestId('conn-badge').getAttribute('data-state'), 'connected', 'no reconnect');

    await ben.page.getByTestId('menu').click();
    await ben.page.waitForFunction(() =>
      [...document.querySelectorAll('[data-testid=member]')].some((e) => e.textContent?.includes('Ann Smith')),
    );
    await screenshot(ben.page, 'identity-rename-members');
    await ben.page.keyboard.press('Escape');
    assert.equal(await ben.page.locator('.msg-name', { hasText: 'Ann' }).first().textContent(), 'Ann', 'stored messages keep the old name');

    // A typist who renames mid-sentence: the typing line follows.
    const typist = await bot(server, 'Tara', 'typist-key-0123456789abcdef');
    try {
      await typist.ask('room:join', { room: 'renames' });
      await typist.ask('typing', { room: 'renames', typing: true });
      await ben.page.waitForFunction(() => document.querySelector('[data-testid=typing]')?.textContent?.includes('Tara is typing'));
      await typist.ask('user:rename', { name: 'Tara Quick' });
      await ben.page.waitForFunction(() =>
        document.querySelector('[data-testid=typing]')?.textContent?.includes('Tara Quick is typing'),
      );
      await screenshot(ben.page, 'identity-rename-typing');
    } finally {
      typist.close();
    }

    await send(ann.page, 'said as Ann Smith');
    await waitForMessage(ben.page, 'said as Ann Smith');
    assert.equal(await ben.page.locator('.msg-name', { hasText: 'Ann Smith' }).count(), 1);
  });
});

test('rooms one is not looking at stay joined and count unread messages, mentions apart', async () => {
  await scenario(async ({ server, person }) => {
    const alex = await person(DESKTOP);
    const blair = await person(DESKTOP);
    await enter(alex.page, `${server.url}/#room=general`, 'Alex');
    await enter(blair.page, `${server.url}/#room=general`, 'Blair');
    await openRoom(blair.page, 'side');

    // Blair looks at #side but is still in #general.
    await alex.page.waitForFunction(() => document.querySelectorAll('[data-testid=member]').length === 2);
    await send(alex.page, 'one for the room');
    await send(alex.page, 'two for the room');
    await send(alex.page, 'hey @blair, a question');
    await waitUnread(blair.page, 'general', { unread: 3, mentions: 1 });
    await waitUnread(blair.page, 'side', { unread: 0, mentions: 0 });
    await screenshot(blair.page, 'identity-unread');

    // Opening the room clears its count; the mention is highlighted.
    await blair.page.locator('[data-testid=room-item][data-room=general]').click();
    await waitForMessage(blair.page, 'hey @blair, a question');
    await waitUnread(blair.page, 'general', { unread: 0, mentions: 0 });
    assert.equal(await messageWithText(blair.page, 'hey @blair, a question').getAttribute('data-mention'), 'true');
    assert.equal(await messageWithText(blair.page, 'one for the room').getAttribute('data-mention'), null);
    await screenshot(blair.page, 'identity-mention');

    // A reload rejoins both rooms.
    await blair.page.reload();
    await waitConnected(blair.page);
    for (const r of ['general', 'side']) {
      await blair.page.waitForSelector(`[data-testid=room-item][data-room=${r}][data-joined]`);
    }
    await alex.page.waitForFunction(() => document.querySelectorAll('[data-testid=member]').length === 2);
  });
});

test('an edit and a delete of own messages show on the other page', async () => {
  await scenario(async ({ server, person }) => {
    const author = await person(DESKTOP);
    const reader = await person(PHONE);
    const room = `${server.url}/#room=edits`;
    await enter(author.page, room, 'Ed Author');
    await enter(reader.page, room, 'Rae Reader');
    await send(author.page, 'teh typo');
    await waitForMessage(reader.page, 'teh typo');

    // Escape cancels an edit.
    const typo = messageWithText(author.page, 'teh typo');
    await typo.hover();
    await typo.getByTestId('edit-message').click();
    await author.page.getByTestId('edit-box').fill('never saved');
    await author.page.getByTestId('edit-box').press('Escape');
    assert.equal(await author.page.getByTestId('edit-box').count(), 0);
    await waitForMessage(author.page, 'teh typo');

    // Enter saves it.
    await typo.hover();
    await typo.getByTestId('edit-message').click();
    await author.page.getByTestId('edit-box').fill('the typo, fixed');
    await screenshot(author.page, 'identity-editing');
    await author.page.getByTestId('edit-box').press('Enter');
    await waitForMessage(reader.page, 'the typo, fixed');
    const edited = messageWithText(reader.page, 'the typo, fixed');
    assert.equal(await edited.getByTestId('edited').textContent(), '(edited)');
    assert.deepEqual(await messageTexts(reader.page), ['the typo, fixed'], 'the edit replaced the text in place');
    await screenshot(reader.page, 'identity-edited');

    await send(author.page, 'I regret this');
    await waitForMessage(reader.page, 'I regret this');
    const regret = messageWithText(author.page, 'I regret this');
    const id = await regret.getAttribute('data-id');
    await regret.hover();
    await regret.getByTestId('delete-message').click();
    await author.page.getByTestId('confirm').click();
    await reader.page.waitForSelector(`[data-testid=message][data-id="${id}"][data-deleted] [data-testid=message-deleted]`);
    assert.deepEqual(await messageTexts(reader.page), ['the typo, fixed'], 'the deleted text is gone');
    await screenshot(reader.page, 'identity-deleted');

    // On a phone, a tap on one's own message shows its tools.
    await send(reader.page, 'sent from the phone');
    await waitForMessage(author.page, 'sent from the phone');
    const phoneMsg = messageWithText(reader.page, 'sent from the phone');
    await phoneMsg.locator('.bubble').tap();
    await phoneMsg.getByTestId('delete-message').waitFor();
    await screenshot(reader.page, 'identity-phone-tools');
    await phoneMsg.getByTestId('delete-message').tap();
    const phoneId = await phoneMsg.getAttribute('data-id');
    await reader.page.getByTestId('confirm').tap();
    await author.page.waitForSelector(`[data-testid=message][data-id="${phoneId}"][data-deleted]`);
    assert.equal(await author.page.locator('[data-testid=message][data-deleted]').count(), 2, 'both deletions show');
  });
});

test('the same userKey in two tabs is one person, and another device with it opens the same rooms', async () => {
  await scenario(async ({ server, person }) => {
    const tess = await person(DESKTOP);
    await enter(tess.page, `${server.url}/#room=twotabs`, 'Tess');
    // A private room too: another device of Tess's is let in without its key.
    await tess.page.getByTestId('create-room-name').fill('tess-private');
    await tess.page.getByTestId('create-room-private').check();
    await tess.page.getByTestId('create-room-submit').click();
    await tess.page.getByTestId('invite-link').waitFor();
    const privateId = (await tess.page.getByTestId('invite-link').getAttribute('href')).match(/room=(p-[a-z2-7]{16})/)[1];
    await tess.page.keyboard.press('Escape');
    await tess.page.waitForSelector('[data-testid=composer]:not([disabled])');
    await tess.page.locator('[data-testid=room-item][data-room=twotabs]').click();

    // A second tab of the same browser shares its storage, so its userKey.
    const tab = await tess.context.newPage();
    await tab.goto(`${server.url}/#room=twotabs`);
    await waitConnected(tab);
    await tab.waitForSelector('[data-testid=composer]:not([disabled])');

    const watcher = await person(DESKTOP);
    await enter(watcher.page, `${server.url}/#room=twotabs`, 'Walt');
    await waitMemberCount(watcher.page, 2);
    const names = (await members(watcher.page)).map((m) => m.text);
    assert.equal(names.filter((n) => n.includes('Tess')).length, 1, `Tess once, with two tabs: ${names}`);
    await waitMemberCount(tab, 2);
    assert.equal((await members(tab)).filter((m) => m.me).length, 1);

    await send(tess.page, 'from tab one');
    await waitForMessage(tab, 'from tab one');
    assert.match(await messageWithText(tab, 'from tab one').getAttribute('class'), /\bmine\b/, 'the other tab’s message is mine');
    await screenshot(tab, 'identity-two-tabs');

    // Closing one tab does not make Tess leave.
    await tab.close();
    await send(watcher.page, 'still there?');
    await waitForMessage(tess.page, 'still there?');
    assert.equal((await members(watcher.page)).filter((m) => m.text.includes('Tess')).length, 1);

    // Another device with Tess's key but no storage of its own: session names her rooms.
    const key = await tess.page.evaluate(() => localStorage.getItem('rtchat.userKey'));
    const device = await person(PHONE);
    await device.context.addInitScript((k) => {
      if (!localStorage.getItem('rtchat.userKey')) localStorage.setItem('rtchat.userKey', k);
    }, key);
    await enter(device.page, `${server.url}/`, 'Some other name');
    await device.page.getByTestId('menu').click();
    for (const r of ['twotabs', privateId]) {
      await device.page.waitForSelector(`[data-testid=room-item][data-room="${r}"][data-joined]`);
    }
    await device.page.waitForFunction(() => document.querySelector('[data-testid=my-name]')?.textContent === 'Tess');
    await screenshot(device.page, 'identity-other-device');
    await device.page.keyboard.press('Escape');
    await openRoom(device.page, privateId);
    await send(device.page, 'from Tess’s phone');
    // Tess's first page is in the private room too, and knows the message for hers.
    await tess.page.locator(`[data-testid=room-item][data-room="${privateId}"]`).click();
    await waitForMessage(tess.page, 'from Tess’s phone');
    assert.match(await messageWithText(tess.page, 'from Tess’s phone').getAttribute('class'), /\bmine\b/);
  });
});

test('the creator deletes a room after confirming; everyone in it is moved out with a notice', async () => {
  await scenario(async ({ server, person }) => {
    const owner = await person(DESKTOP);
    const guest = await person(DESKTOP);
    await enter(owner.page, `${server.url}/`, 'Olga');
    await owner.page.getByTestId('create-room-name').fill('short-lived');
    await owner.page.getByTestId('create-room-submit').click();
    await owner.page.waitForFunction(() => location.hash === '#room=short-lived');
    await owner.page.waitForSelector('[data-testid=composer]:not([disabled])');

    await enter(guest.page, `${server.url}/#room=lobby`, 'Gil');
    await openRoom(guest.page, 'short-lived');
    assert.equal(await guest.page.getByTestId('delete-room').count(), 0, 'only the creator may delete');
    await send(guest.page, 'nice room');
    await waitForMessage(owner.page, 'nice room');

    await owner.page.getByTestId('delete-room').click();
    await owner.page.getByTestId('confirm-dialog').waitFor();
    await screenshot(owner.page, 'identity-delete-room-confirm');
    await owner.page.getByTestId('confirm').click();

    for (const p of [owner, guest]) {
      await p.page.waitForFunction(() => location.hash === '#room=lobby');
      await p.page.waitForFunction(
        () => !document.querySelector('[data-testid=room-item][data-room=short-lived][data-joined]'),
      );
    }
    assert.match(await guest.page.getByTestId('error').textContent(), /short-lived was deleted/);
    await screenshot(guest.page, 'identity-room-deleted');
  });
});
