// What the browser remembers between visits. localStorage can be missing or
// throw (private modes, full quota): every access is best effort.

const NAME = 'rtchat.name';
const TOKEN = 'rtchat.token';
const KEYS = 'rtchat.keys';

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
};

// --- identity key and alert choices -------------------------------------------

const USER_KEY = 'rtchat.userKey';
const NOTIFY = 'rtchat.notify';
const SOUND = 'rtchat.sound';

/** 16 random bytes as base64url: 22 characters, the shortest `auth.userKey` the server takes. */
function newUserKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** This browser's identity key (`auth.userKey`), if it has one yet. */
export function storedUserKey(): string | undefined {
  return get(USER_KEY) || undefined;
}

/**
 * This browser's identity key, made on first use. It is the person: whoever
 * holds it chats as them.
 */
export function userKey(): string {
  const known = storedUserKey();
  if (known) return known;
  const made = newUserKey();
  set(USER_KEY, made);
  return made;
}

/** Makes `key` this browser's identity from now on, replacing its own ("Open on phone as me"). */
export function setUserKey(key: string): void {
  set(USER_KEY, key);
}

/** Whether to raise notifications, sound and vibration for messages that arrive while the page is hidden. Off until chosen. */
export const alertPrefs = {
  notify: () => get(NOTIFY) === 'on',
  setNotify: (on: boolean) => set(NOTIFY, on ? 'on' : null),
  sound: () => get(SOUND) === 'on',
  setSound: (on: boolean) => set(SOUND, on ? 'on' : null),
};
