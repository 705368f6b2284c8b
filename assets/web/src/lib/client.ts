// The chat client: one Socket.IO connection to this page's own origin, every
// room the person has opened (they stay in each until they leave it), and
// every protocol rule (identity, acks, rejoin and catch-up after reconnect,
// retries with the same clientId, typing throttling, unread counts). React
// reads its immutable snapshots through `subscribe`/`getState`.

import { io, type Socket } from 'socket.io-client';
import { fetchInfo } from './api';
import { describeError, type ErrorContext } from './errors';
import { messageFiles, messageSummary } from './files';
import { newClientId } from './ids';
import {
  DEFAULT_MAX_MESSAGE_LEN,
  DEFAULT_ROOM,
  createdRoomId,
  roomLabel,
  type Ack,
  type ChatError,
  type ChatErrorEvent,
  type CreateReply,
  type FileInfo,
  type Message,
  type PresenceEvent,
  type RenameReply,
  type RoomDeletedEvent,
  type RoomSummary,
  type RoomsReply,
  type SendReply,
  type ServerInfo,
  type SessionEvent,
  type TypingEvent,
  type User,
  type UserUpdateEvent,
} from './protocol';
import { storage, userKey } from './storage';
import { RequestError, fetchBefore, joinRoom, retryRateLimited, type Request } from './sync';
import {
  EMPTY_TIMELINE,
  addPending,
  applyUpdate,
  findPending,
  markFailed,
  markSending,
  mergeMessages,
  newestId,
  oldestId,
  unseenMessages,
  type Timeline,
  type TimelineItem,
} from './timeline';
import { NO_UNREAD, countIncoming, mentions, totalUnread, type IncomingInfo, type Unread } from './unread';

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
  /** The `User.id` of the room's creator, who may delete it. */
  creator?: string;
  status: 'joining' | 'joined' | 'refused';
  error?: ChatError;
  timeline: Timeline;
  members: User[];
  typing: TypingUser[];
  hasOlder: boolean;
  loadingOlder: boolean;
  /** Messages that arrived while the person was not looking at this room. */
  unread: Unread;
}

export interface Notice {
  id: number;
  text: string;
}

export interface ChatState {
  /** This person's display name: the server's, once it has said. */
  name: string;
  token: string;
  /** Who this person is, from `session`; null until the first connect. */
  me: User | null;
  conn: Connection;
  /** The last `rooms:list`. */
  rooms: RoomSummary[];
  /** Keys of private rooms this browser may enter. */
  keys: Record<string, string>;
  /** The rooms this page is in or entering, in the order opened; each has a view. */
  open: readonly string[];
  /** The views of the open rooms, and of the room on screen when it was refused. */
  views: Readonly<Record<string, RoomView>>;
  /** The room on screen, `views[room.id]`. */
  room: RoomView;
  notice: Notice | null;
  /** The latest incoming message from someone else, for the aria-live region. */
  announcement: { seq: number; text: string };
  info: ServerInfo | null;
}

/** Called for every new message in any room this page is in; see `ChatClient.onIncoming`. */
export type IncomingListener = (message: Message, info: IncomingInfo) => void;

const ACK_TIMEOUT_MS = 10_000;
/** How often the room list (member counts of rooms one is not in) is refreshed while the page is visible. */
const ROOMS_EVERY_MS = 20_000;
const TYPING_RESEND_MS = 3_000;
const TYPING_IDLE_MS = 4_000;
/**
 * The server announces only changes: one "started", then "stopped" when the
 * typist stops, sends, leaves, disconnects or lets it lapse (5 s unrenewed).
 * So a typist shows until "stopped"; this only bounds a "stopped" that a
 * dropped connection lost.
 */
const TYPING_SHOW_MS = 60_000;

/** A room's view before its join is answered. */
export function newRoomView(id: string, isPrivate: boolean): RoomView {
  return {
    id,
    private: isPrivate,
    status: 'joining',
    timeline: EMPTY_TIMELINE,
    members: [],
    typing: [],
    hasOlder: false,
    loadingOlder: false,
    unread: NO_UNREAD,
  };
}

function sameUser(a: User, b: User): boolean {
  return a.id === b.id;
}

function isMessage(m: unknown): m is Message {
  return !!m && typeof m === 'object' && typeof (m as Message).id === 'string' && typeof (m as Message).room === 'string';
}

