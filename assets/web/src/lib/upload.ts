// Getting a file to the server from the browser: photos shrunk and
// re-encoded first (which also drops their metadata, GPS location included),
// then `POST /api/rooms/{room}/files` with progress and a way to cancel.

import { PHOTO_QUALITY, isReencoded, photoTarget, renameForType, uploadName, uploadUrl } from './files';
import type { ChatError, FileInfo } from './protocol';

/** What is sent for a file: its bytes, their type and the name to give them. */
export interface Prepared {
  blob: Blob;
  type: string;
  name: string;
}

let webpSupport: Promise<boolean> | undefined;

/** Whether this browser's canvas can encode WebP (Safari's cannot and makes PNG instead); asked once. */
function canEncodeWebp(): Promise<boolean> {
  if (!webpSupport) {
    const probe = newCanvas(1, 1);
    probe.getContext('2d'); // a canvas without a context encodes nothing
    webpSupport = encode(probe, 'image/webp').then(
      (b) => b.type === 'image/webp',
      () => false,
    );
  }
  return webpSupport;
}

type AnyCanvas = OffscreenCanvas | HTMLCanvasElement;

function newCanvas(width: number, height: number): AnyCanvas {
  if (typeof OffscreenCanvas !== 'undefined') return new OffscreenCanvas(width, height);
  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  return c;
}

function encode(canvas: AnyCanvas, type: string): Promise<Blob> {
  if ('convertToBlob' in canvas) return canvas.convertToBlob({ type, quality: PHOTO_QUALITY });
  return new Promise((resolve, reject) =>
    canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('the browser could not encode the photo'))), type, PHOTO_QUALITY),
  );
}

/**
 * A photo drawn afresh at most 2048 px on its longest side (turned upright as
 * its EXIF orientation says) and encoded as WebP, or JPEG on a white
 * background where WebP cannot be encoded. The new bytes carry no metadata.
 */
async function shrinkPhoto(file: File): Promise<Prepared> {
  const bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  try {
    const { width, height } = photoTarget({ width: bitmap.width, height: bitmap.height });
    const type = (await canEncodeWebp()) ? 'image/webp' : 'image/jpeg';
    const canvas = newCanvas(width, height);
    const ctx = canvas.getContext('2d') as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
    if (!ctx) throw new Error('the browser could not draw the photo');
    if (type === 'image/jpeg') {
      // JPEG has no transparency: what was see-through becomes white, not black.
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, width, height);
    }
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bitmap, 0, 0, width, height);
    const blob = await encode(canvas, type);
    return { blob, type: blob.type || type, name: uploadName(renameForType(file.name, blob.type || type)) };
  } finally {
    bitmap.close();
  }
}

/**
 * What to upload for `file`: a JPEG, PNG or WebP photo shrunk and
 * re-encoded without its metadata, unless `original` is asked for; anything
 * else (GIFs, other files) as it is. A photo the browser cannot decode is
 * sent as it is too.
 */
export async function prepareFile(file: File, original: boolean): Promise<Prepared> {
  const asIs = { blob: file, type: file.type || 'application/octet-stream', name: uploadName(file.name) };
  if (original || !isReencoded(file.type)) return asIs;
  try {
    return await shrinkPhoto(file);
  } catch {
    return asIs;
  }
}

/** An upload the server refused, or that never reached it. `code` is the server's, or `network` / `aborted`. */
export class UploadError extends Error {
  constructor(readonly error: ChatError) {
    super(error.message);
  }
}

/** An upload under way. */
export interface Upload {
  /** Resolves with the stored File, or rejects with an `UploadError`. */
  done: Promise<FileInfo>;
  /** Stops it; `done` then rejects with code `aborted`. */
  abort(): void;
}

/** The server's `{ error: { code, message } }`, or a sentence for a status without one. */
function refusal(status: number, body: unknown): ChatError {
  const e = (body as { error?: ChatError } | null)?.error;
  if (e && typeof e.code === 'string' && typeof e.message === 'string') return e;
  if (status === 413) return { code: 'too_large', message: 'This file is too large for this server.' };
  return { code: 'unavailable', message: `The server refused the file (HTTP ${status}).` };
}

/**
 * Uploads `file` to `room` (with a private room's `key`, and the access
 * `token` as a Bearer header), reporting the share sent so far (0..1) to
 * `onProgress`.
 */
export function uploadFile(opts: {
  room: string;
  key?: string;
  token: string;
  file: Prepared;
  onProgress: (fraction: number) => void;
}): Upload {
  const xhr = new XMLHttpRequest();
  const done = new Promise<FileInfo>((resolve, reject) => {
    xhr.open('POST', uploadUrl(opts.room, opts.file.name, opts.key));
    xhr.setRequestHeader('Content-Type', opts.file.type);
    if (opts.token) xhr.setRequestHeader('Authorization', `Bearer ${opts.token}`);
    xhr.responseType = 'json';
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) opts.onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      const body: unknown = xhr.response;
      const file = (body as { file?: FileInfo } | null)?.file;
      if (xhr.status === 201 || (xhr.status === 200 && file)) {
        if (file && typeof file.id === 'string') resolve(file);
        else reject(new UploadError({ code: 'unavailable', message: 'The server’s answer made no sense.' }));
      } else {
        reject(new UploadError(refusal(xhr.status, body)));
      }
    };
    xhr.onerror = () =>
      reject(new UploadError({ code: 'network', message: 'The upload failed. Check your connection and try again.' }));
    xhr.onabort = () => reject(new UploadError({ code: 'aborted', message: 'Cancelled.' }));
    xhr.send(opts.file.blob);
  });
  return { done, abort: () => xhr.abort() };
}
