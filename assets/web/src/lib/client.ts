// The chat client: one Socket.IO connection to this page's own origin, the
// state of the room on screen, and every protocol rule (acks, catch-up after
// reconnect, retries with the same clientId, typing throttling). React reads
// its immutable snapshots through `subscribe`/`getState`.

import { io, type Socket } from 'socket.io-client';
import { fetchInfo } from './api';
import { describeError } from './errors';
import { newClientId } from './ids';
import {
  DEFAULT_MAX_MESSAGE_LEN,
  createdRoomId,
  type Ack,
  type ChatError,
  type ChatErrorEvent,
  type CreateReply,
  type Message,
  type PresenceEvent,
  type RoomSummary,
  type RoomsReply,
  type SendReply,
  type ServerInfo,
  type TypingEvent,
  type User,
} from './protocol';
import { storage, storedUserKey } from './storage';
import { RequestError, fetchBefore, joinRoom, type Request } from './sync';
import {
  EMPTY_TIMELINE,
  addPending,
  findPending,
  markFailed,
  markSending,
  mergeMessages,
  newestId,
  oldestId,
  type Timeline,
  type TimelineItem,
} from './timeline';

export type ConnState = 'connected' | 'reconnecting' | 'disconnected';

export interface Connection {
  state: ConnState;
  /** `websocket` or `polling` while connected. */
  transport: string | null;
  /** Round trip of the last `rooms:list`, in milliseconds. */
  latencyMs: number | null;
  /** False until the first successful connect: "connecting" rather than "reconnecting". */
  everConnected: boolean;
  /** The server refused the connection for a missing or wrong token. */
  unauthorized: boolean;
}

export interface TypingUser {
  user: User;
  until: number;
}

export interface RoomView {
  id: string;
  private: boolean;
  /** A private room's display name, once joined. */
  name?: string;
  status: 'joining' | 'joined' | 'refused';
  error?: ChatError;
  timeline: Timeline;
  members: User[];
  typing: TypingUser[];
  hasOlder: boolean;
  loadingOlder: boolean;
}

export interface Notice {
  id: number;
  text: string;
}

export interface ChatState {
  name: string;
  token: string;
  me: User | null;
  conn: Connection;
  rooms: RoomSummary[];
  /** Keys of private rooms this browser may enter. */
  keys: Record<string, string>;
  room: RoomView;
  notice: Notice | null;
  /** The latest incoming message from someone else, for the aria-live region. */
  announcement: { seq: number; text: string };
  info: ServerInfo | null;
}

const ACK_TIMEOUT_MS = 10_000;
const PING_EVERY_MS = 5_000;
const TYPING_RESEND_MS = 3_000;
const TYPING_IDLE_MS = 4_000;
/**
 * The server announces only changes: one "started", then "stopped" when the
 * typist stops, sends, leaves, disconnects or lets it lapse (5 s unrenewed).
 * So a typist shows until "stopped"; this only bounds a "stopped" that a
 * dropped connection lost.
 */
const TYPING_SHOW_MS = 60_000;

function newRoomView(id: string, isPrivate: boolean): RoomView {
  return {
    id,
    private: isPrivate,
    status: 'joining',
    timeline: EMPTY_TIMELINE,
    members: [],
    typing: [],
    hasOlder: false,
    loadingOlder: false,
  };
}

function sameUser(a: User, b: User): boolean {
  return a.id === b.id;
}

export interface ClientOptions {
  name: string;
  token: string;
  room: string;
}

export class ChatClient {
  private state: ChatState;
  private readonly listeners = new Set<() => void>();
  private socket: Socket | null = null;
  private joinSeq = 0;
  private noticeSeq = 0;
  private ownClientIds = new Set<string>();
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private roomsTimer: ReturnType<typeof setTimeout> | undefined;
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  private typingPrune: ReturnType<typeof setTimeout> | undefined;
  private typingSentAt = 0;
  private typingSent = false;
  /** The clientId of the own message awaiting its ack, if any. */
  private inFlight: string | null = null;

  constructor(opts: ClientOptions) {
    const keys = storage.keys();
    this.state = {
      name: opts.name,
      token: opts.token,
      me: null,
      conn: { state: 'reconnecting', transport: null, latencyMs: null, everConnected: false, unauthorized: false },
      rooms: [],
      keys,
      room: newRoomView(opts.room, opts.room in keys),
      notice: null,
      announcement: { seq: 0, text: '' },
      info: null,
    };
  }

