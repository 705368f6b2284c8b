import { memo, useLayoutEffect, useRef, useState, type KeyboardEvent, type MouseEvent } from 'react';
import { describeError } from '../lib/errors';
import { formatFull, formatTime } from '../lib/format';
import { userHue, userTag } from '../lib/identity';
import type { TimelineItem } from '../lib/timeline';
import { Avatar } from './Avatar';
import { AlertIcon, CheckIcon, ClockIcon, EditIcon, TrashIcon } from './Icons';
import { MessageFiles } from './MessageFiles';
import { MessageText } from './MessageText';
import { useAutoGrow } from './useAutoGrow';
import type { FileAccess } from '../lib/files';

export const MessageItem = memo(function MessageItem({
  item,
  mine,
  continued,
  mention,
  tagged,
  maxLen,
  access,
  onRetry,
  onDiscard,
  onEdit,
  onDelete,
}: {
  item: TimelineItem;
  mine: boolean;
  /** Same sender as the message above, shortly before: no repeated name. */
  continued: boolean;
  /** It mentions the reader by name: highlighted. */
  mention: boolean;
  /** Its author shares their name with someone else here: the name gets a tag from their id. */
  tagged: boolean;
  maxLen: number;
  /** What the URLs of attached files need: the page's token, the private room's key. */
  access: FileAccess;
  onRetry: (clientId: string) => void;
  onDiscard: (clientId: string) => void;
  /** Saves a new text for an own message; resolves false when the server refused it. */
  onEdit: (item: TimelineItem, text: string) => Promise<boolean>;
  /** Asks to delete an own message. */
  onDelete: (item: TimelineItem) => void;
}) {
  const [editing, setEditing] = useState(false);
  // On touch screens, where nothing hovers, a tap on an own message shows its tools.
  const [picked, setPicked] = useState(false);
  const editable = mine && item.state === 'sent' && !item.deleted && !!item.id;
  const cls = [
    'msg',
    mine ? 'mine' : 'theirs',
    continued ? 'cont' : '',
    item.state,
    item.deleted ? 'deleted' : '',
    mention && !item.deleted ? 'mention' : '',
    picked && editable ? 'picked' : '',
  ]
    .filter(Boolean)
    .join(' ');
  const stateLabel = item.state === 'sending' ? 'Sending' : item.state === 'failed' ? 'Not sent' : 'Sent';

  const onBubbleClick = (e: MouseEvent) => {
    if (editable && !editing && !(e.target as Element).closest('a, button')) setPicked((p) => !p);
  };

  return (
    <div
      className={cls}
      data-testid="message"
      data-id={item.id}
      data-state={item.state}
      data-client-id={item.clientId}
      data-user-id={item.user.id || undefined}
      data-deleted={item.deleted || undefined}
      data-mention={(mention && !item.deleted) || undefined}
    >
      {!mine && (continued ? <span className="avatar-gap" /> : <Avatar user={item.user} />)}
      <div className="msg-col">
        {editable && !editing && (
          <div className="msg-tools">
            <button
              type="button"
              className="icon-btn small"
              data-testid="edit-message"
              aria-label="Edit message"
              title="Edit"
              onClick={() => {
                setPicked(false);
                setEditing(true);
              }}
            >
              <EditIcon />
            </button>
            <button
              type="button"
              className="icon-btn small"
              data-testid="delete-message"
              aria-label="Delete message"
              title="Delete"
              onClick={() => {
                setPicked(false);
                onDelete(item);
              }}
            >
              <TrashIcon />
            </button>
          </div>
        )}
        {editing ? (
          <EditBox
            initial={item.text}
            maxLen={maxLen}
            onCancel={() => setEditing(false)}
            onSave={async (text) => {
              if (text === item.text || (await onEdit(item, text))) setEditing(false);
            }}
          />
        ) : (
          <div className="bubble" onClick={onBubbleClick}>
            {!mine && !continued && (
              <div className="msg-name" style={{ ['--hue' as string]: userHue(item.user) }}>
                {item.user.name}
                {tagged && (
                  <span className="user-tag" data-testid="user-tag">
                    {userTag(item.user.id)}
                  </span>
                )}
              </div>
            )}
            {item.deleted ? (
              <div className="msg-text msg-deleted" data-testid="message-deleted">
                message deleted
              </div>
            ) : (
              <>
                {item.files && <MessageFiles files={item.files} access={access} />}
                {(item.text || !item.files) && <MessageText text={item.text} />}
              </>
            )}
            <div className="msg-meta">
              {item.edited && !item.deleted && (
                <span className="msg-edited" data-testid="edited" title={`Edited ${formatFull(item.edited)}`}>
                  (edited)
                </span>
              )}
              <time dateTime={new Date(item.ts).toISOString()} title={formatFull(item.ts)}>
                {formatTime(item.ts)}
              </time>
              {mine && !item.deleted && (
                <span className="msg-state" title={stateLabel} aria-label={stateLabel}>
                  {item.state === 'sending' ? <ClockIcon /> : item.state === 'failed' ? <AlertIcon size={13} /> : <CheckIcon />}
                </span>
              )}
            </div>
          </div>
        )}
        {item.state === 'failed' && item.clientId && (
          <div className="msg-error" data-testid="message-error">
            <span>{item.error ? describeError(item.error, 'send', maxLen) : 'Not sent.'}</span>
            <span className="msg-actions">
              <button type="button" className="link-btn" data-testid="retry" onClick={() => onRetry(item.clientId!)}>
                Retry
              </button>
              <button type="button" className="link-btn muted" onClick={() => onDiscard(item.clientId!)}>
                Delete
              </button>
            </span>
          </div>
        )}
      </div>
    </div>
  );
});

/** An own message's text, editable in place: Enter saves, Shift+Enter is a new line, Escape cancels. */
function EditBox({
  initial,
  maxLen,
  onSave,
  onCancel,
}: {
  initial: string;
  maxLen: number;
  onSave: (text: string) => Promise<void>;
  onCancel: () => void;
}) {
  const [text, setText] = useState(initial);
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLTextAreaElement>(null);
  const tooLong = Array.from(text).length > maxLen;
  const canSave = !busy && text.trim().length > 0 && !tooLong;

  useAutoGrow(ref, text);

  useLayoutEffect(() => {
    const el = ref.current;
    el?.focus();
    el?.setSelectionRange(el.value.length, el.value.length);
  }, []);

  const save = async () => {
    if (!canSave) return;
    setBusy(true);
    await onSave(text);
    setBusy(false);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      onCancel();
    } else if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void save();
    }
  };

  return (
    <div className="bubble editing">
      <textarea
        ref={ref}
        className="edit-box"
        data-testid="edit-box"
        aria-label="Edit message"
        aria-invalid={tooLong || undefined}
        rows={1}
        value={text}
        disabled={busy}
        enterKeyHint="done"
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
      />
      <div className="edit-actions">
        <span className="muted small">{tooLong ? 'Too long' : 'Enter to save · Esc to cancel'}</span>
        <button type="button" className="link-btn muted" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" className="link-btn" data-testid="edit-save" disabled={!canSave} onClick={() => void save()}>
          Save
        </button>
      </div>
    </div>
  );
}
