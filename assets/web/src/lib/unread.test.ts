import { describe, expect, it } from 'vitest';
import { NO_UNREAD, countIncoming, mentions, totalUnread } from './unread';

describe('mentions', () => {
  it('finds @name in any case, at word boundaries', () => {
    expect(mentions('hey @sam, lunch?', 'Sam')).toBe(true);
    expect(mentions('@SAM', 'Sam')).toBe(true);
    expect(mentions('(@sam)', 'Sam')).toBe(true);
    expect(mentions('ping @Sam.', 'Sam')).toBe(true);
  });

  it('does not take a longer name or an address for a mention', () => {
    expect(mentions('hi @samantha', 'Sam')).toBe(false);
    expect(mentions('mail sam@sam.io', 'sam')).toBe(false);
    expect(mentions('hi sam', 'Sam')).toBe(false);
    expect(mentions('@sam_2 is here', 'Sam')).toBe(false);
  });

  it('matches names with spaces, symbols and other scripts literally', () => {
    expect(mentions('thanks @Ann Smith!', 'Ann Smith')).toBe(true);
    expect(mentions('thanks @Ann Smithers', 'Ann Smith')).toBe(false);
    expect(mentions('cc @a.b+c', 'a.b+c')).toBe(true);
    expect(mentions('cc @aXb+c', 'a.b+c')).toBe(false);
    expect(mentions('привет @Юля', 'юля')).toBe(true);
    expect(mentions('привет @Юляна', 'юля')).toBe(false);
  });

  it('never matches an empty name', () => {
    expect(mentions('@ hello', '')).toBe(false);
    expect(mentions('@ hello', '  ')).toBe(false);
  });
});

describe('countIncoming', () => {
  const info = { mine: false, mention: false, roomIsOpen: false };

  it('counts messages in a room the reader is not looking at', () => {
    let u = countIncoming(NO_UNREAD, info, true);
    u = countIncoming(u, { ...info, mention: true }, true);
    expect(u).toEqual({ messages: 2, mentions: 1 });
  });

  it('does not count the room on screen while the page is visible', () => {
    expect(countIncoming(NO_UNREAD, { ...info, roomIsOpen: true }, true)).toBe(NO_UNREAD);
  });

  it('counts the room on screen while the page is hidden', () => {
    expect(countIncoming(NO_UNREAD, { ...info, roomIsOpen: true, mention: true }, false)).toEqual({
      messages: 1,
      mentions: 1,
    });
  });

  it('never counts own messages', () => {
    expect(countIncoming(NO_UNREAD, { ...info, mine: true }, false)).toBe(NO_UNREAD);
  });
});

describe('totalUnread', () => {
  it('adds rooms up', () => {
    expect(totalUnread([{ messages: 2, mentions: 1 }, NO_UNREAD, { messages: 3, mentions: 0 }])).toEqual({
      messages: 5,
      mentions: 1,
    });
    expect(totalUnread([])).toEqual(NO_UNREAD);
  });
});
