import { describe, expect, it } from 'vitest';
import { buildLink, cleanAddress, isValidUserKey, readLinkParams } from './url';

describe('invite links', () => {
  it('reads room, key and token from the fragment', () => {
    expect(readLinkParams({ search: '', hash: '#room=team&key=abc%2B1&token=t0k' })).toEqual({
      room: 'team',
      key: 'abc+1',
      token: 't0k',
    });
  });

  it('reads the query too, and the fragment wins', () => {
    expect(readLinkParams({ search: '?room=a&token=q', hash: '#room=b' })).toEqual({ room: 'b', token: 'q' });
  });

  it('builds a link with only the parts given, round-tripping odd characters', () => {
    const link = buildLink('http://192.168.1.5:5173/', { room: 'r', key: 'a+b/c=&d', token: undefined });
    expect(link).toBe('http://192.168.1.5:5173/#room=r&key=a%2Bb%2Fc%3D%26d');
    const u = new URL(link);
    expect(readLinkParams(u)).toEqual({ room: 'r', key: 'a+b/c=&d' });
  });

  it('replaces whatever fragment the base had', () => {
    expect(buildLink('https://x.example/chat/?v=1#old', { room: 'lobby' })).toBe('https://x.example/chat/?v=1#room=lobby');
  });

  it('strips the secrets from the address and keeps the room', () => {
    expect(cleanAddress({ pathname: '/', search: '?token=s&x=1', hash: '#room=r&key=k' }, 'r')).toBe('/?x=1#room=r');
  });
});

describe('"open on phone as me" links', () => {
  const userKey = 'Ab9_-'.repeat(5) + 'xyz'; // 28 base64url characters

  it('carries the identity key in the fragment, never the query', () => {
    const link = buildLink('http://192.168.1.5:5173/?v=1', { room: 'lobby', userKey });
    const u = new URL(link);
    expect(u.search).toBe('?v=1');
    expect(u.hash).toBe(`#room=lobby&userKey=${userKey}`);
    expect(readLinkParams(u)).toEqual({ room: 'lobby', userKey });
  });

  it('reads a key only from the fragment: a query has already been sent to a server', () => {
    expect(readLinkParams({ search: `?userKey=${userKey}`, hash: '#room=r' })).toEqual({ room: 'r' });
  });

  it('ignores a key the server would refuse', () => {
    for (const bad of ['short', 'x'.repeat(129), `${userKey.slice(1)}+`, `${userKey.slice(1)}=`, `${userKey.slice(1)} `]) {
      expect(readLinkParams({ search: '', hash: `#userKey=${encodeURIComponent(bad)}` })).toEqual({});
    }
  });

  it('accepts exactly 22 to 128 base64url characters', () => {
    expect(isValidUserKey('a'.repeat(22))).toBe(true);
    expect(isValidUserKey('-_'.repeat(64))).toBe(true);
    expect(isValidUserKey('a'.repeat(21))).toBe(false);
    expect(isValidUserKey('a'.repeat(129))).toBe(false);
    expect(isValidUserKey('a'.repeat(21) + '/')).toBe(false);
  });

  it('takes the key out of the address, wherever it was, valid or not', () => {
    expect(cleanAddress({ pathname: '/', search: '?userKey=q', hash: `#room=r&userKey=${userKey}&x=1` }, 'r')).toBe(
      '/#x=1&room=r',
    );
  });
});