  // --- store plumbing -----------------------------------------------------

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getState = (): ChatState => this.state;

  private set(patch: Partial<ChatState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }

  private setConn(patch: Partial<Connection>): void {
    this.set({ conn: { ...this.state.conn, ...patch } });
  }

  /** Updates the room view, unless the person has moved to another room meanwhile. */
  private setRoom(id: string, f: (v: RoomView) => Partial<RoomView>): void {
    const v = this.state.room;
    if (v.id !== id) return;
    this.set({ room: { ...v, ...f(v) } });
  }

  private notify(text: string): void {
    this.set({ notice: { id: ++this.noticeSeq, text } });
  }

  dismissNotice = (): void => this.set({ notice: null });

  /** The largest message the server takes, in characters. */
  maxLen(): number {
    return this.state.info?.limits?.max_message_len || DEFAULT_MAX_MESSAGE_LEN;
  }

  isMine(item: Pick<TimelineItem, 'user' | 'clientId'>): boolean {
    const me = this.state.me;
    if (me && item.user.id === me.id) return true;
    if (item.clientId && this.ownClientIds.has(item.clientId)) return true;
    return item.user.name === this.state.name;
  }

  // --- connection -----------------------------------------------------------

  start(): void {
    if (this.socket) return;
    void this.loadInfo();
    const socket = io({
      // A function, so that every reconnect sends the current name, token and identity key.
      auth: (cb) =>
        cb({ name: this.state.name, token: this.state.token || undefined, v: 1, userKey: storedUserKey() }),
      transports: ['websocket', 'polling'],
      // Fall back to long-polling where WebSockets are blocked (some proxies).
      tryAllTransports: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 3_000,
    });
    this.socket = socket;

    socket.on('connect', () => this.onConnect());
    document.addEventListener('visibilitychange', this.onVisible);
    socket.on('disconnect', (reason) => {
      this.stopPing();
      this.inFlight = null;
      this.typingSent = false;
      // The server names users by connection: the next one gets a new id.
      this.set({ me: null });
      this.setRoom(this.state.room.id, () => ({ typing: [] }));
      this.setConn({
        state: reason === 'io client disconnect' ? 'disconnected' : 'reconnecting',
        transport: null,
      });
    });
    socket.on('connect_error', (err) => {
      if (err.message === 'unauthorized') {
        this.setConn({ state: 'disconnected', unauthorized: true, transport: null });
      } else {
        this.setConn({ state: socket.active ? 'reconnecting' : 'disconnected', transport: null });
      }
    });
    socket.io.on('reconnect_attempt', () => this.setConn({ state: 'reconnecting' }));

    socket.on('message:new', (m: Message) => this.onMessage(m));
    socket.on('presence:join', (e: PresenceEvent) => this.onPresence(e, true));
    socket.on('presence:leave', (e: PresenceEvent) => this.onPresence(e, false));
    socket.on('typing', (e: TypingEvent) => this.onTyping(e));
    socket.on('chat:error', (e: ChatErrorEvent) => {
      // A lost typing signal is not worth interrupting anyone for.
      if (e && typeof e === 'object' && e.event !== 'typing') {
        this.notify(describeError({ code: e.code, message: e.message }));
      }
    });
  }

  stop(): void {
    document.removeEventListener('visibilitychange', this.onVisible);
    this.stopPing();
    clearTimeout(this.roomsTimer);
    clearTimeout(this.typingTimer);
    clearTimeout(this.typingPrune);
    this.socket?.disconnect();
    this.socket = null;
  }

  private async loadInfo(): Promise<void> {
    const res = await fetchInfo(this.state.token);
    if (res.ok) this.set({ info: res.info });
  }

  private onConnect(): void {
    const socket = this.socket!;
    const engine = socket.io.engine;
    const rejoin = this.state.conn.everConnected;
    this.setConn({
      state: 'connected',
      transport: engine.transport.name,
      everConnected: true,
      unauthorized: false,
    });
    engine.on('upgrade', (t: { name: string }) => this.setConn({ transport: t.name }));
    void this.join(this.state.room.id, rejoin);
    void this.refreshRooms();
    this.startPing();
    if (!this.state.info) void this.loadInfo();
  }

