import { useState, type FormEvent } from 'react';
import type { RoomView } from '../lib/client';
import { sharesName, userTag } from '../lib/identity';
import { isValidRoomId, roomLabel, slugRoom, type User } from '../lib/protocol';
import type { SidebarRoom, SidebarRooms } from '../lib/rooms';
import { Avatar } from './Avatar';
import { CloseIcon, HashIcon, LockIcon, PhoneIcon } from './Icons';
import { NotifyToggle } from './NotifyToggle';

export interface SidebarProps {
  rooms: SidebarRooms;
  room: RoomView;
  /** This person, once the server has said who they are. */
  me: User | null;
  /** This person's display name. */
  myName: string;
  isMe: (u: User) => boolean;
  /** Names more than one person here goes by: those members carry a tag. */
  shared: ReadonlySet<string>;
  onSelect: (room: string) => void;
  /** Whether a room of "Your rooms" offers to leave it. */
  canLeave: (room: string) => boolean;
  /** Leaves a room for good (a reload does not rejoin it). */
  onLeave: (room: string) => void;
  onCreate: (name: string, isPrivate: boolean) => Promise<string | null>;
  onClose: () => void;
  onChangeName: () => void;
  onPhone: () => void;
}

export function Sidebar(p: SidebarProps) {
  return (
    <>
      <div className="side-head">
        <span className="brand">
          <span className="brand-mark" aria-hidden="true">rt</span>
          rtchat
        </span>
        <button type="button" className="icon-btn drawer-only" aria-label="Close menu" onClick={p.onClose}>
          <CloseIcon />
        </button>
      </div>
      <div className="side-scroll">
        <RoomList
          title="Your rooms"
          id="rooms-h"
          rooms={p.rooms.joined}
          current={p.room.id}
          onSelect={p.onSelect}
          canLeave={p.canLeave}
          onLeave={p.onLeave}
        />
        {p.rooms.others.length > 0 && (
          <RoomList title="More rooms" id="more-rooms-h" rooms={p.rooms.others} current={p.room.id} onSelect={p.onSelect} />
        )}
        <CreateRoom onCreate={p.onCreate} />
        {p.room.status !== 'refused' && <Members room={p.room} isMe={p.isMe} shared={p.shared} />}
      </div>
      <div className="side-foot">
        <div className="whoami-row">
          <Avatar user={p.me ?? { id: '', name: p.myName }} size={32} />
          <div className="whoami" title={p.me ? `${p.myName} ${userTag(p.me.id)}` : p.myName}>
            <span className="muted small">Chatting as</span>
            <strong className="ellipsis" data-testid="my-name">{p.myName}</strong>
          </div>
          <button type="button" className="btn ghost small" onClick={p.onChangeName}>
            Change name
          </button>
        </div>
        <NotifyToggle />
        <button type="button" className="btn small drawer-only" onClick={p.onPhone}>
          <PhoneIcon /> Open on another device
        </button>
      </div>
    </>
  );
}

function RoomList({
  title,
  id,
  rooms,
  current,
  onSelect,
  canLeave,
  onLeave,
}: {
  title: string;
  id: string;
  rooms: SidebarRoom[];
  current: string;
  onSelect: (room: string) => void;
  /** Given for the rooms one is in: each gets a leave button. */
  canLeave?: (room: string) => boolean;
  onLeave?: (room: string) => void;
}) {
  return (
    <nav className="side-section" aria-labelledby={id}>
      <h2 id={id} className="side-h">
        {title}
      </h2>
      <ul className="room-list">
        {rooms.map((r) => (
          <li key={r.id} className={r.id === current ? 'room-row active' : 'room-row'}>
            <RoomButton room={r} active={r.id === current} joined={!!onLeave} onSelect={onSelect} />
            {onLeave && canLeave?.(r.id) && (
              <button
                type="button"
                className="icon-btn small room-leave"
                data-testid="leave-room"
                data-room={r.id}
                aria-label={`Leave ${r.private ? '' : '#'}${roomLabel(r)}`}
                title="Leave room"
                onClick={() => onLeave(r.id)}
              >
                <CloseIcon size={14} />
              </button>
            )}
          </li>
        ))}
      </ul>
    </nav>
  );
}

