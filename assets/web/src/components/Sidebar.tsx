import { useState, type FormEvent } from 'react';
import type { RoomView } from '../lib/client';
import { isValidRoomId, roomLabel, slugRoom, type RoomSummary, type User } from '../lib/protocol';
import { Avatar } from './Avatar';
import { CloseIcon, HashIcon, LockIcon, PhoneIcon } from './Icons';
import { NotifyToggle } from './NotifyToggle';

export interface SidebarProps {
  rooms: RoomSummary[];
  room: RoomView;
  me: string;
  isMe: (u: User) => boolean;
  onSelect: (room: string) => void;
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
        <RoomList rooms={p.rooms} current={p.room.id} onSelect={p.onSelect} />
        <CreateRoom onCreate={p.onCreate} />
        {p.room.status !== 'refused' && <Members room={p.room} isMe={p.isMe} />}
      </div>
      <div className="side-foot">
        <div className="whoami-row">
          <Avatar user={{ id: '', name: p.me }} size={32} />
          <div className="whoami">
            <span className="muted small">Chatting as</span>
            <strong className="ellipsis">{p.me}</strong>
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
  rooms,
  current,
  onSelect,
}: {
  rooms: RoomSummary[];
  current: string;
  onSelect: (room: string) => void;
}) {
  return (
    <nav className="side-section" aria-labelledby="rooms-h">
      <h2 id="rooms-h" className="side-h">
        Rooms
      </h2>
      <ul className="room-list">
        {rooms.map((r) => (
          <li key={r.id}>
            <button
              type="button"
              className={r.id === current ? 'room-item active' : 'room-item'}
              data-testid="room-item"
              data-room={r.id}
              aria-current={r.id === current ? 'page' : undefined}
              onClick={() => onSelect(r.id)}
            >
              <span className="room-icon">{r.private ? <LockIcon /> : <HashIcon />}</span>
              <span className="room-name ellipsis">{roomLabel(r)}</span>
              <span
                className={r.members > 0 ? 'count live' : 'count'}
                aria-label={`${r.members} ${r.members === 1 ? 'person' : 'people'} here`}
                title={`${r.members} ${r.members === 1 ? 'person' : 'people'} here`}
              >
                {r.members}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </nav>
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

function Members({ room, isMe }: { room: RoomView; isMe: (u: User) => boolean }) {
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
            <li key={u.id} className="member" data-testid="member" data-user-id={u.id}>
              <Avatar user={u} size={28} />
              <span className="ellipsis">{u.name}</span>
              {isMe(u) && <span className="you">you</span>}
              <span className="online-dot" aria-label="online" />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
