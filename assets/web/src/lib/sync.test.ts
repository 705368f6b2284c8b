import { describe, expect, it } from 'vitest';
import { HISTORY_MAX, type Ack, type Message } from './protocol';
import { RequestError, fetchAfter, fetchBefore, joinRoom, retryRateLimited, type Request } from './sync';
import { EMPTY_TIMELINE, mergeMessages, newestId, timelineItems } from './timeline';

/**
 * A stand-in for the server's side of `room:join` and `history`, with the
 * paging rules of the protocol, recording every request.
 */
class FakeServer {
  messages: Message[] = [];
  calls: { event: string; payload: Record<string, unknown> }[] = [];
  private seq = 0;

  add(n: number, room = 'lobby'): Message[] {
    const out: Message[] = [];
    for (let i = 0; i < n; i++) {
      this.seq++;
      const m = {
        id: String(this.seq).padStart(12, '0'),
        room,
        user: { id: 'u', name: 'u' },
        text: `t${this.seq}`,
        ts: this.seq,
      };
      this.messages.push(m);
      out.push(m);
    }
    return out;
  }

  private inRoom(room: unknown) {
    return this.messages.filter((m) => m.room === room);
  }

  request: Request = async <T,>(event: string, payload: unknown): Promise<Ack<T>> => {
    const p = payload as Record<string, unknown>;
    this.calls.push({ event, payload: p });
    const reply = (body: object) => ({ ok: true, ...body }) as Ack<T>;
    if (event === 'room:join') {
      if (p.room === 'secret' && p.key !== 'k') return { ok: false, error: { code: 'forbidden', message: 'no' } };
      return reply({ room: { id: p.room, private: false }, members: [], history: this.inRoom(p.room).slice(-50) });
    }
    if (event === 'history') {
      const limit = Math.min(Number(p.limit ?? 50), HISTORY_MAX);
      let ms = this.inRoom(p.room);
      if (typeof p.after === 'string') return reply({ messages: ms.filter((m) => m.id > (p.after as string)).slice(0, limit) });
      if (typeof p.before === 'string') ms = ms.filter((m) => m.id < (p.before as string));
      return reply({ messages: ms.slice(-limit) });
    }
    return { ok: false, error: { code: 'bad_request', message: event } };
  };
}

describe('fetchAfter', () => {
  it('pages with after until a short page comes back', async () => {
    const s = new FakeServer();
    s.add(10);
    const seen = newestId(mergeMessages(EMPTY_TIMELINE, s.messages))!;
    s.add(250);
    const got = await fetchAfter(s.request, 'lobby', seen);
    expect(got.map((m) => m.text)).toEqual(s.messages.slice(10).map((m) => m.text));
    expect(s.calls.map((c) => c.payload.after)).toEqual([
      seen,
      s.messages[109].id,
      s.messages[209].id,
    ]);
    expect(s.calls.every((c) => c.payload.limit === HISTORY_MAX)).toBe(true);
  });

  it('asks once more after an exactly full page and stops on the empty one', async () => {
    const s = new FakeServer();
    const [first] = s.add(1);
    s.add(HISTORY_MAX);
    const got = await fetchAfter(s.request, 'lobby', first.id);
    expect(got).toHaveLength(HISTORY_MAX);
    expect(s.calls).toHaveLength(2);
  });

  it('stops when a server does not move forward', async () => {
    const stuck: Request = async <T,>() =>
      ({ ok: true, messages: Array.from({ length: 2 }, () => ({ id: '0001', room: 'r', user: { id: 'u', name: 'u' }, text: '', ts: 0 })) }) as Ack<T>;
    const got = await fetchAfter(stuck, 'r', '0001', 2);
    expect(got).toHaveLength(2);
  });

  it('surfaces an error ack', async () => {
    const failing: Request = async <T,>() => ({ ok: false, error: { code: 'unavailable', message: 'db' } }) as Ack<T>;
    await expect(fetchAfter(failing, 'r', '1')).rejects.toBeInstanceOf(RequestError);
  });
});