  /** Emits `event` and resolves with its ack, a timeout, or a lost connection. */
  private request: Request = <T>(event: string, payload: unknown, timeoutMs = ACK_TIMEOUT_MS) =>
    new Promise<Ack<T>>((resolve) => {
      const socket = this.socket;
      if (!socket || !socket.connected) {
        resolve({ ok: false, error: { code: 'disconnected', message: 'not connected' } });
        return;
      }
      socket.timeout(timeoutMs).emit(event, payload, (err: Error | null, reply: unknown) => {
        if (err) {
          const code = socket.connected ? 'timeout' : 'disconnected';
          resolve({ ok: false, error: { code, message: err.message } });
        } else if (reply && typeof reply === 'object' && 'ok' in reply) {
          resolve(reply as Ack<T>);
        } else {
          resolve({ ok: false, error: { code: 'bad_request', message: 'unexpected reply from the server' } });
        }
      });
    });

  /** Sets the name and token used from now on and reconnects with them. */
  reconnectAs(patch: { name?: string; token?: string }): void {
    if (patch.name !== undefined) {
      storage.setName(patch.name);
      this.set({ name: patch.name, me: null });
    }
    if (patch.token !== undefined) {
      storage.setToken(patch.token);
      this.set({ token: patch.token });
      void this.loadInfo();
    }
    const socket = this.socket;
    if (!socket) return;
    if (socket.connected) socket.disconnect();
    this.setConn({ state: 'reconnecting', unauthorized: false });
    socket.connect();
  }

  // --- rooms ----------------------------------------------------------------

  /** Makes `id` the room on screen, leaving the previous one. */
  switchRoom(id: string, key?: string): void {
    if (key) this.rememberKey(id, key);
    const old = this.state.room;
    if (old.id === id && old.status !== 'refused') return;
    this.stopTyping();
    if (old.status === 'joined' && old.id !== id) void this.request('room:leave', { room: old.id });
    this.inFlight = null;
    this.set({ room: newRoomView(id, id in this.state.keys) });
    if (this.socket?.connected) void this.join(id, false);
  }

  private rememberKey(room: string, key: string): void {
    storage.setKey(room, key);
    this.set({ keys: { ...this.state.keys, [room]: key } });
  }

  private async join(id: string, rejoin: boolean): Promise<void> {
    const seq = ++this.joinSeq;
    const view = this.state.room;
    if (view.id !== id) return;
    const lastSeen = rejoin ? newestId(view.timeline) : undefined;
    if (!rejoin || view.status === 'refused') this.setRoom(id, () => ({ status: 'joining', error: undefined }));
    try {
      const joined = await joinRoom(this.request, id, this.state.keys[id], lastSeen);
      if (seq !== this.joinSeq) return;
      const { reply } = joined;
      this.setRoom(id, (v) => ({
        status: 'joined',
        private: !!reply.room?.private,
        name: typeof reply.room?.name === 'string' ? reply.room.name : undefined,
        error: undefined,
        members: Array.isArray(reply.members) ? dedupeUsers(reply.members) : [],
        timeline: mergeMessages(v.timeline, joined.messages),
        hasOlder: v.timeline.confirmed.length > 0 && rejoin ? v.hasOlder : joined.hasOlder,
      }));
      this.scheduleRooms(0);
      void this.pump();
    } catch (e) {
      if (seq !== this.joinSeq) return;
      const error = e instanceof RequestError ? e.error : { code: 'unavailable', message: String(e) };
      if (error.code === 'disconnected') return; // joined again on reconnect
      // A private room answers a missing or wrong key as if it did not exist.
      if ((error.code === 'forbidden' || error.code === 'not_found') && this.state.keys[id]) {
        // A key that no longer works is of no use; forget it.
        storage.setKey(id, null);
        const keys = { ...this.state.keys };
        delete keys[id];
        this.set({ keys });
      }
      this.setRoom(id, () => ({ status: 'refused', error }));
      this.notify(describeError(error, 'join'));
    }
  }

