// The sidebar's two lists: the rooms this page is in, with live member counts
// and unread messages, and the other rooms one could open.

import type { ChatState } from './client';
import { DEFAULT_ROOM, roomLabel } from './protocol';
import { NO_UNREAD, type Unread } from './unread';

export interface SidebarRoom {
  id: string;
  private: boolean;
  name?: string;
  /** People in it: kept live by presence for rooms this page is in, else from the last `rooms:list`. */
  members: number;
  unread: Unread;
}

export interface SidebarRooms {
  /** The rooms this page is in or entering: the lobby first, then by name. */
  joined: SidebarRoom[];
  /** Rooms to open: the lobby first, then as `rooms:list` ordered them (most recently active first), then private rooms this browser holds keys for. */
  others: SidebarRoom[];
}

/** Splits what the client knows into the sidebar's lists; every room appears once. */
export function sidebarRooms(s: Pick<ChatState, 'rooms' | 'keys' | 'open' | 'views'>): SidebarRooms {
  const listed = new Map<string, ChatState['rooms'][number]>();
  for (const r of s.rooms) if (r && typeof r.id === 'string') listed.set(r.id, r);

  const joined: SidebarRoom[] = [];
  for (const id of s.open) {
    const v = s.views[id];
    if (!v) continue;
    const l = listed.get(id);
    joined.push({
      id,
      private: v.status === 'joined' ? v.private : (l?.private ?? v.private),
      name: v.name ?? l?.name,
      members: v.status === 'joined' ? v.members.length : (l?.members ?? 0),
      unread: v.unread,
    });
  }
  joined.sort(lobbyFirst((a, b) => roomLabel(a).localeCompare(roomLabel(b))));

  const taken = new Set(s.open);
  const others: SidebarRoom[] = [];
  const add = (r: Omit<SidebarRoom, 'unread'>) => {
    if (taken.has(r.id)) return;
    taken.add(r.id);
    others.push({ ...r, unread: NO_UNREAD });
  };
  add(listed.get(DEFAULT_ROOM) ?? { id: DEFAULT_ROOM, private: false, members: 0 });
  for (const r of listed.values()) add({ id: r.id, private: !!r.private, name: r.name, members: r.members ?? 0 });
  for (const id of Object.keys(s.keys)) add({ id, private: true, members: 0 });
  return { joined, others };
}

function lobbyFirst(then: (a: SidebarRoom, b: SidebarRoom) => number) {
  return (a: SidebarRoom, b: SidebarRoom) =>
    a.id === DEFAULT_ROOM ? -1 : b.id === DEFAULT_ROOM ? 1 : then(a, b);
}
