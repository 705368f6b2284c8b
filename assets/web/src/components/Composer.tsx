import { useEffect, useRef, useState, type ClipboardEvent, type FormEvent, type KeyboardEvent } from 'react';
import type { FileInfo } from '../lib/protocol';
import { AttachmentTray } from './AttachmentTray';
import { CameraIcon, PaperclipIcon, SendIcon } from './Icons';
import { useAttachments } from './useAttachments';
import { useAutoGrow } from './useAutoGrow';

export function Composer({
  room,
  roomKey,
  token,
  label,
  disabled,
  maxLen,
  onSend,
  onTyping,
  onIdle,
}: {
  /** The room files are uploaded to, with a private room's key. */
  room: string;
  roomKey?: string;
  /** The page's access token, for uploads. */
  token: string;
  /** The room as people call it: `#lobby`, or a private room's name. */
  label: string;
  disabled: boolean;
  maxLen: number;
  /** Sends the text with the files (already uploaded); either may be empty, not both. */
  onSend: (text: string, files: FileInfo[]) => void;
  onTyping: () => void;
  onIdle: () => void;
}) {
  const [text, setText] = useState('');
  const [sending, setSending] = useState(false);
  const attachments = useAttachments(room, roomKey, token);
  const ref = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const photoInput = useRef<HTMLInputElement>(null);
  const length = Array.from(text).length;
  const tooLong = length > maxLen;
  const hasFiles = attachments.items.length > 0;
  const canSend = !disabled && !sending && (text.trim().length > 0 || hasFiles) && !tooLong;
  const dragging = useFileDrop(!disabled && !sending, attachments.add);

  useAutoGrow(ref, text);

  const submit = async (e?: FormEvent) => {
    e?.preventDefault();
    if (!canSend) return;
    let files: FileInfo[] = [];
    if (hasFiles) {
      setSending(true);
      const uploaded = await attachments.uploadAll();
      setSending(false);
      if (!uploaded) return; // the tray says why
      files = uploaded;
    }
    if (!text.trim() && files.length === 0) return; // every file was taken out meanwhile
    onSend(text, files);
    setText('');
    attachments.clear();
    ref.current?.focus();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void submit();
    }
  };

  // Files on the clipboard (a screenshot, say) are attached; the text of a mixed paste still goes in.
  const onPaste = (e: ClipboardEvent<HTMLTextAreaElement>) => {
    const files = Array.from(e.clipboardData.files);
    if (files.length === 0 || sending) return;
    attachments.add(files);
    if (!e.clipboardData.types.includes('text/plain')) e.preventDefault();
  };

  const onPicked = (input: HTMLInputElement) => {
    attachments.add(Array.from(input.files ?? []));
    input.value = ''; // picking the same file again is a change too
  };

  const near = length > maxLen * 0.8;
  return (
    <>
      {dragging && (
        <div className="drop-overlay" data-testid="drop-overlay" aria-hidden="true">
          <span>Drop files to attach them</span>
        </div>
      )}
      <AttachmentTray attachments={attachments} sending={sending} onRetry={() => void submit()} onCancel={attachments.cancel} />
      <form className="composer" onSubmit={(e) => void submit(e)}>
        <input
          ref={fileInput}
          type="file"
          multiple
          hidden
          data-testid="file-input"
          onChange={(e) => onPicked(e.currentTarget)}
        />
        <input
          ref={photoInput}
          type="file"
          accept="image/*"
          multiple
          hidden
          data-testid="photo-input"
          onChange={(e) => onPicked(e.currentTarget)}
        />
        <button
          type="button"
          className="icon-btn attach-btn"
          data-testid="attach"
          aria-label="Attach files"
          title="Attach files"
          disabled={disabled || sending}
          onClick={() => fileInput.current?.click()}
        >
          <PaperclipIcon />
        </button>
        <button
          type="button"
          className="icon-btn attach-btn"
          data-testid="attach-photo"
          aria-label="Add a photo"
          title="Add a photo"
          disabled={disabled || sending}
          onClick={() => photoInput.current?.click()}
        >
          <CameraIcon />
        </button>
        <label htmlFor="composer" className="sr-only">
          Message {label}
        </label>
        <div className={tooLong ? 'composer-box over' : 'composer-box'}>
          <textarea
            id="composer"
            ref={ref}
            data-testid="composer"
            rows={1}
            value={text}
            placeholder={disabled ? 'Joining…' : hasFiles ? 'Add a caption' : `Message ${label}`}
            enterKeyHint="send"
            autoComplete="off"
            aria-describedby={near ? 'composer-count' : undefined}
            aria-invalid={tooLong || undefined}
            disabled={disabled}
            readOnly={sending}
            onChange={(e) => {
              setText(e.target.value);
              if (e.target.value) onTyping();
              else onIdle();
            }}
            onKeyDown={onKeyDown}
            onPaste={onPaste}
            onBlur={onIdle}
          />
          {near && (
            <span id="composer-count" className="composer-count" aria-live="polite">
              {tooLong ? `${length - maxLen} characters too long` : `${maxLen - length} left`}
            </span>
          )}
        </div>
        <button
          type="submit"
          className="send-btn"
          data-testid="send"
          aria-label={sending ? 'Sending files' : 'Send'}
          aria-busy={sending || undefined}
          disabled={!canSend}
        >
          <SendIcon />
        </button>
      </form>
    </>
  );
}

/**
 * While `enabled`, files dragged anywhere onto the page are attached with
 * `add` when dropped. Returns whether files are being dragged over it.
 */
function useFileDrop(enabled: boolean, add: (files: File[]) => void): boolean {
  const [dragging, setDragging] = useState(false);
  useEffect(() => {
    if (!enabled) {
      setDragging(false);
      return;
    }
    const carriesFiles = (e: DragEvent) => !!e.dataTransfer && Array.from(e.dataTransfer.types).includes('Files');
    const onOver = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
      setDragging(true);
    };
    // `relatedTarget` is null only when the drag leaves the window.
    const onLeave = (e: DragEvent) => {
      if (e.relatedTarget === null) setDragging(false);
    };
    const onDrop = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      setDragging(false);
      add(Array.from(e.dataTransfer?.files ?? []));
    };
    window.addEventListener('dragover', onOver);
    window.addEventListener('dragleave', onLeave);
    window.addEventListener('drop', onDrop);
    return () => {
      window.removeEventListener('dragover', onOver);
      window.removeEventListener('dragleave', onLeave);
      window.removeEventListener('drop', onDrop);
    };
  }, [enabled, add]);
  return dragging;
}