  /** Creates a room and moves into it. Resolves with the new room, or the reason it failed. */
  async createRoom(
    name: string,
    isPrivate: boolean,
  ): Promise<{ ok: true; room: string; key?: string } | { ok: false; message: string }> {
    // A private room's id is the server's; what the person typed is its name.
    const payload = isPrivate
      ? name ? { private: true, name } : { private: true }
      : name ? { room: name, private: false } : { private: false };
    const ack = await this.request<CreateReply>('room:create', payload);
    if (!ack.ok) return { ok: false, message: describeError(ack.error, 'create') };
    const room = createdRoomId(ack);
    const key = typeof ack.key === 'string' && ack.key ? ack.key : undefined;
    this.switchRoom(room, key);
    this.scheduleRooms(0);
    return { ok: true, room, key };
  }

  private scheduleRooms(delay = 300): void {
    clearTimeout(this.roomsTimer);
    this.roomsTimer = setTimeout(() => void this.refreshRooms(), delay);
  }

  /**
   * Fetches the room list; its round trip is the latency the badge shows. A
   * connection that cannot answer it in time is dead even if nothing said so
   * (a phone back from sleep, a dropped Wi-Fi): it is closed, so that the
   * client reconnects and catches up.
   */
  async refreshRooms(timeoutMs = ACK_TIMEOUT_MS): Promise<void> {
    const t0 = performance.now();
    const ack = await this.request<RoomsReply>('rooms:list', {}, timeoutMs);
    if (!ack.ok) {
      if (ack.error.code === 'timeout' && this.socket?.connected) this.socket.io.engine?.close();
      return;
    }
    const latencyMs = Math.max(1, Math.round(performance.now() - t0));
    this.set({ rooms: Array.isArray(ack.rooms) ? ack.rooms : [] });
    this.setConn({ latencyMs });
  }

  private onVisible = (): void => {
    if (document.visibilityState === 'visible' && this.socket?.connected) void this.refreshRooms(4_000);
  };

  private startPing(): void {
    this.stopPing();
    this.pingTimer = setInterval(() => void this.refreshRooms(), PING_EVERY_MS);
  }