function RoomButton({
  room: r,
  active,
  joined,
  onSelect,
}: {
  room: SidebarRoom;
  active: boolean;
  joined: boolean;
  onSelect: (room: string) => void;
}) {
  const people = `${r.members} ${r.members === 1 ? 'person' : 'people'} here`;
  const { messages, mentions } = r.unread;
  const unreadLabel = messages
    ? `${messages} unread${mentions ? `, ${mentions} mentioning you` : ''}`
    : '';
  return (
    <button
      type="button"
      className={['room-item', active ? 'active' : '', messages ? 'has-unread' : ''].filter(Boolean).join(' ')}
      data-testid="room-item"
      data-room={r.id}
      data-joined={joined || undefined}
      aria-current={active ? 'page' : undefined}
      aria-label={`${r.private ? '' : '#'}${roomLabel(r)}, ${unreadLabel ? `${unreadLabel}, ` : ''}${people}`}
      onClick={() => onSelect(r.id)}
    >
      <span className="room-icon">{r.private ? <LockIcon /> : <HashIcon />}</span>
      <span className="room-name ellipsis">{roomLabel(r)}</span>
      {mentions > 0 && (
        <span className="unread mention" data-testid="mentions" title={`${mentions} mentioning you`}>
          @{mentions}
        </span>
      )}
      {messages > 0 && (
        <span className="unread" data-testid="unread" title={`${messages} unread`}>
          {messages}
        </span>
      )}
      <span className={r.members > 0 ? 'count live' : 'count'} title={people}>
        {r.members}
      </span>
    </button>
  );
}

function CreateRoom({ onCreate }: { onCreate: (name: string, isPrivate: boolean) => Promise<string | null> }) {
  const [name, setName] = useState('');
  const [priv, setPriv] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  // A public room goes by an id made from the name; a private one keeps the name as typed.
  const id = slugRoom(name);
  const invalid = !priv && name.trim() !== '' && !isValidRoomId(id);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (invalid || busy) return;
    setBusy(true);
    setError('');
    const err = await onCreate(priv ? name.trim() : id, priv);
    setBusy(false);
    if (err) setError(err);
    else {
      setName('');
      setPriv(false);
    }
  };

  return (
    <form className="side-section create" onSubmit={submit} aria-labelledby="create-h">
      <h2 id="create-h" className="side-h">
        New room
      </h2>
      <label className="sr-only" htmlFor="create-room-name">
        Room name
      </label>
      <div className="create-row">
        <input
          id="create-room-name"
          data-testid="create-room-name"
          className="input"
          placeholder={priv ? 'secret-plans (optional)' : 'room-name'}
          value={name}
          maxLength={64}
          autoComplete="off"
          autoCapitalize="none"
          spellCheck={false}
          onChange={(e) => setName(e.target.value)}
          aria-describedby="create-help"
        />
        <button type="submit" className="btn primary" data-testid="create-room-submit" disabled={busy || invalid || (!priv && !id)}>
          Create
        </button>
      </div>
      <label className="check">
        <input
          type="checkbox"
          data-testid="create-room-private"
          checked={priv}
          onChange={(e) => setPriv(e.target.checked)}
        />
        <span>
          Private <span className="muted">— only people with the invite link</span>
        </span>
      </label>
      <p id="create-help" className={error || invalid ? 'field-error' : 'sr-only'} role={error ? 'alert' : undefined}>
        {error || (invalid ? 'Use letters, digits, dots, dashes or underscores.' : 'Letters, digits, dots, dashes or underscores.')}
      </p>
      {!priv && name.trim() && id !== name.trim() && !invalid && <p className="muted small">Will be created as #{id}</p>}
    </form>
  );
}

function Members({ room, isMe, shared }: { room: RoomView; isMe: (u: User) => boolean; shared: ReadonlySet<string> }) {
  const members = [...room.members].sort((a, b) => Number(isMe(b)) - Number(isMe(a)) || a.name.localeCompare(b.name));
  return (
    <section className="side-section" aria-labelledby="members-h">
      <h2 id="members-h" className="side-h">
        In {room.private ? '' : '#'}{roomLabel(room)} <span className="muted">· {members.length}</span>
      </h2>
      {members.length === 0 ? (
        <p className="muted small">{room.status === 'joined' ? 'Nobody else is here.' : '—'}</p>
      ) : (
        <ul className="member-list">
          {members.map((u) => (
            <li key={u.id} className="member" data-testid="member" data-user-id={u.id} title={`${u.name} ${userTag(u.id)}`}>
              <Avatar user={u} size={28} />
              <span className="ellipsis">{u.name}</span>
              {sharesName(shared, u) && (
                <span className="user-tag" data-testid="user-tag">
                  {userTag(u.id)}
                </span>
              )}
              {isMe(u) && <span className="you">you</span>}
              <span className="online-dot" aria-label="online" />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
