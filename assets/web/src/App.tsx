import { useCallback, useEffect, useMemo, useState, useSyncExternalStore, type FormEvent } from 'react';
import { Banner, ReconnectBar } from './components/Banner';
import { Composer } from './components/Composer';
import { Confirm } from './components/Confirm';
import { ConnBadge } from './components/ConnBadge';
import { InviteIcon, LockIcon, MenuIcon, PhoneIcon, TrashIcon, UsersIcon } from './components/Icons';
import { InviteDialog } from './components/InviteDialog';
import { MessageList } from './components/MessageList';
import { PhoneDialog } from './components/PhoneDialog';
import { NamePrompt, TokenPrompt } from './components/Prompts';
import { Sidebar } from './components/Sidebar';
import { TypingLine } from './components/TypingLine';
import { ChatClient } from './lib/client';
import { describeError } from './lib/errors';
import { sharedNames } from './lib/identity';
import { alertSource } from './lib/incoming';
import { roomTitle, startAlerts, tabTitle } from './lib/notify';
import { DEFAULT_ROOM, isValidRoomId, roomLabel, type User } from './lib/protocol';
import { sidebarRooms } from './lib/rooms';
import { setUserKey, storage } from './lib/storage';
import { timelineItems, type TimelineItem } from './lib/timeline';
import { cleanAddress, readLinkParams } from './lib/url';

/**
 * Reads room, key and token from the address (an invite link or QR code),
 * remembers the secrets and takes them out of the address bar.
 */
function takeLinkParams(): string {
  const params = readLinkParams(window.location);
  const room = params.room && isValidRoomId(params.room) ? params.room : DEFAULT_ROOM;
  if (params.token) storage.setToken(params.token);
  if (params.key && params.room) storage.setKey(room, params.key);
  if (params.userKey) setUserKey(params.userKey);
  window.history.replaceState(window.history.state, '', cleanAddress(window.location, room));
  return room;
}

export function App() {
  const [initialRoom] = useState(takeLinkParams);
  const [name, setName] = useState(storage.name);

  if (!name) {
    return (
      <NamePrompt
        initial=""
        room={initialRoom}
        onSubmit={(n) => {
          storage.setName(n);
          setName(n);
        }}
      />
    );
  }
  return <Chat name={name} initialRoom={initialRoom} />;
}

