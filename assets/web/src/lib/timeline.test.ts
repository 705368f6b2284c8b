import { describe, expect, it } from 'vitest';
import type { Message } from './protocol';
import {
  EMPTY_TIMELINE,
  addPending,
  applyUpdate,
  isNewer,
  markFailed,
  markSending,
  mergeMessages,
  newestId,
  oldestId,
  timelineItems,
  unseenMessages,
} from './timeline';

const alice = { id: 'u1', name: 'alice' };
const bob = { id: 'u2', name: 'bob' };

function msg(n: number, extra: Partial<Message> = {}): Message {
  return { id: String(n).padStart(8, '0'), room: 'lobby', user: bob, text: `m${n}`, ts: 1_700_000_000_000 + n, ...extra };
}

const ids = (t: ReturnType<typeof mergeMessages>) => timelineItems(t).map((i) => i.id ?? `pending:${i.clientId}`);

describe('mergeMessages', () => {
  it('orders by id whatever order messages arrive in', () => {
    const t = mergeMessages(EMPTY_TIMELINE, [msg(3), msg(1), msg(2)]);
    expect(ids(t)).toEqual(['00000001', '00000002', '00000003']);
  });

  it('compares ids as strings, not numbers', () => {
    // Fixed-width ids: "0000000a" sorts after "00000009" as a string.
    const a = { ...msg(9), id: '0000000a' };
    const t = mergeMessages(EMPTY_TIMELINE, [a, msg(9)]);
    expect(ids(t)).toEqual(['00000009', '0000000a']);
  });

  it('drops a message it already has', () => {
    let t = mergeMessages(EMPTY_TIMELINE, [msg(1), msg(2)]);
    t = mergeMessages(t, [msg(2), msg(3), msg(3), msg(1)]);
    expect(ids(t)).toEqual(['00000001', '00000002', '00000003']);
  });

  it('returns the same object when nothing is new', () => {
    const t = mergeMessages(EMPTY_TIMELINE, [msg(1)]);
    expect(mergeMessages(t, [msg(1)])).toBe(t);
    expect(mergeMessages(t, [])).toBe(t);
  });

  it('puts an older page in front and fills a gap in the middle', () => {
    let t = mergeMessages(EMPTY_TIMELINE, [msg(10), msg(11), msg(20)]);
    t = mergeMessages(t, [msg(5), msg(6)]);
    t = mergeMessages(t, [msg(12), msg(19), msg(11)]);
    expect(ids(t)).toEqual(['00000005', '00000006', '00000010', '00000011', '00000012', '00000019', '00000020']);
    expect(oldestId(t)).toBe('00000005');
    expect(newestId(t)).toBe('00000020');
  });

  it('ignores malformed entries', () => {
    const t = mergeMessages(EMPTY_TIMELINE, [msg(1), null as unknown as Message, { ...msg(2), id: 7 as unknown as string }]);
    expect(ids(t)).toEqual(['00000001']);
  });
});

describe('own messages', () => {
  it('shows a pending message after every stored one until it is confirmed', () => {
    let t = mergeMessages(EMPTY_TIMELINE, [msg(1)]);
    t = addPending(t, { clientId: 'c1', room: 'lobby', user: alice, text: 'hi', ts: 5 });
    t = mergeMessages(t, [msg(2)]);
    expect(timelineItems(t).map((i) => [i.id, i.state])).toEqual([
      ['00000001', 'sent'],
      ['00000002', 'sent'],
      [undefined, 'sending'],
    ]);
  });

  it('replaces the pending message when the server confirms it, keeping its key', () => {
    let t = addPending(EMPTY_TIMELINE, { clientId: 'c1', room: 'lobby', user: alice, text: 'hi', ts: 5 });
    const key = t.pending[0].key;
    t = mergeMessages(t, [msg(7, { user: alice, text: 'hi', clientId: 'c1' })]);
    expect(t.pending).toEqual([]);
    expect(t.confirmed).toHaveLength(1);
    expect(t.confirmed[0]).toMatchObject({ id: '00000007', state: 'sent', key, clientId: 'c1' });
  });

  it('takes the live echo and the ack of the same message once', () => {
    let t = addPending(EMPTY_TIMELINE, { clientId: 'c1', room: 'lobby', user: alice, text: 'hi', ts: 5 });
    const stored = msg(7, { user: alice, text: 'hi', clientId: 'c1' });
    t = mergeMessages(t, [stored]); // message:new
    t = mergeMessages(t, [stored]); // the ack
    expect(timelineItems(t)).toHaveLength(1);
  });

  it('marks failed and back to sending for a retry with the same clientId', () => {
    let t = addPending(EMPTY_TIMELINE, { clientId: 'c1', room: 'lobby', user: alice, text: 'hi', ts: 5 });
    t = markFailed(t, 'c1', { code: 'rate_limited', message: 'slow down' });
    expect(t.pending[0]).toMatchObject({ state: 'failed', error: { code: 'rate_limited' } });
    t = markSending(t, 'c1');
    expect(t.pending[0]).toMatchObject({ state: 'sending', clientId: 'c1' });
    expect(t.pending[0].error).toBeUndefined();
  });

  it('keeps pending messages in the order they were written', () => {
    let t = EMPTY_TIMELINE;
    for (const c of ['a', 'b', 'c']) t = addPending(t, { clientId: c, room: 'lobby', user: alice, text: c, ts: 1 });
    t = mergeMessages(t, [msg(1, { clientId: 'b', user: alice })]);
    expect(timelineItems(t).map((i) => i.clientId)).toEqual(['b', 'a', 'c']);
  });
});

