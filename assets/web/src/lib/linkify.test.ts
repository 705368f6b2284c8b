import { describe, expect, it } from 'vitest';
import { splitLinks } from './linkify';

describe('splitLinks', () => {
  it('finds http(s) and www links and keeps the text around them', () => {
    expect(splitLinks('see https://example.com/a?b=1, and www.rust-lang.org.')).toEqual([
      { kind: 'text', text: 'see ' },
      { kind: 'link', text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
      { kind: 'text', text: ', and ' },
      { kind: 'link', text: 'www.rust-lang.org', href: 'https://www.rust-lang.org/' },
      { kind: 'text', text: '.' },
    ]);
  });

  it('keeps balanced parentheses and drops an unbalanced closing one', () => {
    expect(splitLinks('(https://en.wikipedia.org/wiki/Rust_(language))')[1]).toMatchObject({
      text: 'https://en.wikipedia.org/wiki/Rust_(language)',
    });
  });

  it('never links other schemes', () => {
    for (const t of ['javascript:alert(1)', 'data:text/html,<b>x</b>', '<img src=x onerror=alert(1)>']) {
      expect(splitLinks(t)).toEqual([{ kind: 'text', text: t }]);
    }
  });

  it('returns plain text unchanged', () => {
    expect(splitLinks('')).toEqual([]);
    expect(splitLinks('שלום 👋 مرحبا')).toEqual([{ kind: 'text', text: 'שלום 👋 مرحبا' }]);
  });
});
