import { memo } from 'react';
import { describeError } from '../lib/errors';
import { formatFull, formatTime } from '../lib/format';
import type { TimelineItem } from '../lib/timeline';
import { Avatar } from './Avatar';
import { AlertIcon, CheckIcon, ClockIcon } from './Icons';
import { MessageText } from './MessageText';
import { hueFor } from '../lib/format';

export const MessageItem = memo(function MessageItem({
  item,
  mine,
  continued,
  maxLen,
  onRetry,
  onDiscard,
}: {
  item: TimelineItem;
  mine: boolean;
  /** Same sender as the message above, shortly before: no repeated name. */
  continued: boolean;
  maxLen: number;
  onRetry: (clientId: string) => void;
  onDiscard: (clientId: string) => void;
}) {
  const cls = ['msg', mine ? 'mine' : 'theirs', continued ? 'cont' : '', item.state].filter(Boolean).join(' ');
  const stateLabel = item.state === 'sending' ? 'Sending' : item.state === 'failed' ? 'Not sent' : 'Sent';
  return (
    <div
      className={cls}
      data-testid="message"
      data-id={item.id}
      data-state={item.state}
      data-client-id={item.clientId}
    >
      {!mine && (continued ? <span className="avatar-gap" /> : <Avatar user={item.user} />)}
      <div className="msg-col">
        <div className="bubble">
          {!mine && !continued && (
            <div className="msg-name" style={{ ['--hue' as string]: hueFor(item.user.name) }}>
              {item.user.name}
            </div>
          )}
          <MessageText text={item.text} />
          <div className="msg-meta">
            <time dateTime={new Date(item.ts).toISOString()} title={formatFull(item.ts)}>
              {formatTime(item.ts)}
            </time>
            {mine && (
              <span className="msg-state" title={stateLabel} aria-label={stateLabel}>
                {item.state === 'sending' ? <ClockIcon /> : item.state === 'failed' ? <AlertIcon size={13} /> : <CheckIcon />}
              </span>
            )}
          </div>
        </div>
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
