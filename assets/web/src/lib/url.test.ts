import { describe, expect, it } from 'vitest';
import { buildLink, cleanAddress, readLinkParams } from './url';

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
