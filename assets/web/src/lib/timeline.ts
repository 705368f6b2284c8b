// A room's message timeline: the server's messages in id order, each once,
// followed by this client's own messages that the server has not confirmed
// yet. Pure functions over immutable values, so React can compare by identity
// and tests can drive it without a socket.

import type { ChatError, Message, User } from './protocol';

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
  return {
    key,
    id: m.id,
    clientId: m.clientId,
    room: m.room,
    user: m.user,
    text: m.text,
    ts: m.ts,
    state: 'sent',
  };
}

/**
 * Adds stored messages (a live `message:new`, an ack, a page of history, a
 * catch-up page; any order, overlaps allowed). A message whose id is already
 * there is dropped; one that confirms an own pending message replaces it and
 * keeps its key.
 */
export function mergeMessages(t: Timeline, messages: readonly Message[]): Timeline {
  if (messages.length === 0) return t;
  const known = new Set<string>();
  for (const item of t.confirmed) known.add(item.id!);

  let pending = t.pending;
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
  if (added.length === 0) return pending === t.pending ? t : { confirmed: t.confirmed, pending };

  added.sort((a, b) => compareIds(a.id!, b.id!));
  const old = t.confirmed;
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

/** Shows an own message at once, before the server has it. */
export function addPending(
  t: Timeline,
  p: { clientId: string; room: string; user: User; text: string; ts: number },
): Timeline {
  const item: TimelineItem = { key: `c:${p.clientId}`, ...p, state: 'sending' };
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