describe('isNewer', () => {
  it('takes an edit only when its time is later than the one held', () => {
    expect(isNewer({ edited: 5 }, {})).toBe(true);
    expect(isNewer({ edited: 6 }, { edited: 5 })).toBe(true);
    expect(isNewer({ edited: 5 }, { edited: 5 })).toBe(false);
    expect(isNewer({ edited: 4 }, { edited: 5 })).toBe(false);
    expect(isNewer({}, {})).toBe(false);
  });

  it('always takes a deletion, and nothing after one', () => {
    expect(isNewer({ deleted: true }, { edited: 9 })).toBe(true);
    expect(isNewer({ deleted: true, edited: 1 }, { edited: 9 })).toBe(true);
    expect(isNewer({ edited: 10 }, { deleted: true })).toBe(false);
    expect(isNewer({ deleted: true }, { deleted: true })).toBe(false);
  });
});

describe('applyUpdate', () => {
  const base = mergeMessages(EMPTY_TIMELINE, [msg(1), msg(2)]);
  const texts = (t: ReturnType<typeof mergeMessages>) => timelineItems(t).map((i) => i.text);

  it('replaces the text of an edited message and keeps its key and place', () => {
    const t = applyUpdate(base, msg(1, { text: 'fixed', edited: 100 }));
    expect(texts(t)).toEqual(['fixed', 'm2']);
    expect(t.confirmed[0]).toMatchObject({ key: base.confirmed[0].key, edited: 100 });
  });

  it('ignores an edit that arrives after a later one', () => {
    let t = applyUpdate(base, msg(1, { text: 'second', edited: 200 }));
    t = applyUpdate(t, msg(1, { text: 'first', edited: 100 }));
    expect(texts(t)).toEqual(['second', 'm2']);
  });

  it('shows a deletion with empty text, and no later edit revives it', () => {
    let t = applyUpdate(base, msg(2, { text: '', deleted: true }));
    expect(t.confirmed[1]).toMatchObject({ deleted: true, text: '' });
    t = applyUpdate(t, msg(2, { text: 'back?', edited: 999 }));
    expect(t.confirmed[1]).toMatchObject({ deleted: true, text: '' });
  });

  it('leaves the timeline as it is for a message it does not hold', () => {
    expect(applyUpdate(base, msg(7, { edited: 5 }))).toBe(base);
  });
});

describe('mergeMessages with current state', () => {
  it('updates a held message when history brings a newer state of it', () => {
    let t = mergeMessages(EMPTY_TIMELINE, [msg(1), msg(2)]);
    t = mergeMessages(t, [msg(1, { text: 'edited while away', edited: 50 }), msg(3)]);
    expect(timelineItems(t).map((i) => i.text)).toEqual(['edited while away', 'm2', 'm3']);
  });

  it('keeps a held newer state when history brings an older one', () => {
    let t = mergeMessages(EMPTY_TIMELINE, [msg(1, { text: 'v2', edited: 20 })]);
    const same = mergeMessages(t, [msg(1, { text: 'v1', edited: 10 })]);
    expect(same).toBe(t);
    t = mergeMessages(t, [msg(1, { text: '', deleted: true })]);
    expect(t.confirmed[0].deleted).toBe(true);
  });
});

describe('unseenMessages', () => {
  it('picks the messages whose ids the timeline does not hold', () => {
    const t = mergeMessages(EMPTY_TIMELINE, [msg(1), msg(2)]);
    expect(unseenMessages(t, [msg(2), msg(3)]).map((m) => m.id)).toEqual(['00000003']);
    expect(unseenMessages(t, [])).toEqual([]);
  });
});

describe('files', () => {
  const photo = { id: 'F1', name: 'a.jpg', type: 'image/jpeg', size: 10, url: '/files/F1/a.jpg', width: 4, height: 3 };

  it('carries a message’s files, from history and live alike', () => {
    const t = mergeMessages(EMPTY_TIMELINE, [msg(1, { text: '', files: [photo] }), msg(2)]);
    expect(t.confirmed[0].files).toEqual([photo]);
    expect(t.confirmed[1].files).toBeUndefined();
  });

  it('keeps the files through an edit, whether or not the edit lists them', () => {
    const base = mergeMessages(EMPTY_TIMELINE, [msg(1, { files: [photo] })]);
    expect(applyUpdate(base, msg(1, { text: 'caption', edited: 5 })).confirmed[0]).toMatchObject({
      text: 'caption',
      files: [photo],
    });
    expect(applyUpdate(base, msg(1, { text: 'caption', edited: 5, files: [photo] })).confirmed[0].files).toEqual([photo]);
  });

  it('drops the files of a deleted message', () => {
    const base = mergeMessages(EMPTY_TIMELINE, [msg(1, { files: [photo] })]);
    expect(applyUpdate(base, msg(1, { text: '', deleted: true })).confirmed[0].files).toBeUndefined();
    expect(mergeMessages(EMPTY_TIMELINE, [msg(2, { deleted: true, files: [photo] })]).confirmed[0].files).toBeUndefined();
  });

  it('shows an own message’s files while it is sending, and the stored copy’s after', () => {
    let t = addPending(EMPTY_TIMELINE, { clientId: 'c1', room: 'lobby', user: alice, text: '', ts: 1, files: [photo] });
    expect(t.pending[0]).toMatchObject({ state: 'sending', files: [photo] });
    t = mergeMessages(t, [msg(1, { clientId: 'c1', user: alice, text: '', files: [photo] })]);
    expect(t.pending).toEqual([]);
    expect(t.confirmed[0]).toMatchObject({ key: 'c:c1', files: [photo] });
  });
});
