// Invite links: `<origin>/#room=ROOM&key=KEY&token=TOKEN`. The fragment never
// reaches a server or its logs; the query string is accepted too, except for
// `userKey` (see below).

export interface LinkParams {
  room?: string;
  key?: string;
  token?: string;
  /**
   * A person's identity key ("Open on phone as me"): whoever opens the link
   * chats as that person. Only ever read from and written to the fragment.
   */
  userKey?: string;
}

const KEYS = ['room', 'key', 'token'] as const;
const USER_KEY = 'userKey';
/** The handshake's `auth.userKey`: 22 to 128 base64url characters. */
const USER_KEY_SHAPE = /^[A-Za-z0-9_-]{22,128}$/;

/** Whether `key` has the shape the server accepts as `auth.userKey`. */
export function isValidUserKey(key: string): boolean {
  return USER_KEY_SHAPE.test(key);
}

function pick(params: URLSearchParams): LinkParams {
  const out: LinkParams = {};
  for (const k of KEYS) {
    const v = params.get(k);
    if (v !== null && v !== '') out[k] = v;
  }
  return out;
}

function fragmentParams(hash: string): URLSearchParams {
  return new URLSearchParams(hash.replace(/^#[/?]?/, ''));
}

/**
 * The room, key and token a URL carries (the fragment wins over the query),
 * and a well-formed `userKey` from the fragment alone: one in a query string
 * has already been sent to a server, so it is ignored.
 */
export function readLinkParams(loc: { search: string; hash: string }): LinkParams {
  const frag = fragmentParams(loc.hash);
  const out = { ...pick(new URLSearchParams(loc.search)), ...pick(frag) };
  const userKey = frag.get(USER_KEY);
  return userKey && isValidUserKey(userKey) ? { ...out, userKey } : out;
}

/** `base` (any URL of the app) with the given parts in its fragment. */
export function buildLink(base: string, params: LinkParams): string {
  const url = new URL(base);
  const frag = new URLSearchParams();
  for (const k of KEYS) {
    const v = params[k];
    if (v) frag.set(k, v);
  }
  if (params.userKey) frag.set(USER_KEY, params.userKey);
  url.hash = '';
  const s = frag.toString();
  return s ? `${url.href}#${s}` : url.href;
}

/**
 * The address to show after the link has been read: the same page with the
 * secrets (key, token, userKey) removed from query and fragment, and the
 * current room in the fragment so a reload comes back to it.
 */
export function cleanAddress(loc: { pathname: string; search: string; hash: string }, room: string): string {
  const query = new URLSearchParams(loc.search);
  const frag = fragmentParams(loc.hash);
  for (const k of [...KEYS, USER_KEY]) {
    query.delete(k);
    frag.delete(k);
  }
  frag.set('room', room);
  const q = query.toString();
  return `${loc.pathname}${q ? `?${q}` : ''}#${frag.toString()}`;
}