  private stopPing(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  // --- messages ---------------------------------------------------------------

  private onMessage(m: Message): void {
    if (!m || typeof m !== 'object' || typeof m.id !== 'string') return;
    const view = this.state.room;
    if (m.room !== view.id) return;
    const before = view.timeline;
    const timeline = mergeMessages(before, [m]);
    if (timeline === before) return;
    const mine = this.isMine(m);
    if (mine && m.clientId && this.ownClientIds.has(m.clientId)) this.set({ me: m.user });
    // Someone who sends has stopped typing.
    const typing = view.typing.filter((t) => t.user.id !== m.user.id);
    this.setRoom(view.id, () => ({ timeline, typing }));
    if (!mine) {
      const text = `${m.user.name}: ${m.text.slice(0, 300)}`;
      this.set({ announcement: { seq: this.state.announcement.seq + 1, text } });
    }
  }

  /** Shows `text` as an own message at once and sends it. */
  send(text: string): void {
    if (!text.trim()) return;
    const view = this.state.room;
    if (view.status !== 'joined') return;
    const clientId = newClientId();
    this.ownClientIds.add(clientId);
    this.stopTyping();
    const user = this.state.me ?? { id: '', name: this.state.name };
    this.setRoom(view.id, (v) => ({
      timeline: addPending(v.timeline, { clientId, room: view.id, user, text, ts: Date.now() }),
    }));
    void this.pump();
  }

  /** Sends a failed message again, with the same clientId so it is never stored twice. */
  retry(clientId: string): void {
    const view = this.state.room;
    if (!findPending(view.timeline, clientId)) return;
    this.setRoom(view.id, (v) => ({ timeline: markSending(v.timeline, clientId) }));
    void this.pump();
  }

  /** Drops a failed message that the person no longer wants to send. */
  discard(clientId: string): void {
    this.setRoom(this.state.room.id, (v) => ({
      timeline: { confirmed: v.timeline.confirmed, pending: v.timeline.pending.filter((p) => p.clientId !== clientId) },
    }));
  }

  /**
   * Sends own messages one at a time, oldest first: the server may handle
   * concurrent sends in any order, and a person's messages must keep theirs.
   * Offline, or before the room is joined, they wait as "sending" and go out
   * after the (re)join.
   */
  private async pump(): Promise<void> {
    if (this.inFlight || !this.socket?.connected) return;
    const view = this.state.room;
    if (view.status !== 'joined') return;
    const item = view.timeline.pending.find((p) => p.state === 'sending');
    if (!item?.clientId) return;
    const { clientId } = item;
    this.inFlight = clientId;
    const ack = await this.request<SendReply>('message:send', { room: view.id, text: item.text, clientId });
    if (this.inFlight !== clientId) return; // the room changed meanwhile
    this.inFlight = null;
    if (ack.ok) {
      if (ack.message && typeof ack.message.id === 'string') {
        this.set({ me: ack.message.user });
        this.setRoom(view.id, (v) => ({ timeline: mergeMessages(v.timeline, [ack.message]) }));
      }
    } else if (ack.error.code === 'disconnected') {
      return; // resent with the same clientId after the rejoin
    } else {
      this.setRoom(view.id, (v) => ({ timeline: markFailed(v.timeline, clientId, ack.error) }));
    }
    void this.pump();
  }

  /** Loads the page of history before the oldest message shown. */
  async loadOlder(): Promise<void> {
    const view = this.state.room;
    if (!view.hasOlder || view.loadingOlder || view.status !== 'joined') return;
    const before = oldestId(view.timeline);
    if (!before) {
      this.setRoom(view.id, () => ({ hasOlder: false }));
      return;
    }
    this.setRoom(view.id, () => ({ loadingOlder: true }));
    try {
      const { messages, more } = await fetchBefore(this.request, view.id, before);
      this.setRoom(view.id, (v) => ({ timeline: mergeMessages(v.timeline, messages), hasOlder: more }));
    } catch (e) {
      if (e instanceof RequestError && e.error.code !== 'disconnected') this.notify(describeError(e.error, 'history'));
    } finally {
      this.setRoom(view.id, () => ({ loadingOlder: false }));
    }
  }

  // --- presence and typing ----------------------------------------------------------

  private onPresence(e: PresenceEvent, joined: boolean): void {
    if (!e || typeof e !== 'object' || !e.user) return;
    this.scheduleRooms();
    if (e.room !== this.state.room.id) return;
    this.setRoom(e.room, (v) => ({
      members: joined
        ? v.members.some((m) => sameUser(m, e.user))
          ? v.members
          : [...v.members, e.user]
        : v.members.filter((m) => !sameUser(m, e.user)),
      typing: joined ? v.typing : v.typing.filter((t) => !sameUser(t.user, e.user)),
    }));
  }

  private onTyping(e: TypingEvent): void {
    if (!e || typeof e !== 'object' || !e.user || e.room !== this.state.room.id) return;
    if (this.state.me && sameUser(e.user, this.state.me)) return;
    const now = Date.now();
    this.setRoom(e.room, (v) => {
      const others = v.typing.filter((t) => !sameUser(t.user, e.user) && t.until > now);
      return { typing: e.typing ? [...others, { user: e.user, until: now + TYPING_SHOW_MS }] : others };
    });
    this.scheduleTypingPrune();
  }

  private scheduleTypingPrune(): void {
    clearTimeout(this.typingPrune);
    const typing = this.state.room.typing;
    if (typing.length === 0) return;
    const next = Math.min(...typing.map((t) => t.until));
    this.typingPrune = setTimeout(() => {
      const now = Date.now();
      this.setRoom(this.state.room.id, (v) => ({ typing: v.typing.filter((t) => t.until > now) }));
      this.scheduleTypingPrune();
    }, Math.max(50, next - Date.now()));
  }

  /** Called on every keystroke in the composer; tells the room, throttled. */
  noteTyping(): void {
    const view = this.state.room;
    if (view.status !== 'joined' || !this.socket?.connected) return;
    const now = Date.now();
    if (!this.typingSent || now - this.typingSentAt > TYPING_RESEND_MS) {
      this.socket.emit('typing', { room: view.id, typing: true });
      this.typingSent = true;
      this.typingSentAt = now;
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping(): void {
    clearTimeout(this.typingTimer);
    if (!this.typingSent) return;
    this.typingSent = false;
    if (this.socket?.connected) this.socket.emit('typing', { room: this.state.room.id, typing: false });
  }
}

function dedupeUsers(users: User[]): User[] {
  const seen = new Set<string>();
  return users.filter((u) => u && typeof u.id === 'string' && !seen.has(u.id) && (seen.add(u.id), true));
}
