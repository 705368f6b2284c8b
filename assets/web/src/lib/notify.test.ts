import { describe, expect, it } from 'vitest';
import { BODY_MAX, notificationContent, notifySupport, planAlerts, roomTitle, tabTitle, truncate } from './notify';

describe('when a message raises alerts', () => {
  const fromOther = { mine: false, joined: true };
  const allOn = { hidden: true, notify: true, sound: true };

  it('raises every alert turned on for someone else’s message while the page is hidden', () => {
    expect(planAlerts(fromOther, allOn)).toEqual({ notification: true, sound: true, vibrate: true });
  });

  it('raises nothing while the page is visible, for one’s own message, or outside the room', () => {
    const none = { notification: false, sound: false, vibrate: false };
    expect(planAlerts(fromOther, { ...allOn, hidden: false })).toEqual(none);
    expect(planAlerts({ mine: true, joined: true }, allOn)).toEqual(none);
    expect(planAlerts({ mine: false, joined: false }, allOn)).toEqual(none);
  });

  it('raises only what the person turned on, and vibrates with either', () => {
    expect(planAlerts(fromOther, { hidden: true, notify: true, sound: false })).toEqual({
      notification: true,
      sound: false,
      vibrate: true,
    });
    expect(planAlerts(fromOther, { hidden: true, notify: false, sound: true })).toEqual({
      notification: false,
      sound: true,
      vibrate: true,
    });
    expect(planAlerts(fromOther, { hidden: true, notify: false, sound: false })).toEqual({
      notification: false,
      sound: false,
      vibrate: false,
    });
  });
});

describe('whether the page can notify', () => {
  it('needs a secure context: a LAN address over http is not one', () => {
    expect(notifySupport({ isSecureContext: false, hasNotification: true })).toBe('insecure');
    expect(notifySupport({ isSecureContext: false, hasNotification: false })).toBe('insecure');
  });

  it('needs the Notification API', () => {
    expect(notifySupport({ isSecureContext: true, hasNotification: false })).toBe('unsupported');
    expect(notifySupport({ isSecureContext: true, hasNotification: true })).toBe('ok');
  });
});

describe('what a notification says', () => {
  it('names the room as the title: #id when public, the name when private', () => {
    expect(roomTitle({ id: 'lobby', private: false })).toBe('#lobby');
    expect(roomTitle({ id: 'p-abcdefghijklmnop', private: true, name: 'secret-planning' })).toBe('secret-planning');
    expect(roomTitle({ id: 'p-abcdefghijklmnop', private: true })).toBe('p-abcdefghijklmnop');
  });

  it('says who wrote what, on one line, with one tag per room', () => {
    const m = { room: { id: 'team', private: false }, author: 'Ann', text: 'lunch?\n\n  at noon' };
    expect(notificationContent(m)).toEqual({ title: '#team', body: 'Ann: lunch? at noon', tag: 'rtchat-room:team' });
    expect(notificationContent({ ...m, text: 'other' }).tag).toBe(notificationContent(m).tag);
    expect(notificationContent({ ...m, room: { id: 'other', private: false } }).tag).not.toBe(notificationContent(m).tag);
  });

  it('cuts a long text to BODY_MAX characters ending in an ellipsis', () => {
    const body = notificationContent({ room: { id: 'r', private: false }, author: 'Bo', text: 'x'.repeat(500) }).body;
    expect(Array.from(body)).toHaveLength(BODY_MAX);
    expect(body.startsWith('Bo: xxx')).toBe(true);
    expect(body.endsWith('x…')).toBe(true);
  });

  it('truncates by characters, never splitting an emoji, and leaves short text alone', () => {
    expect(truncate('🎉🎉🎉🎉', 3)).toBe('🎉🎉…');
    expect(truncate('🎉🎉🎉', 3)).toBe('🎉🎉🎉');
    expect(truncate('a   b ', 10)).toBe('a b');
    expect(truncate('word  and more', 6)).toBe('word…');
  });
});

describe('the tab title', () => {
  it('leads with the unread count, and has none when all is read', () => {
    expect(tabTitle('#lobby', 3)).toBe('(3) #lobby · rtchat');
    expect(tabTitle('secret-planning', 0)).toBe('secret-planning · rtchat');
  });
});
