// Unread counts and mentions: which arriving messages a person has not seen
// yet, and which of them call them by name.

/** Unread messages of one room; `mentions` is the part of `messages` that mention the reader. */
export interface Unread {
  messages: number;
  mentions: number;
}

export const NO_UNREAD: Unread = { messages: 0, mentions: 0 };

/** What the client knows about a message as it arrives, for counting and for notifications. */
export interface IncomingInfo {
  /** Sent by this person (the same `User.id`), from this page or another. */
  mine: boolean;
  /** Mentions this person's current name (`@name`), and is not their own. */
  mention: boolean;
  /** The room is the one on screen. The page itself may still be hidden. */
  roomIsOpen: boolean;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Letters, digits and `_`: what continues a word, in any script. */
const WORD = '[\\p{L}\\p{M}\\p{N}_]';

/**
 * Whether `text` mentions `name`: `@name`, in any case, not glued to a word on
 * either side ("hi @sam!" mentions Sam; "@samantha" and "x@sam" do not).
 */
export function mentions(text: string, name: string): boolean {
  const n = name.trim();
  if (!n || !text.includes('@')) return false;
  const re = new RegExp(`(?<!${WORD})@${escapeRegExp(n)}(?!${WORD})`, 'iu');
  return re.test(text.normalize('NFKC'));
}

/**
 * The room's count after a message arrives. It counts when the reader cannot
 * be looking at it: not their own, and the room is not on screen or the page
 * is hidden.
 */
export function countIncoming(unread: Unread, info: IncomingInfo, pageVisible: boolean): Unread {
  if (info.mine || (info.roomIsOpen && pageVisible)) return unread;
  return { messages: unread.messages + 1, mentions: unread.mentions + (info.mention ? 1 : 0) };
}

/** The sum over rooms. */
export function totalUnread(counts: Iterable<Unread>): Unread {
  let messages = 0;
  let mentionsTotal = 0;
  for (const u of counts) {
    messages += u.messages;
    mentionsTotal += u.mentions;
  }
  return { messages, mentions: mentionsTotal };
}