function isUser(u: unknown): u is User {
  return !!u && typeof u === 'object' && typeof (u as User).id === 'string' && typeof (u as User).name === 'string';
}

function pageVisible(): boolean {
  return document.visibilityState !== 'hidden';
}

export interface ClientOptions {
  name: string;
  token: string;
  /** The room to show first; it is opened if this browser was not in it. */
  room: string;
}

export class ChatClient {
  private state: ChatState;
  private readonly listeners = new Set<() => void>();
  private readonly incomingListeners = new Set<IncomingListener>();
  private socket: Socket | null = null;
  private noticeSeq = 0;
  /** Per room, the number of its latest join: an older join's answer is stale. */
  private readonly joinSeqs = new Map<string, number>();
  /** Joins run one at a time, so a reconnect with many rooms stays under the request rate. */
  private joinChain: Promise<void> = Promise.resolve();
  /** Rooms joined on the current connection: only these take sends. */
  private readonly synced = new Set<string>();
  /** Rooms whose deletion this page asked for, to word the notice. */
  private readonly deleting = new Set<string>();
  private roomsTimer: ReturnType<typeof setInterval> | undefined;
  private typingTimer: ReturnType<typeof setTimeout> | undefined;
  private typingPrune: ReturnType<typeof setTimeout> | undefined;
  private typingSentAt = 0;
  /** The room a `typing: true` was last sent to, until it is ended. */
  private typingRoom: string | null = null;
  /** The own message awaiting its ack, if any. */
  private inFlight: { room: string; clientId: string } | null = null;

