import { describe, expect, it } from 'vitest';
import { dayLabel, initials } from './format';

describe('initials', () => {
  it('takes the first letters of the first two words, ignoring markup and punctuation', () => {
    expect(initials('Sofia Martínez-Alvarez')).toBe('SM');
    expect(initials('Mallory <b>bold</b>')).toBe('MB');
    expect(initials('kenji')).toBe('K');
    expect(initials('élodie')).toBe('ÉLODIE'.slice(0, 1));
    expect(initials('🦊')).toBe('🦊');
  });
});

describe('dayLabel', () => {
  it('names today and yesterday', () => {
    const now = new Date(2026, 4, 20, 12).getTime();
    expect(dayLabel(now - 60_000, now)).toBe('Today');
    expect(dayLabel(now - 86_400_000, now)).toBe('Yesterday');
    expect(dayLabel(new Date(2024, 0, 2).getTime(), now)).toMatch(/2024/);
  });
});
