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
