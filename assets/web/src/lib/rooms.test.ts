import { describe, expect, it } from 'vitest';
import { newRoomView, type ChatState, type RoomView } from './client';
import { sidebarRooms } from './rooms';

function view(id: string, extra: Partial<RoomView> = {}): RoomView {
  return { ...newRoomView(id, false), status: 'joined', ...extra };
}

const people = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `u${i}`, name: `p${i}` }));

function state(p: Partial<Pick<ChatState, 'rooms' | 'keys' | 'open' | 'views'>>) {
  return { rooms: [], keys: {}, open: [], views: {}, ...p };
}

describe('sidebarRooms', () => {
  it('lists the open rooms with live member counts and unread, the lobby first', () => {
    const s = state({
      open: ['zeta', 'lobby', 'alpha'],
      views: {
        zeta: view('zeta', { members: people(3), unread: { messages: 4, mentions: 1 } }),
        lobby: view('lobby', { members: people(1) }),
        alpha: view('alpha'),
      },
      // The list is older than the presence events: joined rooms do not take its counts.
      rooms: [{ id: 'zeta', private: false, members: 9 }],
    });
    const { joined } = sidebarRooms(s);
    expect(joined.map((r) => [r.id, r.members])).toEqual([
      ['lobby', 1],
      ['alpha', 0],
      ['zeta', 3],
    ]);
    expect(joined[2].unread).toEqual({ messages: 4, mentions: 1 });
  });

  it('takes the list’s count for a room still being joined', () => {
    const s = state({
      open: ['books'],
      views: { books: view('books', { status: 'joining' }) },
      rooms: [{ id: 'books', private: false, members: 5 }],
    });
    expect(sidebarRooms(s).joined[0].members).toBe(5);
  });

  it('offers the lobby, listed rooms and keyed private rooms that are not open, each once', () => {
    const s = state({
      open: ['books'],
      views: { books: view('books') },
      rooms: [
        { id: 'busy', private: false, members: 7 },
        { id: 'books', private: false, members: 2 },
        { id: 'p-aaaaaaaaaaaaaaaa', private: true, name: 'Plans', members: 1 },
      ],
      keys: { 'p-aaaaaaaaaaaaaaaa': 'k', 'p-bbbbbbbbbbbbbbbb': 'k2' },
    });
    const { others } = sidebarRooms(s);
    expect(others.map((r) => r.id)).toEqual(['lobby', 'busy', 'p-aaaaaaaaaaaaaaaa', 'p-bbbbbbbbbbbbbbbb']);
    expect(others[2]).toMatchObject({ name: 'Plans', private: true, members: 1 });
    expect(others[3]).toMatchObject({ private: true, members: 0 });
  });

  it('names a private room by the name its view learnt on joining', () => {
    const s = state({
      open: ['p-cccccccccccccccc'],
      views: { 'p-cccccccccccccccc': view('p-cccccccccccccccc', { private: true, name: 'Secret' }) },
    });
    expect(sidebarRooms(s).joined[0]).toMatchObject({ name: 'Secret', private: true });
  });
});
