// Joining a room and catching up after a reconnect, written against a bare
// request function so that tests can stand a fake server behind it.

import {
  HISTORY_MAX,
  HISTORY_PAGE,
  type Ack,
  type ChatError,
  type HistoryReply,
  type JoinReply,
  type Message,
} from './protocol';
import { compareIds } from './timeline';

/** Emits one event with a payload and resolves with its ack. Never rejects. */
export type Request = <T>(event: string, payload: unknown, timeoutMs?: number) => Promise<Ack<T>>;

export class RequestError extends Error {
  constructor(readonly error: ChatError) {
    super(error.message);
  }
}

async function ask<T>(request: Request, event: string, payload: unknown): Promise<T> {
  const ack = await request<T>(event, payload);
  if (!ack.ok) throw new RequestError(ack.error);
  return ack;
}

/**
 * Every message newer than `after`, oldest first: `history` with `after`,
 * page by page, until a page comes back shorter than the limit.
 */
export async function fetchAfter(
  request: Request,
  room: string,
  after: string,
  limit = HISTORY_MAX,
): Promise<Message[]> {
  const all: Message[] = [];
  let cursor = after;
  for (;;) {
    const { messages } = await ask<HistoryReply>(request, 'history', { room, after: cursor, limit });
    const page = Array.isArray(messages) ? messages : [];
    all.push(...page);
    if (page.length < limit) return all;
    let next = cursor;
    for (const m of page) if (compareIds(m.id, next) > 0) next = m.id;
    // A server that does not move forward would loop us forever.
    if (next === cursor) return all;
    cursor = next;
  }
}

/** One page of messages older than `before`, and whether there may be more. */
export async function fetchBefore(
  request: Request,
  room: string,
  before: string,
  limit = HISTORY_PAGE,
): Promise<{ messages: Message[]; more: boolean }> {
  const { messages } = await ask<HistoryReply>(request, 'history', { room, before, limit });
  const page = Array.isArray(messages) ? messages : [];
  return { messages: page, more: page.length >= limit };
}

export interface Joined {
  reply: JoinReply;
  /** The join's page of history plus, on a rejoin, everything after `lastSeen`. */
  messages: Message[];
  /** Whether the join's page was full, so older history may exist. */
  hasOlder: boolean;
}

/**
 * Joins `room`. On a rejoin after a reconnect, `lastSeen` is the newest id
 * the client had before the connection dropped: everything after it is
 * fetched too, so nothing between it and the join's latest page is lost.
 */
export async function joinRoom(
  request: Request,
  room: string,
  key: string | undefined,
  lastSeen?: string,
): Promise<Joined> {
  const reply = await ask<JoinReply>(request, 'room:join', key ? { room, key } : { room });
  const history = Array.isArray(reply.history) ? reply.history : [];
  const messages = [...history];
  if (lastSeen !== undefined) messages.push(...(await fetchAfter(request, room, lastSeen)));
  return { reply, messages, hasOlder: history.length >= HISTORY_PAGE };
}

/** Waits `ms` milliseconds. */
export type Wait = (ms: number) => Promise<void>;

const realWait: Wait = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `task`, and runs it again after a pause while it fails with
 * `rate_limited` (the server allows about 10 requests a second, so rejoining
 * many rooms at once can hit it), at most `pauses.length` times. Any other
 * failure, and the last `rate_limited`, is thrown.
 */
export async function retryRateLimited<T>(
  task: () => Promise<T>,
  pauses: readonly number[] = [1_000, 2_000, 3_000, 5_000],
  wait: Wait = realWait,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await task();
    } catch (e) {
      const limited = e instanceof RequestError && e.error.code === 'rate_limited';
      if (!limited || attempt >= pauses.length) throw e;
      await wait(pauses[attempt]);
    }
  }
}
