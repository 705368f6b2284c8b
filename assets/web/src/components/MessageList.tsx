import { Fragment, useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { dayLabel, sameDay } from '../lib/format';
import { sharesName } from '../lib/identity';
import type { TimelineItem } from '../lib/timeline';
import { mentions } from '../lib/unread';
import { Confirm } from './Confirm';
import { ArrowDownIcon } from './Icons';
import { MessageItem } from './MessageItem';
import type { FileAccess } from '../lib/files';

/** Within this distance of the bottom the list follows new messages. */
const STICK_PX = 120;
/** Within this distance of the top, older history is fetched. */
const LOAD_OLDER_PX = 200;
/** Consecutive messages by one person this close together share a header. */
const GROUP_MS = 5 * 60_000;

export function MessageList({
  roomId,
  roomTitle,
  items,
  isMine,
  hasOlder,
  loadingOlder,
  joined,
  maxLen,
  access,
  myName,
  shared,
  onLoadOlder,
  onRetry,
  onDiscard,
  onEdit,
  onDelete,
}: {
  roomId: string;
  /** How the room is shown: `#id`, or a private room's name. */
  roomTitle: string;
  items: TimelineItem[];
  isMine: (item: TimelineItem) => boolean;
  hasOlder: boolean;
  loadingOlder: boolean;
  joined: boolean;
  maxLen: number;
  /** What the URLs of attached files need: the page's token, the private room's key. */
  access: FileAccess;
  /** The reader's current name: messages that mention it are highlighted. */
  myName: string;
  /** Names more than one person here goes by (from `sharedNames`): their messages carry a tag. */
  shared: ReadonlySet<string>;
  onLoadOlder: () => void;
  onRetry: (clientId: string) => void;
  onDiscard: (clientId: string) => void;
  onEdit: (item: TimelineItem, text: string) => Promise<boolean>;
  onDelete: (item: TimelineItem) => Promise<boolean>;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const prev = useRef({ room: '', first: '', last: '', height: 0, top: 0 });
  const [unseen, setUnseen] = useState(0);
  const [deleting, setDeleting] = useState<TimelineItem | null>(null);

  const scrollToBottom = useCallback(() => {
    const el = ref.current;
    if (!el) return;
    el.scrollTop = el.scrollHeight;
    atBottom.current = true;
    setUnseen(0);
  }, []);

  // Keep the view steady as messages arrive: follow the bottom when the reader
  // is there, hold the reading position when older history is put on top.
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const p = prev.current;
    const first = items[0]?.key ?? '';
    const lastItem = items[items.length - 1];
    const last = lastItem?.key ?? '';
    if (p.room !== roomId) {
      el.scrollTop = el.scrollHeight;
      atBottom.current = true;
      setUnseen(0);
    } else if (first !== p.first && last === p.last && p.first !== '') {
      el.scrollTop = p.top + (el.scrollHeight - p.height);
    } else if (last !== p.last) {
      const ownNew = lastItem && lastItem.state !== 'sent' && isMine(lastItem);
      if (atBottom.current || ownNew) {
        el.scrollTop = el.scrollHeight;
        atBottom.current = true;
      } else {
        setUnseen((n) => n + 1);
      }
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
    prev.current = { room: roomId, first, last, height: el.scrollHeight, top: el.scrollTop };
  }, [items, roomId, isMine]);

  // The list may not fill the screen yet: then there is nothing to scroll up
  // to, so fetch older history straight away.
  useEffect(() => {
    const el = ref.current;
    if (el && joined && hasOlder && !loadingOlder && el.scrollHeight <= el.clientHeight + LOAD_OLDER_PX) {
      onLoadOlder();
    }
  }, [items, joined, hasOlder, loadingOlder, onLoadOlder]);

  // Phones resize the list when the keyboard opens; stay at the bottom then.
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => {
      if (atBottom.current) el.scrollTop = el.scrollHeight;
      prev.current.height = el.scrollHeight;
      prev.current.top = el.scrollTop;
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const onScroll = () => {
    const el = ref.current;
    if (!el) return;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_PX;
    if (atBottom.current && unseen) setUnseen(0);
    prev.current.top = el.scrollTop;
    prev.current.height = el.scrollHeight;
    if (el.scrollTop < LOAD_OLDER_PX && hasOlder && !loadingOlder) onLoadOlder();
  };

  return (
    <div className="messages-wrap">
      <div
        className="messages"
        data-testid="messages"
        ref={ref}
        onScroll={onScroll}
        aria-label={`Messages in ${roomTitle}`}
        aria-busy={loadingOlder || undefined}
        tabIndex={0}
      >
        <div className="messages-inner">
          {hasOlder ? (
            <div className="history-edge">{loadingOlder ? 'Loading older messages…' : ' '}</div>
          ) : (
            joined && (
              <div className="history-start" data-testid="history-start">
                <strong>{roomTitle}</strong>
                <span>{items.length ? 'This is the start of the conversation.' : 'No messages yet. Say hello!'}</span>
              </div>
            )
          )}
          {items.map((item, i) => {
            const before = items[i - 1];
            const newDay = !before || !sameDay(before.ts, item.ts);
            const mine = isMine(item);
            const continued =
              !newDay &&
              !!before &&
              before.user.id === item.user.id &&
              before.user.name === item.user.name &&
              isMine(before) === mine &&
              item.ts - before.ts < GROUP_MS;
            return (
              <Fragment key={item.key}>
                {newDay && (
                  <div className="day" role="separator">
                    <span>{dayLabel(item.ts)}</span>
                  </div>
                )}
                <MessageItem
                  item={item}
                  mine={mine}
                  continued={continued}
                  mention={!mine && mentions(item.text, myName)}
                  tagged={sharesName(shared, item.user)}
                  maxLen={maxLen}
                  access={access}
                  onRetry={onRetry}
                  onDiscard={onDiscard}
                  onEdit={onEdit}
                  onDelete={setDeleting}
                />
              </Fragment>
            );
          })}
        </div>
      </div>
      {unseen > 0 && (
        <button type="button" className="new-pill" onClick={scrollToBottom}>
          <ArrowDownIcon /> {unseen === 1 ? '1 new message' : `${unseen} new messages`}
        </button>
      )}
      {deleting && (
        <Confirm title="Delete this message?" action="Delete" onConfirm={() => onDelete(deleting)} onClose={() => setDeleting(null)}>
          <p>Everyone in the room will see “message deleted” in its place. This can’t be undone.</p>
        </Confirm>
      )}
    </div>
  );
}