describe('fetchBefore', () => {
  it('loads older pages until the start of the room', async () => {
    const s = new FakeServer();
    s.add(120);
    let t = mergeMessages(EMPTY_TIMELINE, s.messages.slice(-50));
    let more = true;
    while (more) {
      const page = await fetchBefore(s.request, 'lobby', t.confirmed[0].id!);
      t = mergeMessages(t, page.messages);
      more = page.more;
    }
    expect(timelineItems(t).map((i) => i.text)).toEqual(s.messages.map((m) => m.text));
  });
});

describe('joinRoom', () => {
  it('takes the latest page on a first join and says whether older history exists', async () => {
    const s = new FakeServer();
    s.add(70);
    const j = await joinRoom(s.request, 'lobby', undefined);
    expect(j.messages).toHaveLength(50);
    expect(j.hasOlder).toBe(true);
    expect(s.calls.map((c) => c.event)).toEqual(['room:join']);
  });

  it('catches up after a reconnect with no gap and no duplicate', async () => {
    const s = new FakeServer();
    s.add(30);
    s.add(5, 'other');
    let t = mergeMessages(EMPTY_TIMELINE, (await joinRoom(s.request, 'lobby', undefined)).messages);
    // Offline: 180 messages go by, more than the join's page of 50.
    s.add(180);
    s.calls = [];
    const j = await joinRoom(s.request, 'lobby', undefined, newestId(t));
    t = mergeMessages(t, j.messages);
    const lobby = s.messages.filter((m) => m.room === 'lobby');
    expect(timelineItems(t).map((i) => i.id)).toEqual(lobby.map((m) => m.id));
    expect(s.calls.map((c) => c.event)).toEqual(['room:join', 'history', 'history']);
    expect(s.calls[1].payload).toMatchObject({ room: 'lobby', after: lobby[29].id, limit: HISTORY_MAX });
  });

  it('merges a live message that arrives during the catch-up once', async () => {
    const s = new FakeServer();
    s.add(3);
    let t = mergeMessages(EMPTY_TIMELINE, s.messages);
    const seen = newestId(t);
    const [live] = s.add(2).slice(-1);
    t = mergeMessages(t, [live]); // message:new raced ahead of the catch-up
    const j = await joinRoom(s.request, 'lobby', undefined, seen);
    t = mergeMessages(t, j.messages);
    expect(timelineItems(t).map((i) => i.text)).toEqual(['t1', 't2', 't3', 't4', 't5']);
  });

  it('sends the key for a private room and reports a refusal', async () => {
    const s = new FakeServer();
    await expect(joinRoom(s.request, 'secret', 'wrong')).rejects.toMatchObject({ error: { code: 'forbidden' } });
    await expect(joinRoom(s.request, 'secret', 'k')).resolves.toMatchObject({ reply: { room: { id: 'secret' } } });
    expect(s.calls.map((c) => c.payload.key)).toEqual(['wrong', 'k']);
  });
});

describe('retryRateLimited', () => {
  const limited = () => new RequestError({ code: 'rate_limited', message: 'slow down' });

  it('tries again after each pause while the server says rate_limited', async () => {
    const waited: number[] = [];
    let calls = 0;
    const got = await retryRateLimited(
      async () => {
        if (++calls < 3) throw limited();
        return 'joined';
      },
      [10, 20, 30],
      async (ms) => void waited.push(ms),
    );
    expect(got).toBe('joined');
    expect(waited).toEqual([10, 20]);
  });

  it('gives up after the last pause', async () => {
    let calls = 0;
    const task = async () => {
      calls++;
      throw limited();
    };
    await expect(retryRateLimited(task, [1, 1], async () => {})).rejects.toMatchObject({ error: { code: 'rate_limited' } });
    expect(calls).toBe(3);
  });

  it('does not retry other failures', async () => {
    let calls = 0;
    const task = async () => {
      calls++;
      throw new RequestError({ code: 'not_found', message: 'no such room' });
    };
    await expect(retryRateLimited(task, [1, 1], async () => {})).rejects.toMatchObject({ error: { code: 'not_found' } });
    expect(calls).toBe(1);
  });
});
