// A room's message timeline: the server's messages in id order, each once,
// followed by this client's own messages that the server has not confirmed
// yet. Pure functions over immutable values, so React can compare by identity
// and tests can drive it without a socket.

import { messageFiles } from './files';
import type { ChatError, FileInfo, Message, User } from './protocol';

export type DeliveryState = 'sending' | 'sent' | 'failed';

export interface TimelineItem {
  /** Stable across the sending -> sent transition, for React keys. */
  key: string;
  /** The server's id; absent until the server has stored the message. */
  id?: string;
  clientId?: string;
  room: string;
  user: User;
  text: string;
  ts: number;
  state: DeliveryState;
  /** Why the last attempt to send failed. */
  error?: ChatError;
  /** When the text was last edited (ms since the epoch); absent if never. */
  edited?: number;
  /** Deleted by its author: `text` is empty. */
  deleted?: boolean;
  /** Attached files; absent when none, and once deleted. */
  files?: readonly FileInfo[];
}

export interface Timeline {
  /** Stored messages, strictly increasing by id. */
  readonly confirmed: readonly TimelineItem[];
  /** Own messages not stored yet (sending or failed), oldest first. */
  readonly pending: readonly TimelineItem[];
}

export const EMPTY_TIMELINE: Timeline = { confirmed: [], pending: [] };

/** Message ids are fixed-width strings: plain string order is delivery order. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Everything to show, in display order. */
export function timelineItems(t: Timeline): TimelineItem[] {
  return t.pending.length === 0 ? (t.confirmed as TimelineItem[]) : [...t.confirmed, ...t.pending];
}

/** The newest stored id, the cursor for `history` `after`. */
export function newestId(t: Timeline): string | undefined {
  return t.confirmed.length ? t.confirmed[t.confirmed.length - 1].id : undefined;
}

/** The oldest stored id, the cursor for `history` `before`. */
export function oldestId(t: Timeline): string | undefined {
  return t.confirmed.length ? t.confirmed[0].id : undefined;
}

function fromMessage(m: Message, key: string): TimelineItem {
  const item: TimelineItem = {
    key,
    id: m.id,
    clientId: m.clientId,
    room: m.room,
    user: m.user,
    text: m.deleted ? '' : m.text,
    ts: m.ts,
    state: 'sent',
  };
  if (typeof m.edited === 'number') item.edited = m.edited;
  if (m.deleted === true) item.deleted = true;
  const files = m.deleted ? [] : messageFiles(m.files);
  if (files.length) item.files = files;
  return item;
}

/**
 * Whether `update` is a newer state of the message than `held`: a deletion
 * always is (unless `held` is deleted already); an edit is when its `edited`
 * time is later than the one held. Anything else is an old or repeated copy.
 */
export function isNewer(update: Pick<Message, 'edited' | 'deleted'>, held: Pick<TimelineItem, 'edited' | 'deleted'>): boolean {
  if (held.deleted) return false;
  if (update.deleted === true) return true;
  return typeof update.edited === 'number' && update.edited > (held.edited ?? 0);
}

/**
 * Applies a `message:update` (or any copy of a stored message in its current
 * state) to the message with its id, if the update is newer. A message not
 * in the timeline is left out: history brings it in its current state. An
 * edit changes only the text, so an edit that does not list the files keeps
 * those held; a deletion drops them.
 */
export function applyUpdate(t: Timeline, m: Message): Timeline {
  if (!m || typeof m.id !== 'string') return t;
  const i = t.confirmed.findIndex((item) => item.id === m.id);
  if (i < 0 || !isNewer(m, t.confirmed[i])) return t;
  const confirmed = [...t.confirmed];
  const held = confirmed[i].files;
  confirmed[i] = fromMessage(m, confirmed[i].key);
  if (held && !m.deleted && m.files === undefined) confirmed[i].files = held;
  return { confirmed, pending: t.pending };
}

/** The messages among `messages` whose ids `t` does not hold yet. */
export function unseenMessages(t: Timeline, messages: readonly Message[]): Message[] {
  if (messages.length === 0) return [];
  const known = new Set<string>();
  for (const item of t.confirmed) known.add(item.id!);
  return messages.filter((m) => m && typeof m.id === 'string' && !known.has(m.id));
}

/**
 * Adds stored messages (a live `message:new`, an ack, a page of history, a
 * catch-up page; any order, overlaps allowed). A message whose id is already
 * there updates it if it is a newer state (`isNewer`) and is otherwise
 * dropped; one that confirms an own pending message replaces it and keeps its
 * key.
 */
export function mergeMessages(t: Timeline, messages: readonly Message[]): Timeline {
  if (messages.length === 0) return t;
  const known = new Set<string>();
  for (const item of t.confirmed) known.add(item.id!);
  let base = t;
  for (const m of messages) if (m && known.has(m.id)) base = applyUpdate(base, m);

  let pending = base.pending;
  const added: TimelineItem[] = [];
  for (const m of messages) {
    if (!m || typeof m.id !== 'string' || known.has(m.id)) continue;
    known.add(m.id);
    let key = `m:${m.id}`;
    if (m.clientId) {
      const i = pending.findIndex((p) => p.clientId === m.clientId);
      if (i >= 0) {
        key = pending[i].key;
        pending = [...pending.slice(0, i), ...pending.slice(i + 1)];
      }
    }
    added.push(fromMessage(m, key));
  }
  if (added.length === 0) return pending === base.pending ? base : { confirmed: base.confirmed, pending };

  added.sort((a, b) => compareIds(a.id!, b.id!));
  const old = base.confirmed;
  let confirmed: TimelineItem[];
  if (old.length === 0 || compareIds(old[old.length - 1].id!, added[0].id!) < 0) {
    confirmed = [...old, ...added]; // the usual case: newer than everything
  } else if (compareIds(added[added.length - 1].id!, old[0].id!) < 0) {
    confirmed = [...added, ...old]; // an older page of history
  } else {
    confirmed = [...old, ...added].sort((a, b) => compareIds(a.id!, b.id!));
  }
  return { confirmed, pending };
}

/** Shows an own message at once, before the server has it, with the files (already uploaded) it carries. */
export function addPending(
  t: Timeline,
  p: { clientId: string; room: string; user: User; text: string; ts: number; files?: readonly FileInfo[] },
): Timeline {
  const { files, ...rest } = p;
  const item: TimelineItem = { key: `c:${p.clientId}`, ...rest, state: 'sending' };
  if (files?.length) item.files = files;
  return { confirmed: t.confirmed, pending: [...t.pending, item] };
}

function updatePending(t: Timeline, clientId: string, f: (p: TimelineItem) => TimelineItem): Timeline {
  const i = t.pending.findIndex((p) => p.clientId === clientId);
  if (i < 0) return t;
  const pending = [...t.pending];
  pending[i] = f(pending[i]);
  return { confirmed: t.confirmed, pending };
}

export function markFailed(t: Timeline, clientId: string, error: ChatError): Timeline {
  return updatePending(t, clientId, (p) => ({ ...p, state: 'failed', error }));
}

export function markSending(t: Timeline, clientId: string): Timeline {
  return updatePending(t, clientId, (p) => ({ ...p, state: 'sending', error: undefined }));
}

export function findPending(t: Timeline, clientId: string): TimelineItem | undefined {
  return t.pending.find((p) => p.clientId === clientId);
}
