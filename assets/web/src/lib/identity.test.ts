import { describe, expect, it } from 'vitest';
import { sharedNames, sharesName, userHue, userTag } from './identity';

const samA = { id: '0123456789abcdef0123456789abcdef', name: 'Sam' };
const samB = { id: 'fedcba9876543210fedcba9876543210', name: 'Sam' };

describe('userTag', () => {
  it('is # and four hex digits, the same for the same id', () => {
    expect(userTag(samA.id)).toMatch(/^#[0-9a-f]{4}$/);
    expect(userTag(samA.id)).toBe(userTag(samA.id));
  });

  it('tells two namesakes apart', () => {
    expect(userTag(samA.id)).not.toBe(userTag(samB.id));
  });

  it('is spread out over many ids', () => {
    const tags = new Set(Array.from({ length: 1000 }, (_, i) => userTag(`${i}`.padStart(32, '0'))));
    // A 16-bit hash of 1,000 ids: a handful of collisions at most.
    expect(tags.size).toBeGreaterThan(980);
  });
});

describe('userHue', () => {
  it('comes from the id, not the name', () => {
    expect(userHue(samA)).toBe(userHue({ ...samA, name: 'Samantha' }));
    expect(userHue(samA)).not.toBe(userHue(samB));
  });
});

describe('sharedNames', () => {
  it('finds names that more than one id goes by, in any case', () => {
    const shared = sharedNames([samA, { ...samB, name: 'sam' }, { id: 'x', name: 'Kim' }]);
    expect(sharesName(shared, samA)).toBe(true);
    expect(sharesName(shared, { id: 'y', name: 'SAM' })).toBe(true);
    expect(sharesName(shared, { id: 'x', name: 'Kim' })).toBe(false);
  });

  it('does not count one person seen twice', () => {
    const shared = sharedNames([samA, samA, { ...samA }]);
    expect(shared.size).toBe(0);
    expect(sharesName(shared, samA)).toBe(false);
  });

  it('reads full-width letters like plain ones', () => {
    expect(sharesName(sharedNames([samA, { ...samB, name: 'Ｓａｍ' }]), samA)).toBe(true);
  });
});
