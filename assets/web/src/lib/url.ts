// Invite links: `<origin>/#room=ROOM&key=KEY&token=TOKEN`. The fragment never
// reaches a server or its logs; the query string is accepted too.

export interface LinkParams {
  room?: string;
  key?: string;
  token?: string;
}

const KEYS = ['room', 'key', 'token'] as const;

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

/** The room, key and token a URL carries; the fragment wins over the query. */
export function readLinkParams(loc: { search: string; hash: string }): LinkParams {
  return { ...pick(new URLSearchParams(loc.search)), ...pick(fragmentParams(loc.hash)) };
}

/** `base` (any URL of the app) with the given parts in its fragment. */
export function buildLink(base: string, params: LinkParams): string {
  const url = new URL(base);
  const frag = new URLSearchParams();
  for (const k of KEYS) {
    const v = params[k];
    if (v) frag.set(k, v);
  }
  url.hash = '';
  const s = frag.toString();
  return s ? `${url.href}#${s}` : url.href;
}

/**
 * The address to show after the link has been read: the same page with the
 * secrets (key, token) removed from query and fragment, and the current room
 * in the fragment so a reload comes back to it.
 */
export function cleanAddress(loc: { pathname: string; search: string; hash: string }, room: string): string {
  const query = new URLSearchParams(loc.search);
  for (const k of KEYS) query.delete(k);
  const frag = fragmentParams(loc.hash);
  for (const k of KEYS) frag.delete(k);
  frag.set('room', room);
  const q = query.toString();
  return `${loc.pathname}${q ? `?${q}` : ''}#${frag.toString()}`;
}
