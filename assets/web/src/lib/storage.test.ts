import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/** A Map-backed localStorage, or one that throws on every access. */
function fakeStorage(broken = false): Storage {
  const data = new Map<string, string>();
  const fail = () => {
    throw new Error('storage disabled');
  };
  return {
    get length() {
      return data.size;
    },
    clear: () => (broken ? fail() : data.clear()),
    getItem: (k) => (broken ? fail() : (data.get(k) ?? null)),
    key: (i) => [...data.keys()][i] ?? null,
    removeItem: (k) => (broken ? fail() : void data.delete(k)),
    setItem: (k, v) => (broken ? fail() : void data.set(k, String(v))),
  };
}

async function freshModule(broken = false) {
  vi.resetModules();
  vi.stubGlobal('window', { localStorage: fakeStorage(broken) });
  return import('./storage');
}

describe('storage.rooms', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('keeps the rooms to rejoin in the order opened, each once', async () => {
    const { storage } = await freshModule();
    storage.setRoom('lobby', true);
    storage.setRoom('books', true);
    storage.setRoom('lobby', true);
    expect(storage.rooms()).toEqual(['lobby', 'books']);
    storage.setRoom('lobby', false);
    expect(storage.rooms()).toEqual(['books']);
  });

  it('keeps what another tab added meanwhile', async () => {
    const { storage } = await freshModule();
    storage.setRoom('mine', true);
    // Another tab of the same browser writes the shared list.
    window.localStorage.setItem('rtchat.rooms', JSON.stringify(['mine', 'theirs']));
    storage.setRoom('third', true);
    expect(storage.rooms()).toEqual(['mine', 'theirs', 'third']);
  });

  it('reads a corrupt list as empty', async () => {
    const { storage } = await freshModule();
    window.localStorage.setItem('rtchat.rooms', '{not json');
    expect(storage.rooms()).toEqual([]);
    window.localStorage.setItem('rtchat.rooms', JSON.stringify(['ok', 5, null]));
    expect(storage.rooms()).toEqual(['ok']);
  });
});

describe('userKey', () => {
  beforeEach(() => vi.unstubAllGlobals());
  afterEach(() => vi.unstubAllGlobals());

  it('makes a base64url key of 32 random bytes once, and keeps it', async () => {
    const { userKey } = await freshModule();
    const key = userKey();
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(userKey()).toBe(key);
    expect(window.localStorage.getItem('rtchat.userKey')).toBe(key);
  });

  it('gives different browsers different keys', async () => {
    const a = (await freshModule()).userKey();
    const b = (await freshModule()).userKey();
    expect(a).not.toBe(b);
  });

  it('replaces a stored value the server would refuse', async () => {
    const { userKey } = await freshModule();
    window.localStorage.setItem('rtchat.userKey', 'too-short');
    expect(userKey()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('keeps one key for the page when storage throws', async () => {
    const { userKey } = await freshModule(true);
    expect(userKey()).toBe(userKey());
  });

  it('stores a handed-over key only when it has the right shape', async () => {
    const { setUserKey, userKey } = await freshModule();
    expect(setUserKey('bad key!')).toBe(false);
    const given = 'A'.repeat(22);
    expect(setUserKey(given)).toBe(true);
    expect(userKey()).toBe(given);
  });
});
