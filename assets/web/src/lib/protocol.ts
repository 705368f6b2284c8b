// The wire types of rtchat's Socket.IO protocol (docs/protocol.md), as a rich
// client (`auth.v: 1`) sees them. Nothing here talks to a socket.

export interface User {
  id: string;
  name: string;
}

/** A stored message. `id` sorts (as a string) in the room's delivery order. */
export interface Message {
  id: string;
  room: string;
  user: User;
  text: string;
  /** Milliseconds since the epoch. */
  ts: number;
  clientId?: string;
  /** When the text was last edited, ms since the epoch; increases with every edit. */
  edited?: number;
  /** Deleted by its author; `text` is then `""`. */
  deleted?: true;
  /** The files attached to it; absent when none (and once deleted). */
  files?: FileInfo[];
}

/** A file attached to a message (`File` in docs/protocol.md). */
export interface FileInfo {
  /** 26 random base32 characters. */
  id: string;
  name: string;
  /** Its media type. */
  type: string;
  /** In bytes. */
  size: number;
  /** Where its bytes are, relative to the server; carries `?key=` for a private room's file. */
  url: string;
  /** An image's size in pixels. */
  width?: number;
  height?: number;
}

/** The answer to an upload, `POST /api/rooms/{room}/files`. */
export interface UploadReply {
  ok: true;
  file: FileInfo;
}

export interface RoomInfo {
  id: string;
  private: boolean;
  /** A private room's display name; its id is random. */
  name?: string;
  /** The `User.id` of whoever created it with `room:create` (with a userKey): only they may delete it. */
  creator?: string;
}

export interface RoomSummary extends RoomInfo {
  members: number;
}

export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'too_large'
  | 'rate_limited'
  | 'unavailable';

/**
 * An error as the server reports it, or one the client makes up for a request
 * that got no answer (`timeout`) or was cut off (`disconnected`).
 */
export interface ChatError {
  code: ErrorCode | 'timeout' | 'disconnected' | string;
  message: string;
}

export type Ack<T> = ({ ok: true } & T) | { ok: false; error: ChatError };

export interface JoinReply {
  room: RoomInfo;
  members: User[];
  history: Message[];
}

export interface CreateReply {
  /** The spec writes `room`; accept both a bare id and a `{ id, private }` object. */
  room: string | RoomInfo;
  key?: string;
}

/** The reply to `message:send`, `message:edit` and `message:delete`. */
export interface SendReply {
  message: Message;
}

export interface HistoryReply {
  messages: Message[];
}

export interface RoomsReply {
  rooms: RoomSummary[];
}

/** `session`: who this connection is, and the rooms the same person is in on other connections. */
export interface SessionEvent {
  user: User;
  rooms: string[];
}

/** `user:update`, after someone renames themselves. */
export interface UserUpdateEvent {
  user: User;
}

/** `room:deleted`: the room is gone, and this client is no longer in it. */
export interface RoomDeletedEvent {
  room: string;
}

export interface RenameReply {
  user: User;
}

export interface PresenceEvent {
  room: string;
  user: User;
}

export interface TypingEvent {
  room: string;
  user: User;
  typing: boolean;
}

export interface ChatErrorEvent {
  event: string;
  code: string;
  message: string;
}

/** `GET /api/info`. */
export interface Endpoint {
  backend: string;
  ui: string;
}

export interface ServerInfo {
  name: string;
  version: string;
  local?: Endpoint;
  lan?: Endpoint[];
  tunnel?: (Endpoint & { state: 'up' | 'connecting' | 'down' }) | null;
  phone_url?: string | null;
  auth?: { token_required: boolean };
  limits?: { max_message_len: number; rate_limit: number };
}

/** The largest page `history` hands out. */
export const HISTORY_MAX = 100;
/** The page size `room:join` and a plain `history` use. */
export const HISTORY_PAGE = 50;
export const DEFAULT_ROOM = 'lobby';
export const DEFAULT_MAX_MESSAGE_LEN = 4000;

const ROOM_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** Whether `room` is a valid room id (1..=64 of `[A-Za-z0-9_.-]`). */
export function isValidRoomId(room: string): boolean {
  return ROOM_ID.test(room);
}

/** What to call a room: a private room's name, else its id. */
export function roomLabel(room: { id: string; name?: string }): string {
  return room.name || room.id;
}

/** The room id of a `room:create` reply, whichever shape the server used. */
export function createdRoomId(reply: CreateReply): string {
  return typeof reply.room === 'string' ? reply.room : reply.room.id;
}

/** Turns a free-form room name into a valid id: "Team Chat!" -> "Team-Chat". */
export function slugRoom(name: string): string {
  return name
    .trim()
    .replace(/\s+/g, '-')
    .replace(/[^A-Za-z0-9_.-]/g, '')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
}
