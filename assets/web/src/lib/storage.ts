// What the browser remembers between visits. localStorage can be missing or
// throw (private modes, full quota): every access is best effort.

const NAME = 'rtchat.name';
const TOKEN = 'rtchat.token';
const KEYS = 'rtchat.keys';
const USER_KEY = 'rtchat.userKey';
const ROOMS = 'rtchat.rooms';

/** The shape the server accepts for `auth.userKey`: 22 to 128 base64url characters. */
const USER_KEY_SHAPE = /^[A-Za-z0-9_-]{22,128}$/;

function get(k: string): string | null {
  try {
    return window.localStorage.getItem(k);
  } catch {
    return null;
  }
}

function set(k: string, v: string | null): void {
  try {
    if (v === null) window.localStorage.removeItem(k);
    else window.localStorage.setItem(k, v);
  } catch {
    // Not remembered; the app still works for this visit.
  }
}

/** 32 random bytes as unpadded base64url (43 characters). */
export function newUserKey(): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The key of this page's life, for browsers that cannot store one. */
let unstoredKey: string | null = null;

/**
 * This browser's identity secret for `auth.userKey` (localStorage
 * `rtchat.userKey`): the stored one, or a new one that is stored first. Every
 * call returns the same key; where storage is unavailable that holds for the
 * page's life only.
 */
export function userKey(): string {
  const stored = get(USER_KEY);
  if (stored && USER_KEY_SHAPE.test(stored)) return stored;
  unstoredKey ??= newUserKey();
  set(USER_KEY, unstoredKey);
  return unstoredKey;
}

/** Stores `key` as this browser's identity (for a key handed over by a link); false if it is malformed. */
export function setUserKey(key: string): boolean {
  if (!USER_KEY_SHAPE.test(key)) return false;
  set(USER_KEY, key);
  return true;
}

export const storage = {
  name: () => get(NAME) ?? '',
  setName: (v: string) => set(NAME, v),
  token: () => get(TOKEN) ?? '',
  setToken: (v: string | null) => set(TOKEN, v || null),
  /** Keys of private rooms this browser has been let into, by room id. */
  keys(): Record<string, string> {
    try {
      const parsed: unknown = JSON.parse(get(KEYS) ?? '{}');
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        const out: Record<string, string> = {};
        for (const [room, key] of Object.entries(parsed)) if (typeof key === 'string') out[room] = key;
        return out;
      }
    } catch {
      // Corrupt: start over.
    }
    return {};
  },
  setKey(room: string, key: string | null): void {
    const keys = storage.keys();
    if (key) keys[room] = key;
    else delete keys[room];
    set(KEYS, JSON.stringify(keys));
  },
  /** The rooms this browser stays in until the person leaves them, in the order they were opened. */
  rooms(): string[] {
    try {
      const parsed: unknown = JSON.parse(get(ROOMS) ?? '[]');
      if (Array.isArray(parsed)) return [...new Set(parsed.filter((r): r is string => typeof r === 'string'))];
    } catch {
      // Corrupt: start over.
    }
    return [];
  },
  /**
   * Adds a room to `rooms()` or takes one out. Each change re-reads the list,
   * so that tabs sharing it add and remove their own rooms without undoing
   * each other's.
   */
  setRoom(room: string, stay: boolean): void {
    const rooms = storage.rooms();
    if (rooms.includes(room) === stay) return;
    set(ROOMS, JSON.stringify(stay ? [...rooms, room] : rooms.filter((r) => r !== room)));
  },
};

// --- alert choices ---------------------------------------------------------------

const NOTIFY = 'rtchat.notify';
const SOUND = 'rtchat.sound';

/** Whether to raise notifications, sound and vibration for messages that arrive while the page is hidden. Off until chosen. */
export const alertPrefs = {
  notify: () => get(NOTIFY) === 'on',
  setNotify: (on: boolean) => set(NOTIFY, on ? 'on' : null),
  sound: () => get(SOUND) === 'on',
  setSound: (on: boolean) => set(SOUND, on ? 'on' : null),
};