  constructor(opts: ClientOptions) {
    const keys = storage.keys();
    const open = storage.rooms();
    if (!open.includes(opts.room)) open.push(opts.room);
    const views: Record<string, RoomView> = {};
    for (const id of open) views[id] = newRoomView(id, id in keys);
    this.state = {
      name: opts.name,
      token: opts.token,
      me: null,
      conn: { state: 'reconnecting', transport: null, latencyMs: null, everConnected: false, unauthorized: false },
      rooms: [],
      keys,
      open,
      views,
      room: views[opts.room],
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
    const next = { ...this.state, ...patch };
    // Keep `room` the view of the room on screen.
    const onScreen = patch.room ? patch.room.id : next.room.id;
    next.room = next.views[onScreen] ?? next.room;
    this.state = next;
    for (const l of this.listeners) l();
  }

  private setConn(patch: Partial<Connection>): void {
    this.set({ conn: { ...this.state.conn, ...patch } });
  }

  /** Updates a room's view, unless the page has left the room meanwhile. */
  private setView(id: string, f: (v: RoomView) => Partial<RoomView>): void {
    const v = this.state.views[id];
    if (!v) return;
    this.set({ views: { ...this.state.views, [id]: { ...v, ...f(v) } } });
  }

  private notify(text: string): void {
    this.set({ notice: { id: ++this.noticeSeq, text } });
  }

  dismissNotice = (): void => this.set({ notice: null });

  /** The largest message the server takes, in characters. */
  maxLen(): number {
    return this.state.info?.limits?.max_message_len || DEFAULT_MAX_MESSAGE_LEN;
  }

  /** Whether `user` is this person: the same `User.id`, never the same name. */
  isMe(user: User): boolean {
    const me = this.state.me;
    return !!me && user.id === me.id;
  }

  /** Whether a timeline item is this person's: not stored yet (so sent from here), or by their id. */
  isMine(item: Pick<TimelineItem, 'user' | 'state'>): boolean {
    return item.state !== 'sent' || this.isMe(item.user);
  }

  // --- new messages, for notifications --------------------------------------

  /**
   * Calls `listener` for every message that is new to this page in any room
   * it is in: live ones, and those fetched when catching up after a reconnect
   * (not the history shown on first entering a room). Own messages are
   * included, marked `mine`, also when sent from another tab or device.
   * `roomIsOpen` says the room is on screen, whether or not the page is
   * visible. Returns a function that stops the calls.
   */
  onIncoming(listener: IncomingListener): () => void {
    this.incomingListeners.add(listener);
    return () => this.incomingListeners.delete(listener);
  }

  /**
   * Unread messages over every open room, and how many of them mention this
   * person. It changes only with the state: read it again on each `subscribe`
   * call.
   */
  unreadTotal(): Unread {
    return totalUnread(this.state.open.map((id) => this.state.views[id]?.unread ?? NO_UNREAD));
  }

  /** Counts, announces and reports messages that are new to room `id`. */
  private arrived(id: string, messages: readonly Message[]): void {
    const view = this.state.views[id];
    if (!view || messages.length === 0) return;
    const roomIsOpen = id === this.state.room.id;
    const visible = pageVisible();
    const reports: [Message, IncomingInfo][] = [];
    let unread = view.unread;
    let heard: Message | undefined;
    for (const m of messages) {
      const mine = this.isMe(m.user);
      const info: IncomingInfo = { mine, mention: !mine && mentions(m.text, this.state.name), roomIsOpen };
      unread = countIncoming(unread, info, visible);
      if (!mine && roomIsOpen) heard = m;
      reports.push([m, info]);
    }
    if (unread !== view.unread) this.setView(id, () => ({ unread }));
    if (heard) {
      const text = `${heard.user.name}: ${messageSummary(heard.text, messageFiles(heard.files)).slice(0, 300)}`;
      this.set({ announcement: { seq: this.state.announcement.seq + 1, text } });
    }
    for (const [m, info] of reports) for (const l of this.incomingListeners) l(m, info);
  }

  private markRead(id: string): void {
    const v = this.state.views[id];
    if (v && (v.unread.messages || v.unread.mentions)) this.setView(id, () => ({ unread: NO_UNREAD }));
  }

  // --- connection -----------------------------------------------------------

  start(): void {
    if (this.socket) return;
    void this.loadInfo();
    const socket = io({
      // A function, so that every reconnect sends the current name and token.
      auth: (cb) =>
        cb({ name: this.state.name, token: this.state.token || undefined, v: 1, userKey: userKey() }),
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
      this.stopRoomsTimer();
      this.inFlight = null;
      this.typingRoom = null;
      this.synced.clear();
      const views: Record<string, RoomView> = {};
      for (const [id, v] of Object.entries(this.state.views)) views[id] = v.typing.length ? { ...v, typing: [] } : v;
      this.set({ views });
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

    socket.on('session', (e: SessionEvent) => this.onSession(e));
    socket.on('message:new', (m: Message) => this.onMessage(m));
    socket.on('message:update', (m: Message) => this.onUpdate(m));
    socket.on('user:update', (e: UserUpdateEvent) => this.onUserUpdate(e));
    socket.on('room:deleted', (e: RoomDeletedEvent) => this.onRoomDeleted(e));
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
    this.stopRoomsTimer();
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
    this.setConn({
      state: 'connected',
      transport: engine.transport.name,
      everConnected: true,
      unauthorized: false,
    });
    engine.on('upgrade', (t: { name: string }) => this.setConn({ transport: t.name }));
    // The room on screen first, then the others in the order they were opened.
    const onScreen = this.state.room.id;
    for (const id of [onScreen, ...this.state.open.filter((r) => r !== onScreen)]) this.queueJoin(id);
    void this.refreshRooms();
    this.startRoomsTimer();
    if (!this.state.info) void this.loadInfo();
  }

  /** Who this connection is, and the rooms the same person is in elsewhere: those are opened too. */
  private onSession(e: SessionEvent): void {
    if (!e || typeof e !== 'object' || !isUser(e.user)) return;
    this.adoptSelf(e.user);
    const rooms = Array.isArray(e.rooms) ? e.rooms.filter((r): r is string => typeof r === 'string') : [];
    const views = { ...this.state.views };
    const added = rooms.filter((id) => !this.state.open.includes(id));
    if (added.length === 0) return;
    for (const id of added) views[id] ??= newRoomView(id, id in this.state.keys);
    this.set({ views, open: [...this.state.open, ...added] });
    for (const id of added) this.queueJoin(id);
  }

  /** Takes `user` as this person: their id, and the name the server holds for them. */
  private adoptSelf(user: User): void {
    if (user.name !== this.state.name) storage.setName(user.name);
    this.set({ me: user, name: user.name });
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

  /** Sets the access token used from now on and reconnects with it. */
  reconnectWithToken(token: string): void {
    storage.setToken(token);
    this.set({ token });
    void this.loadInfo();
    const socket = this.socket;
    if (!socket) return;
    if (socket.connected) socket.disconnect();
    this.setConn({ state: 'reconnecting', unauthorized: false });
    socket.connect();
  }

  // --- identity -------------------------------------------------------------

  /**
   * Renames this person with `user:rename`: the server tells everyone in
   * their rooms, and their other tabs. Resolves false (with a notice) when
   * refused or offline.
   */
  async rename(name: string): Promise<boolean> {
    const ack = await this.request<RenameReply>('user:rename', { name });
    if (!ack.ok) {
      this.notify(describeError(ack.error, 'rename'));
      return false;
    }
    if (isUser(ack.user)) this.onUserUpdate({ user: ack.user });
    return true;
  }

  /** Someone's new name: shown at once wherever they are listed; stored messages keep the old one. */
  private onUserUpdate(e: UserUpdateEvent): void {
    if (!e || typeof e !== 'object' || !isUser(e.user)) return;
    const user = e.user;
    if (this.isMe(user)) this.adoptSelf(user);
    const rename = (u: User) => (sameUser(u, user) ? user : u);
    const views: Record<string, RoomView> = {};
    for (const [id, v] of Object.entries(this.state.views)) {
      const listed = v.members.some((m) => sameUser(m, user)) || v.typing.some((t) => sameUser(t.user, user));
      views[id] = listed
        ? { ...v, members: v.members.map(rename), typing: v.typing.map((t) => ({ ...t, user: rename(t.user) })) }
        : v;
    }
    this.set({ views });
  }

  // --- rooms ----------------------------------------------------------------

  /**
   * Puts `id` on screen, joining it first if this page is not in it (with
   * `key` for a private room). The room on screen before stays joined.
   */
  open(id: string, key?: string): void {
    if (key) this.rememberKey(id, key);
    const before = this.state.room;
    if (before.id !== id) this.stopTyping();
    const view = this.state.views[id];
    if (view && view.status !== 'refused') {
      this.set({ room: view });
      this.markRead(id);
    } else {
      const fresh = newRoomView(id, id in this.state.keys);
      const open = this.state.open.includes(id) ? this.state.open : [...this.state.open, id];
      this.set({ views: { ...this.state.views, [id]: fresh }, room: fresh, open });
      if (this.socket?.connected) this.queueJoin(id);
    }
    // A room that refused entry is not kept once the person looks elsewhere.
    if (before.id !== id && !this.state.open.includes(before.id)) this.forget(before.id);
  }

  /** Leaves room `id` for good (until opened again); another open room, or the lobby, takes the screen. */
  leave(id: string): void {
    if (!this.state.views[id]) return;
    if (this.synced.has(id)) void this.request('room:leave', { room: id });
    this.forget(id);
  }

  /** Whether the person may leave `id`: not the only room they are in. */
  canLeave(id: string): boolean {
    return this.state.open.includes(id) && this.state.open.length > 1;
  }

  /** Drops room `id` from this page and from what a reload rejoins, and moves the screen off it. */
  private forget(id: string): void {
    if (this.typingRoom === id) this.stopTyping();
    this.synced.delete(id);
    this.joinSeqs.delete(id);
    storage.setRoom(id, false);
    const views = { ...this.state.views };
    delete views[id];
    const open = this.state.open.filter((r) => r !== id);
    if (this.state.room.id !== id) {
      this.set({ views, open });
      return;
    }
    const next = open.length ? open[Math.max(0, this.state.open.indexOf(id) - 1)] : DEFAULT_ROOM;
    if (views[next]) {
      this.set({ views, open, room: views[next] });
      this.markRead(next);
      return;
    }
    // Nothing else is open: the lobby, joined like any room.
    views[next] = newRoomView(next, next in this.state.keys);
    this.set({ views, open: [...open, next], room: views[next] });
    if (this.socket?.connected) this.queueJoin(next);
  }

  private rememberKey(room: string, key: string): void {
    storage.setKey(room, key);
    this.set({ keys: { ...this.state.keys, [room]: key } });
  }

  private forgetKey(room: string): void {
    if (!(room in this.state.keys)) return;
    storage.setKey(room, null);
    const keys = { ...this.state.keys };
    delete keys[room];
    this.set({ keys });
  }

  private queueJoin(id: string): void {
    const seq = (this.joinSeqs.get(id) ?? 0) + 1;
    this.joinSeqs.set(id, seq);
    this.joinChain = this.joinChain.then(() => this.join(id, seq));
  }

  /**
   * Joins room `id` (again, after a reconnect: then everything after the
   * newest message held is fetched too, and counted as new).
   */
  private async join(id: string, seq: number): Promise<void> {
    const view = this.state.views[id];
    if (!view || this.joinSeqs.get(id) !== seq || this.synced.has(id)) return;
    const lastSeen = newestId(view.timeline);
    if (view.status === 'refused') this.setView(id, () => ({ status: 'joining', error: undefined }));
    try {
      const joined = await retryRateLimited(() => joinRoom(this.request, id, this.state.keys[id], lastSeen));
      const now = this.state.views[id];
      if (!now || this.joinSeqs.get(id) !== seq) return;
      const { reply } = joined;
      const fresh = lastSeen === undefined ? [] : unseenMessages(now.timeline, joined.messages);
      this.synced.add(id);
      storage.setRoom(id, true);
      this.setView(id, (v) => ({
        status: 'joined',
        private: !!reply.room?.private,
        name: typeof reply.room?.name === 'string' ? reply.room.name : undefined,
        creator: typeof reply.room?.creator === 'string' ? reply.room.creator : undefined,
        error: undefined,
        members: Array.isArray(reply.members) ? dedupeUsers(reply.members) : [],
        timeline: mergeMessages(v.timeline, joined.messages),
        hasOlder: lastSeen !== undefined ? v.hasOlder : joined.hasOlder,
      }));
      this.arrived(id, fresh);
      void this.pump();
    } catch (e) {
      if (this.joinSeqs.get(id) !== seq || !this.state.views[id]) return;
      const error = e instanceof RequestError ? e.error : { code: 'unavailable', message: String(e) };
      if (error.code === 'disconnected') return; // joined again on reconnect
      this.refused(id, error);
    }
  }

  /**
   * A join was refused. The room on screen says why; a room in the background
   * is dropped with a notice when it will not let the person in, and kept
   * (to try again on reconnect or when opened) on any other failure.
   */
  private refused(id: string, error: ChatError): void {
    // A private room answers a missing or wrong key as if it did not exist.
    const locked = error.code === 'forbidden' || error.code === 'not_found';
    // A key that no longer works is of no use; forget it.
    if (locked) this.forgetKey(id);
    if (id === this.state.room.id) {
      if (locked) {
        // On screen until the person looks elsewhere, but no longer one of their rooms.
        storage.setRoom(id, false);
        this.set({ open: this.state.open.filter((r) => r !== id) });
      }
      this.setView(id, () => ({ status: 'refused', error }));
      this.notify(describeError(error, 'join'));
    } else if (locked) {
      const label = roomLabel(this.state.views[id]);
      this.forget(id);
      this.notify(`You’re no longer in ${label}: ${describeError(error, 'join')}`);
    } else {
      this.setView(id, () => ({ status: 'refused', error }));
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
    this.open(room, key);
    return { ok: true, room, key };
  }

  /** Whether this person created room `id`, and so may delete it. */
  canDelete(id: string): boolean {
    const me = this.state.me;
    if (!me || id === DEFAULT_ROOM) return false;
    const creator = this.state.views[id]?.creator ?? this.state.rooms.find((r) => r.id === id)?.creator;
    return creator === me.id;
  }

  /** Deletes room `id` and its history for everyone (`room:delete`). Resolves false (with a notice) when refused. */
  async deleteRoom(id: string): Promise<boolean> {
    this.deleting.add(id);
    const ack = await this.request('room:delete', { room: id });
    if (!ack.ok) {
      this.deleting.delete(id);
      this.notify(describeError(ack.error, 'delete-room'));
      return false;
    }
    this.onRoomDeleted({ room: id });
    return true;
  }

  private onRoomDeleted(e: RoomDeletedEvent): void {
    if (!e || typeof e !== 'object' || typeof e.room !== 'string') return;
    const id = e.room;
    this.set({ rooms: this.state.rooms.filter((r) => r.id !== id) });
    const view = this.state.views[id];
    if (!view) return;
    const label = roomLabel(view);
    const wasOnScreen = this.state.room.id === id;
    this.forgetKey(id);
    this.forget(id);
    const byMe = this.deleting.delete(id);
    if (byMe) this.notify(`You deleted ${label}.`);
    else if (wasOnScreen) this.notify(`${label} was deleted by the person who created it.`);
    else this.notify(`${label} was deleted by the person who created it; you’re no longer in it.`);
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
    if (!pageVisible()) return;
    this.markRead(this.state.room.id);
    if (this.socket?.connected) void this.refreshRooms(4_000);
  };

  private startRoomsTimer(): void {
    this.stopRoomsTimer();
    this.roomsTimer = setInterval(() => {
      if (pageVisible()) void this.refreshRooms();
    }, ROOMS_EVERY_MS);
  }

  private stopRoomsTimer(): void {
    clearInterval(this.roomsTimer);
    this.roomsTimer = undefined;
  }

  // --- messages ---------------------------------------------------------------

  private onMessage(m: Message): void {
    if (!isMessage(m)) return;
    const view = this.state.views[m.room];
    if (!view) return;
    const fresh = unseenMessages(view.timeline, [m]);
    const timeline = mergeMessages(view.timeline, [m]);
    if (timeline === view.timeline) return;
    // Someone who sends has stopped typing.
    const typing = view.typing.filter((t) => t.user.id !== m.user.id);
    this.setView(m.room, () => ({ timeline, typing }));
    this.arrived(m.room, fresh);
  }

  /** An edit or deletion: applied when newer than the copy held (see `isNewer`). */
  private onUpdate(m: Message): void {
    if (!isMessage(m)) return;
    this.setView(m.room, (v) => ({ timeline: applyUpdate(v.timeline, m) }));
  }

  /**
   * Shows `text` as an own message in the room on screen at once and sends
   * it, with `files` (uploaded to that room) attached; the text may then be
   * blank, and is sent empty.
   */
  send(text: string, files: readonly FileInfo[] = []): void {
    if (!text.trim() && files.length === 0) return;
    if (!text.trim()) text = '';
    const view = this.state.room;
    if (view.status !== 'joined') return;
    const clientId = newClientId();
    this.stopTyping();
    const user = this.state.me ?? { id: '', name: this.state.name };
    this.setView(view.id, (v) => ({
      timeline: addPending(v.timeline, { clientId, room: view.id, user, text, ts: Date.now(), files }),
    }));
    void this.pump();
  }

  /** Sends a failed message again, with the same clientId so it is never stored twice. */
  retry(clientId: string): void {
    const view = this.state.room;
    if (!findPending(view.timeline, clientId)) return;
    this.setView(view.id, (v) => ({ timeline: markSending(v.timeline, clientId) }));
    void this.pump();
  }

  /** Drops a failed message that the person no longer wants to send. */
  discard(clientId: string): void {
    this.setView(this.state.room.id, (v) => ({
      timeline: { confirmed: v.timeline.confirmed, pending: v.timeline.pending.filter((p) => p.clientId !== clientId) },
    }));
  }

  /** The first own message waiting to go out, in a room joined on this connection. */
  private nextToSend(): { room: string; clientId: string; text: string; files: string[] } | null {
    for (const room of this.state.open) {
      if (!this.synced.has(room)) continue;
      const item = this.state.views[room]?.timeline.pending.find((p) => p.state === 'sending');
      if (item?.clientId) return { room, clientId: item.clientId, text: item.text, files: (item.files ?? []).map((f) => f.id) };
    }
    return null;
  }

  /**
   * Sends own messages one at a time, oldest first per room: the server may
   * handle concurrent sends in any order, and a person's messages must keep
   * theirs. Offline, or before the room is (re)joined, they wait as "sending"
   * and go out after the (re)join.
   */
  private async pump(): Promise<void> {
    if (this.inFlight || !this.socket?.connected) return;
    const next = this.nextToSend();
    if (!next) return;
    const { room, clientId } = next;
    this.inFlight = { room, clientId };
    const payload = next.files.length ? { room, text: next.text, clientId, files: next.files } : { room, text: next.text, clientId };
    const ack = await this.request<SendReply>('message:send', payload);
    if (this.inFlight?.clientId !== clientId) return; // the connection dropped meanwhile
    this.inFlight = null;
    if (ack.ok) {
      if (isMessage(ack.message)) this.setView(room, (v) => ({ timeline: mergeMessages(v.timeline, [ack.message]) }));
    } else if (ack.error.code === 'disconnected') {
      return; // resent with the same clientId after the rejoin
    } else {
      this.setView(room, (v) => ({ timeline: markFailed(v.timeline, clientId, ack.error) }));
    }
    void this.pump();
  }

  /** Replaces the text of own message `id` in `room`. Resolves false (with a notice) when refused. */
  editMessage(room: string, id: string, text: string): Promise<boolean> {
    return this.changeMessage('message:edit', { room, id, text }, 'edit');
  }

  /** Deletes own message `id` in `room`. Resolves false (with a notice) when refused. */
  deleteMessage(room: string, id: string): Promise<boolean> {
    return this.changeMessage('message:delete', { room, id }, 'delete');
  }

  private async changeMessage(
    event: string,
    payload: { room: string; id: string; text?: string },
    context: ErrorContext,
  ): Promise<boolean> {
    const ack = await this.request<SendReply>(event, payload);
    if (!ack.ok) {
      this.notify(describeError(ack.error, context));
      return false;
    }
    if (isMessage(ack.message)) this.onUpdate(ack.message);
    return true;
  }

  /** Loads the page of history before the oldest message shown. */
  async loadOlder(): Promise<void> {
    const view = this.state.room;
    if (!view.hasOlder || view.loadingOlder || view.status !== 'joined') return;
    const before = oldestId(view.timeline);
    if (!before) {
      this.setView(view.id, () => ({ hasOlder: false }));
      return;
    }
    this.setView(view.id, () => ({ loadingOlder: true }));
    try {
      const { messages, more } = await fetchBefore(this.request, view.id, before);
      this.setView(view.id, (v) => ({ timeline: mergeMessages(v.timeline, messages), hasOlder: more }));
    } catch (e) {
      if (e instanceof RequestError && e.error.code !== 'disconnected') this.notify(describeError(e.error, 'history'));
    } finally {
      this.setView(view.id, () => ({ loadingOlder: false }));
    }
  }

  // --- presence and typing ----------------------------------------------------------

  private onPresence(e: PresenceEvent, joined: boolean): void {
    if (!e || typeof e !== 'object' || !isUser(e.user) || typeof e.room !== 'string') return;
    this.setView(e.room, (v) => ({
      members: joined
        ? v.members.some((m) => sameUser(m, e.user))
          ? v.members
          : [...v.members, e.user]
        : v.members.filter((m) => !sameUser(m, e.user)),
      typing: joined ? v.typing : v.typing.filter((t) => !sameUser(t.user, e.user)),
    }));
  }

  private onTyping(e: TypingEvent): void {
    if (!e || typeof e !== 'object' || !isUser(e.user) || typeof e.room !== 'string') return;
    if (this.isMe(e.user)) return;
    const now = Date.now();
    this.setView(e.room, (v) => {
      const others = v.typing.filter((t) => !sameUser(t.user, e.user) && t.until > now);
      return { typing: e.typing ? [...others, { user: e.user, until: now + TYPING_SHOW_MS }] : others };
    });
    this.scheduleTypingPrune();
  }

  private scheduleTypingPrune(): void {
    clearTimeout(this.typingPrune);
    const untils = Object.values(this.state.views).flatMap((v) => v.typing.map((t) => t.until));
    if (untils.length === 0) return;
    const next = Math.min(...untils);
    this.typingPrune = setTimeout(() => {
      const now = Date.now();
      for (const [id, v] of Object.entries(this.state.views)) {
        if (v.typing.some((t) => t.until <= now)) this.setView(id, (w) => ({ typing: w.typing.filter((t) => t.until > now) }));
      }
      this.scheduleTypingPrune();
    }, Math.max(50, next - Date.now()));
  }

  /** Called on every keystroke in the composer; tells the room on screen, throttled. */
  noteTyping(): void {
    const room = this.state.room.id;
    if (!this.synced.has(room) || !this.socket?.connected) return;
    if (this.typingRoom !== room) this.stopTyping();
    const now = Date.now();
    if (this.typingRoom === null || now - this.typingSentAt > TYPING_RESEND_MS) {
      this.socket.emit('typing', { room, typing: true });
      this.typingRoom = room;
      this.typingSentAt = now;
    }
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  /** Ends this person's typing state, if one was announced. */
  stopTyping(): void {
    clearTimeout(this.typingTimer);
    const room = this.typingRoom;
    if (room === null) return;
    this.typingRoom = null;
    if (this.socket?.connected && this.synced.has(room)) this.socket.emit('typing', { room, typing: false });
  }
}

function dedupeUsers(users: User[]): User[] {
  const seen = new Set<string>();
  return users.filter((u) => isUser(u) && !seen.has(u.id) && (seen.add(u.id), true));
}
