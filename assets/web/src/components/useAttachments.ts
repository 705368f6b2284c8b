// The files waiting in the composer's tray, and their uploads when the
// message is sent.

import { useCallback, useEffect, useRef, useState } from 'react';
import { MAX_FILES, isInlineImage } from '../lib/files';
import type { FileInfo } from '../lib/protocol';
import { UploadError, prepareFile, uploadFile, type Upload } from '../lib/upload';

export type AttachmentStatus = 'waiting' | 'preparing' | 'uploading' | 'done' | 'failed';

export interface Attachment {
  /** This page's id for it, for React keys. */
  key: string;
  file: File;
  /** An object URL of the file, for a thumbnail; only for images. */
  preview?: string;
  status: AttachmentStatus;
  /** Share uploaded, 0..1, while uploading. */
  progress: number;
  /** Why the last upload failed, in the server's words. */
  error?: string;
  /** The stored file, once uploaded. */
  uploaded?: FileInfo;
}

export interface Attachments {
  items: readonly Attachment[];
  /** Adds files to the tray, up to `MAX_FILES`; says so when some were left out. */
  add(files: readonly File[]): void;
  /** Takes a file out of the tray, stopping its upload. */
  remove(key: string): void;
  /** A sentence about the last files left out, if any. */
  note: string | null;
  /** Send photos as they are (full size, with their metadata) instead of shrunk. */
  original: boolean;
  setOriginal(original: boolean): void;
  /**
   * Uploads every file not uploaded yet, all at once. Resolves with the
   * stored files in tray order when all are uploaded, or null when one
   * failed or `cancel` was called (the tray then says why).
   */
  uploadAll(): Promise<FileInfo[] | null>;
  /** Stops the uploads under way; their files stay in the tray. */
  cancel(): void;
  /** Empties the tray, and asks for shrunk photos again. */
  clear(): void;
}

let seq = 0;

/** The tray of room `room` (with its `roomKey`), uploading with the access `token`. Uploads stop on unmount. */
export function useAttachments(room: string, roomKey: string | undefined, token: string): Attachments {
  const [items, setItems] = useState<Attachment[]>([]);
  const [note, setNote] = useState<string | null>(null);
  const [original, setOriginal] = useState(false);
  const uploads = useRef(new Map<string, Upload>());
  /** Files taken out of the tray: their uploads end without stopping the others. */
  const removed = useRef(new Set<string>());
  /** Bumped by `cancel`: a file still being prepared under an older value is not uploaded. */
  const generation = useRef(0);
  // The current items for async code, which would otherwise see those of its render.
  const current = useRef(items);
  current.current = items;

  const patch = useCallback((key: string, p: Partial<Attachment>) => {
    setItems((list) => list.map((a) => (a.key === key ? { ...a, ...p } : a)));
  }, []);

  const stop = useCallback((key: string) => {
    uploads.current.get(key)?.abort();
    uploads.current.delete(key);
  }, []);

  useEffect(
    () => () => {
      for (const u of uploads.current.values()) u.abort();
      for (const a of current.current) if (a.preview) URL.revokeObjectURL(a.preview);
    },
    [],
  );

  const add = useCallback((files: readonly File[]) => {
    const room = MAX_FILES - current.current.length;
    const taken = files.slice(0, Math.max(0, room));
    const left = files.length - taken.length;
    setNote(left > 0 ? `A message carries up to ${MAX_FILES} files; ${left === 1 ? '1 was' : `${left} were`} left out.` : null);
    if (taken.length === 0) return;
    const added = taken.map<Attachment>((file) => ({
      key: `a${++seq}`,
      file,
      preview: isInlineImage(file.type) ? URL.createObjectURL(file) : undefined,
      status: 'waiting',
      progress: 0,
    }));
    setItems((list) => [...list, ...added]);
  }, []);

  const remove = useCallback(
    (key: string) => {
      removed.current.add(key);
      stop(key);
      const a = current.current.find((x) => x.key === key);
      if (a?.preview) URL.revokeObjectURL(a.preview);
      setItems((list) => list.filter((x) => x.key !== key));
      setNote(null);
    },
    [stop],
  );

  /** Uploads one file; resolves with the stored file, `gone` when it was taken out of the tray, or null when it failed or was cancelled. */
  const uploadOne = useCallback(
    async (a: Attachment, asOriginal: boolean): Promise<FileInfo | 'gone' | null> => {
      if (a.uploaded) return a.uploaded;
      const gen = generation.current;
      patch(a.key, { status: 'preparing', progress: 0, error: undefined });
      const prepared = await prepareFile(a.file, asOriginal);
      if (removed.current.has(a.key)) return 'gone';
      if (generation.current !== gen) {
        patch(a.key, { status: 'waiting' });
        return null;
      }
      patch(a.key, { status: 'uploading' });
      const upload = uploadFile({
        room,
        key: roomKey,
        token,
        file: prepared,
        onProgress: (progress) => patch(a.key, { progress }),
      });
      uploads.current.set(a.key, upload);
      try {
        const uploaded = await upload.done;
        patch(a.key, { status: 'done', progress: 1, uploaded });
        return uploaded;
      } catch (e) {
        if (removed.current.has(a.key)) return 'gone';
        const error = e instanceof UploadError ? e.error : { code: 'network', message: String(e) };
        if (error.code === 'aborted') patch(a.key, { status: 'waiting', progress: 0 });
        else patch(a.key, { status: 'failed', error: error.message });
        return null;
      } finally {
        if (uploads.current.get(a.key) === upload) uploads.current.delete(a.key);
      }
    },
    [room, roomKey, token, patch],
  );

  const uploadAll = useCallback(async () => {
    const results = (await Promise.all(current.current.map((a) => uploadOne(a, original)))).filter((r) => r !== 'gone');
    return results.every((r): r is FileInfo => r !== null) ? results : null;
  }, [uploadOne, original]);

  const cancel = useCallback(() => {
    generation.current++;
    for (const key of [...uploads.current.keys()]) stop(key);
  }, [stop]);

  const clear = useCallback(() => {
    cancel();
    for (const a of current.current) if (a.preview) URL.revokeObjectURL(a.preview);
    setItems([]);
    setNote(null);
    setOriginal(false);
  }, [cancel]);

  return { items, add, remove, note, original, setOriginal, uploadAll, cancel, clear };
}
