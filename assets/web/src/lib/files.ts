// Files attached to messages, without the browser: which photos are shrunk
// before upload and to what size, how files are named, sized and summed up
// in words, and the URLs to upload and fetch them. See docs/protocol.md,
// "Files".

import type { FileInfo } from './protocol';

/** The most files one message may carry (`message:send` `files`). */
export const MAX_FILES = 10;

/** The longest side, in pixels, of a photo after it is shrunk for upload. */
export const MAX_PHOTO_SIDE = 2048;

/** The quality photos are re-encoded at (0..1). */
export const PHOTO_QUALITY = 0.85;

/** The longest file name the server takes, in characters. */
const MAX_NAME = 128;

/** Types re-encoded before upload: photos whose re-encoding loses nothing people see (GIFs would lose their animation). */
const REENCODED = new Set(['image/jpeg', 'image/png', 'image/webp']);

/** Types the server serves as images, so the page can show them inline. */
const INLINE_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif']);

/** Whether a file of media type `type` is shrunk and re-encoded (dropping its metadata) before upload. */
export function isReencoded(type: string): boolean {
  return REENCODED.has(type.toLowerCase());
}

/** Whether a file of media type `type` is shown as an image in the timeline. */
export function isInlineImage(type: string): boolean {
  return INLINE_IMAGES.has(type.toLowerCase());
}

export interface Size {
  width: number;
  height: number;
}

/**
 * `size` scaled down, keeping its aspect ratio, so that neither side exceeds
 * `maxWidth` and `maxHeight`; never scaled up. Sides are whole pixels, at
 * least 1.
 */
export function fitWithin(size: Size, maxWidth: number, maxHeight = maxWidth): Size {
  const scale = Math.min(1, maxWidth / size.width, maxHeight / size.height);
  if (scale === 1) return { width: size.width, height: size.height };
  return {
    width: Math.max(1, Math.round(size.width * scale)),
    height: Math.max(1, Math.round(size.height * scale)),
  };
}

/** The size a photo of `size` is re-encoded at: its longest side at most `MAX_PHOTO_SIDE`. */
export function photoTarget(size: Size): Size {
  return fitWithin(size, MAX_PHOTO_SIDE);
}

/**
 * A file name the server accepts: control characters, `/` and `\` replaced
 * by `_`, at most 128 characters (shortened before the extension), and
 * `file` when nothing is left.
 */
export function uploadName(name: string): string {
  const clean = Array.from(name.replace(/[\p{Cc}/\\]/gu, '_').trim());
  if (clean.length === 0) return 'file';
  if (clean.length <= MAX_NAME) return clean.join('');
  const dot = clean.lastIndexOf('.');
  const ext = dot > 0 && clean.length - dot <= 16 ? clean.slice(dot) : [];
  return [...clean.slice(0, MAX_NAME - ext.length), ...ext].join('');
}

const EXTENSIONS: Record<string, string> = { 'image/jpeg': '.jpg', 'image/webp': '.webp', 'image/png': '.png' };

/** `name` with the extension of media type `type` in place of its own: `IMG_1.PNG` re-encoded as JPEG is `IMG_1.jpg`. */
export function renameForType(name: string, type: string): string {
  const ext = EXTENSIONS[type];
  if (!ext) return name;
  const dot = name.lastIndexOf('.');
  return `${dot > 0 ? name.slice(0, dot) : name}${ext}`;
}

const UNITS = ['KB', 'MB', 'GB'];

/** A byte count for people, in decimal units: `812 B`, `1.5 KB`, `12 MB`. */
export function humanSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes < 1000) return `${Math.round(bytes)} B`;
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 999.95 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  const shown = value < 10 ? value.toFixed(1).replace(/\.0$/, '') : String(Math.round(value));
  return `${shown} ${UNITS[unit]}`;
}

/** A short label for a media type: `PNG`, `PDF`, `ZIP`; `File` when there is nothing to say. */
export function typeLabel(type: string, name: string): string {
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 ? name.slice(dot + 1) : '';
  if (ext && ext.length <= 5 && /^[A-Za-z0-9]+$/.test(ext)) return ext.toUpperCase();
  const sub = type.split('/')[1]?.split(/[;+]/)[0];
  return sub && sub !== 'octet-stream' ? sub.toUpperCase() : 'File';
}

/** What a file's URL needs to be fetched: the page's access token, and its private room's key. */
export interface FileAccess {
  token: string;
  key?: string;
}

/**
 * `url` (a file's relative URL, maybe with `?key=` already) with what it
 * needs to be fetched by `<img src>` and links, which cannot send an
 * `Authorization` header: the private room's `key=` (messages carry their
 * files' URLs without it) and the access token as `token=`.
 */
export function fileHref(url: string, { token, key }: FileAccess): string {
  const params: string[] = [];
  if (key && !/[?&]key=/.test(url)) params.push(`key=${encodeURIComponent(key)}`);
  if (token) params.push(`token=${encodeURIComponent(token)}`);
  if (params.length === 0) return url;
  return `${url}${url.includes('?') ? '&' : '?'}${params.join('&')}`;
}

/** `POST` target of an upload of `name` to `room`, with a private room's `key`. */
export function uploadUrl(room: string, name: string, key?: string): string {
  const q = new URLSearchParams({ name });
  if (key) q.set('key', key);
  return `/api/rooms/${encodeURIComponent(room)}/files?${q.toString()}`;
}

/** Whether `f` has the shape of a File from the server. */
export function isFileInfo(f: unknown): f is FileInfo {
  if (!f || typeof f !== 'object') return false;
  const o = f as FileInfo;
  return typeof o.id === 'string' && typeof o.name === 'string' && typeof o.url === 'string' && typeof o.size === 'number';
}

/** The well-formed files among a message's `files`, dropping anything else; empty when absent. */
export function messageFiles(files: unknown): FileInfo[] {
  return Array.isArray(files) ? files.filter(isFileInfo).map((f) => ({ ...f, type: typeof f.type === 'string' ? f.type : '' })) : [];
}

/**
 * A message in one line, for notifications and screen readers: its text, or
 * when it has none, what it carries: `📷 photo`, `📷 3 photos`, a file's
 * name, or `📎 2 files`.
 */
export function messageSummary(text: string, files: readonly Pick<FileInfo, 'name' | 'type'>[]): string {
  if (text.trim() || files.length === 0) return text;
  if (files.every((f) => isInlineImage(f.type))) return files.length === 1 ? '📷 photo' : `📷 ${files.length} photos`;
  return files.length === 1 ? files[0].name : `📎 ${files.length} files`;
}