function Chat({ name, initialRoom }: { name: string; initialRoom: string }) {
  // One client for the page's life; later name changes go through user:rename.
  const [client] = useState(() => new ChatClient({ name, token: storage.token(), room: initialRoom }));
  const s = useSyncExternalStore(client.subscribe, client.getState);
  const [drawer, setDrawer] = useState(false);
  const [dialog, setDialog] = useState<'invite' | 'phone' | 'name' | null>(null);
  // The room the delete dialog is about, held apart from the room on screen, which may change under it.
  const [roomToDelete, setRoomToDelete] = useState<{ id: string; label: string } | null>(null);

  useEffect(() => {
    client.start();
    return () => client.stop();
  }, [client]);
  useEffect(() => startAlerts(alertSource(client)), [client]);

  // Keep the room in the address so a reload comes back to it.
  useEffect(() => {
    window.history.replaceState(window.history.state, '', cleanAddress(window.location, s.room.id));
  }, [s.room.id]);

  // Every open room's unread messages, in the title.
  const unread = client.unreadTotal().messages;
  useEffect(() => {
    document.title = tabTitle(roomTitle(s.room), unread);
  }, [s.room.id, s.room.name, s.room.private, unread]);

  // An invite link pasted into this tab's address bar.
  useEffect(() => {
    const onHash = () => {
      const p = readLinkParams(window.location);
      if (p.userKey) {
        // An identity ("open on phone as me"): take the whole link, then start afresh as that person.
        takeLinkParams();
        window.location.reload();
        return;
      }
      if (p.token && p.token !== client.getState().token) client.reconnectWithToken(p.token);
      const room = p.room && isValidRoomId(p.room) ? p.room : null;
      if (room) client.open(room, p.key);
      window.history.replaceState(window.history.state, '', cleanAddress(window.location, room ?? client.getState().room.id));
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, [client]);

  useEffect(() => {
    if (!drawer) return;
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && setDrawer(false);
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [drawer]);

  // New functions when who "me" is changes, so that memoised messages re-render.
  const { me } = s;
  const isMine = useCallback((item: TimelineItem) => client.isMine(item), [client, me]);
  const isMe = useCallback((u: User) => client.isMe(u), [client, me]);
  const onLoadOlder = useCallback(() => void client.loadOlder(), [client]);
  const onRetry = useCallback((id: string) => client.retry(id), [client]);
  const onDiscard = useCallback((id: string) => client.discard(id), [client]);
  const onEdit = useCallback((item: TimelineItem, text: string) => client.editMessage(item.room, item.id!, text), [client]);
  const onDelete = useCallback((item: TimelineItem) => client.deleteMessage(item.room, item.id!), [client]);

  const room = s.room;
  const roomKey = s.keys[room.id];
  const fileAccess = useMemo(() => ({ token: s.token, key: roomKey }), [s.token, roomKey]);
  const items = useMemo(() => timelineItems(room.timeline), [room.timeline]);
  const rooms = useMemo(() => sidebarRooms(s), [s.rooms, s.keys, s.open, s.views]);
  // People who share a name with someone else in this room, by members and authors.
  const shared = useMemo(() => sharedNames([...room.members, ...items.map((i) => i.user)]), [room.members, items]);
  const maxLen = client.maxLen();
  const joined = room.status === 'joined';

  if (s.conn.unauthorized) {
    return <TokenPrompt hadToken={!!s.token} onSubmit={(token) => client.reconnectWithToken(token)} />;
  }

  const select = (id: string) => {
    setDrawer(false);
    client.open(id, s.keys[id]);
  };
  const openDrawer = () => {
    setDrawer(true);
    // The list behind "More rooms" is refreshed only every 20 s; opening the drawer is a good moment.
    void client.refreshRooms();
  };

  return (
    <div className={drawer ? 'app drawer-open' : 'app'}>
      <aside className="sidebar" id="sidebar" aria-label="Rooms and people">
        <Sidebar
          rooms={rooms}
          room={room}
          me={s.me}
          myName={s.name}
          isMe={isMe}
          shared={shared}
          onSelect={select}
          canLeave={(id) => client.canLeave(id)}
          onLeave={(id) => client.leave(id)}
          onCreate={async (id, isPrivate) => {
            const res = await client.createRoom(id, isPrivate);
            if (!res.ok) return res.message;
            setDrawer(false);
            if (res.key) setDialog('invite');
            return null;
          }}
          onClose={() => setDrawer(false)}
          onChangeName={() => {
            setDrawer(false);
            setDialog('name');
          }}
          onPhone={() => {
            setDrawer(false);
            setDialog('phone');
          }}
        />
      </aside>
      <div className="backdrop" onClick={() => setDrawer(false)} aria-hidden="true" />

      <main className="chat">
        <header className="chat-head">
          <button
            type="button"
            className="icon-btn drawer-only"
            data-testid="menu"
            aria-label="Rooms and people"
            aria-controls="sidebar"
            aria-expanded={drawer}
            onClick={openDrawer}
          >
            <MenuIcon />
          </button>
          <div className="room-title">
            <h1>
              {room.private ? <LockIcon size={16} /> : <span className="hash">#</span>}
              <span className="ellipsis">{roomLabel(room)}</span>
            </h1>
            {joined && (
              <button
                type="button"
                className="members-chip"
                onClick={openDrawer}
                aria-label={`${room.members.length} ${room.members.length === 1 ? 'person' : 'people'} here`}
              >
                <UsersIcon size={14} /> {room.members.length}
              </button>
            )}
          </div>
          <ConnBadge conn={s.conn} />
          {joined && client.canDelete(room.id) && (
            <button
              type="button"
              className="icon-btn"
              data-testid="delete-room"
              aria-label={`Delete ${room.private ? '' : '#'}${roomLabel(room)}`}
              title="Delete room"
              onClick={() => setRoomToDelete({ id: room.id, label: `${room.private ? '' : '#'}${roomLabel(room)}` })}
            >
              <TrashIcon size={20} />
            </button>
          )}
          <button
            type="button"
            className="icon-btn"
            data-testid="invite"
            aria-label={`Invite people to ${room.private ? '' : '#'}${roomLabel(room)}`}
            title="Invite people"
            disabled={!joined}
            onClick={() => setDialog('invite')}
          >
            <InviteIcon />
          </button>
          <button
            type="button"
            className="icon-btn not-on-phone"
            data-testid="open-on-phone"
            aria-label="Open on phone"
            title="Open on phone"
            onClick={() => setDialog('phone')}
          >
            <PhoneIcon />
          </button>
        </header>

        <ReconnectBar show={s.conn.everConnected && s.conn.state !== 'connected'} />
        <Banner notice={s.notice} onDismiss={client.dismissNotice} />

        {room.status === 'refused' ? (
          <Refused
            room={room.id}
            hint={
              room.error?.code === 'forbidden' || room.error?.code === 'not_found'
                ? 'Ask someone in the room for a fresh invite link, or paste its key here.'
                : describeError(room.error ?? { code: 'unavailable', message: '' }, 'join')
            }
            onKey={(key) => client.open(room.id, key)}
            onLobby={() => client.open(DEFAULT_ROOM)}
          />
        ) : (
          <MessageList
            roomId={room.id}
            roomTitle={`${room.private ? '' : '#'}${roomLabel(room)}`}
            items={items}
            isMine={isMine}
            hasOlder={room.hasOlder}
            loadingOlder={room.loadingOlder}
            joined={joined}
            maxLen={maxLen}
            access={fileAccess}
            myName={s.name}
            shared={shared}
            onLoadOlder={onLoadOlder}
            onRetry={onRetry}
            onDiscard={onDiscard}
            onEdit={onEdit}
            onDelete={onDelete}
          />
        )}

        {room.status !== 'refused' && (
          <>
            <TypingLine typing={room.typing} />
            <Composer
              key={room.id}
              room={room.id}
              roomKey={s.keys[room.id]}
              token={s.token}
              label={roomTitle(room)}
              disabled={!joined}
              maxLen={maxLen}
              onSend={(text, files) => client.send(text, files)}
              onTyping={() => client.noteTyping()}
              onIdle={() => client.stopTyping()}
            />
          </>
        )}
      </main>

      <div className="sr-only" aria-live="polite" aria-atomic="true" data-testid="announcer">
        {s.announcement.text}
      </div>

      {dialog === 'invite' && (
        <InviteDialog
          room={room.id}
          label={roomTitle(room)}
          isPrivate={room.private}
          roomKey={s.keys[room.id]}
          token={s.token}
          base={s.info?.phone_url || window.location.origin + '/'}
          localOnly={!!s.info && !s.info.phone_url}
          onClose={() => setDialog(null)}
        />
      )}
      {dialog === 'phone' && (
        <PhoneDialog
          room={room.id}
          roomKey={s.keys[room.id]}
          token={s.token}
          onClose={() => setDialog(null)}
        />
      )}
      {dialog === 'name' && (
        <div className="gate-overlay">
          <NamePrompt
            initial={s.name}
            room={room.id}
            onCancel={() => setDialog(null)}
            onSubmit={(n) => {
              setDialog(null);
              if (n !== s.name) void client.rename(n);
            }}
          />
        </div>
      )}
      {roomToDelete && (
        <Confirm
          title={`Delete ${roomToDelete.label}?`}
          action="Delete room"
          onConfirm={() => client.deleteRoom(roomToDelete.id)}
          onClose={() => setRoomToDelete(null)}
        >
          <p>The room and all its messages are deleted for everyone in it. This can’t be undone.</p>
        </Confirm>
      )}
    </div>
  );
}

function Refused({
  room,
  hint,
  onKey,
  onLobby,
}: {
  room: string;
  hint: string;
  onKey: (key: string) => void;
  onLobby: () => void;
}) {
  const [key, setKey] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (key.trim()) onKey(key.trim());
  };
  return (
    <div className="refused" data-testid="refused">
      <div className="refused-card">
        <span className="refused-icon">
          <LockIcon size={28} />
        </span>
        <h2>Can’t open #{room}</h2>
        <p>{hint}</p>
        <form onSubmit={submit} className="refused-form">
          <label htmlFor="room-key" className="sr-only">
            Invite key
          </label>
          <input
            id="room-key"
            className="input"
            placeholder="Paste an invite key"
            value={key}
            autoComplete="off"
            onChange={(e) => setKey(e.target.value)}
          />
          <button type="submit" className="btn" disabled={!key.trim()}>
            Try key
          </button>
        </form>
        {room !== DEFAULT_ROOM && (
          <button type="button" className="btn primary" onClick={onLobby}>
            Go to #{DEFAULT_ROOM}
          </button>
        )}
      </div>
    </div>
  );
}
