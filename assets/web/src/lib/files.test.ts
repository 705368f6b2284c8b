import { describe, expect, it } from 'vitest';
import {
  MAX_PHOTO_SIDE,
  fitWithin,
  humanSize,
  isInlineImage,
  isReencoded,
  messageFiles,
  messageSummary,
  photoTarget,
  renameForType,
  typeLabel,
  uploadName,
  uploadUrl,
  fileHref,
} from './files';

describe('photoTarget', () => {
  it('shrinks the longest side to 2048 and keeps the aspect ratio', () => {
    expect(photoTarget({ width: 4032, height: 3024 })).toEqual({ width: 2048, height: 1536 });
    expect(photoTarget({ width: 3024, height: 4032 })).toEqual({ width: 1536, height: 2048 });
    expect(photoTarget({ width: 3000, height: 1500 })).toEqual({ width: 2048, height: 1024 });
  });

  it('leaves photos that fit alone and never enlarges', () => {
    expect(photoTarget({ width: 2048, height: 2048 })).toEqual({ width: 2048, height: 2048 });
    expect(photoTarget({ width: 640, height: 480 })).toEqual({ width: 640, height: 480 });
  });

  it('keeps at least one pixel on a very thin photo', () => {
    expect(photoTarget({ width: 100_000, height: 10 })).toEqual({ width: MAX_PHOTO_SIDE, height: 1 });
  });
});

describe('fitWithin', () => {
  it('fits both sides within a box of two sizes', () => {
    expect(fitWithin({ width: 1000, height: 500 }, 280, 320)).toEqual({ width: 280, height: 140 });
    expect(fitWithin({ width: 500, height: 1000 }, 280, 320)).toEqual({ width: 160, height: 320 });
  });
});

describe('which files are re-encoded and shown', () => {
  it('re-encodes JPEG, PNG and WebP photos only', () => {
    for (const t of ['image/jpeg', 'image/png', 'image/webp', 'IMAGE/JPEG']) expect(isReencoded(t), t).toBe(true);
    for (const t of ['image/gif', 'image/avif', 'image/svg+xml', 'application/pdf', 'text/plain', ''])
      expect(isReencoded(t), t).toBe(false);
  });

  it('shows the images the server serves as images inline', () => {
    for (const t of ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif']) expect(isInlineImage(t), t).toBe(true);
    for (const t of ['image/svg+xml', 'image/heic', 'application/zip', '']) expect(isInlineImage(t), t).toBe(false);
  });
});

describe('uploadName', () => {
  it('keeps ordinary names', () => {
    expect(uploadName('IMG_0042.jpg')).toBe('IMG_0042.jpg');
    expect(uploadName('Überweisung März.pdf')).toBe('Überweisung März.pdf');
  });

  it('replaces slashes, backslashes and control characters', () => {
    expect(uploadName('a/b\\c\nd\u0000.txt')).toBe('a_b_c_d_.txt');
  });

  it('falls back to "file" for an empty name', () => {
    expect(uploadName('  ')).toBe('file');
  });

  it('shortens long names to 128 characters and keeps the extension', () => {
    const name = uploadName(`${'x'.repeat(300)}.jpeg`);
    expect(Array.from(name)).toHaveLength(128);
    expect(name.endsWith('x.jpeg')).toBe(true);
  });
});

describe('renameForType', () => {
  it('gives a re-encoded photo the extension of its new type', () => {
    expect(renameForType('IMG_1.PNG', 'image/jpeg')).toBe('IMG_1.jpg');
    expect(renameForType('holiday.photo.jpeg', 'image/webp')).toBe('holiday.photo.webp');
    expect(renameForType('noext', 'image/jpeg')).toBe('noext.jpg');
    expect(renameForType('.hidden', 'image/jpeg')).toBe('.hidden.jpg');
  });
});

describe('humanSize', () => {
  it('uses decimal units with one decimal below ten', () => {
    expect(humanSize(0)).toBe('0 B');
    expect(humanSize(999)).toBe('999 B');
    expect(humanSize(1000)).toBe('1 KB');
    expect(humanSize(1536)).toBe('1.5 KB');
    expect(humanSize(123_456)).toBe('123 KB');
    expect(humanSize(999_999)).toBe('1 MB');
    expect(humanSize(10_000_000)).toBe('10 MB');
    expect(humanSize(2_500_000_000)).toBe('2.5 GB');
  });

  it('says nothing about a nonsense size', () => {
    expect(humanSize(-1)).toBe('');
    expect(humanSize(Number.NaN)).toBe('');
  });
});

describe('typeLabel', () => {
  it('prefers the extension, then the media subtype', () => {
    expect(typeLabel('application/zip', 'report.zip')).toBe('ZIP');
    expect(typeLabel('application/pdf', 'scan')).toBe('PDF');
    expect(typeLabel('application/octet-stream', 'blob')).toBe('File');
    expect(typeLabel('', 'a.verylongextension')).toBe('File');
  });
});

describe('fileHref', () => {
  it('adds the token, and a private room\'s key unless the URL has it', () => {
    expect(fileHref('/files/ID/a.png', { token: 't k' })).toBe('/files/ID/a.png?token=t%20k');
    expect(fileHref('/files/ID/a.png?key=K', { token: 'tok', key: 'K' })).toBe('/files/ID/a.png?key=K&token=tok');
    expect(fileHref('/files/ID/a.png', { token: '', key: 'K 1' })).toBe('/files/ID/a.png?key=K%201');
    expect(fileHref('/files/ID/a.png', { token: 'tok', key: 'K' })).toBe('/files/ID/a.png?key=K&token=tok');
    expect(fileHref('/files/ID/a.png?key=K', { token: '' })).toBe('/files/ID/a.png?key=K');
  });
});

describe('uploadUrl', () => {
  it('carries the name and a private room key in the query', () => {
    expect(uploadUrl('lobby', 'a b&c.png')).toBe('/api/rooms/lobby/files?name=a+b%26c.png');
    expect(uploadUrl('r1', 'x.jpg', 'k/ey')).toBe('/api/rooms/r1/files?name=x.jpg&key=k%2Fey');
  });
});

describe('messageFiles', () => {
  it('keeps well-formed files and drops the rest', () => {
    const good = { id: 'A', name: 'a.png', type: 'image/png', size: 3, url: '/files/A/a.png', width: 2, height: 1 };
    expect(messageFiles([good, null, { id: 'B' }, 'x'])).toEqual([good]);
    expect(messageFiles(undefined)).toEqual([]);
    expect(messageFiles([{ id: 'C', name: 'c', size: 1, url: '/files/C/c' }])).toEqual([
      { id: 'C', name: 'c', size: 1, url: '/files/C/c', type: '' },
    ]);
  });
});

describe('messageSummary', () => {
  const photo = { name: 'a.jpg', type: 'image/jpeg' };
  const zip = { name: 'report.zip', type: 'application/zip' };

  it('is the text when there is some', () => {
    expect(messageSummary('look', [photo])).toBe('look');
  });

  it('names photos and files when there is no text', () => {
    expect(messageSummary('', [photo])).toBe('📷 photo');
    expect(messageSummary(' ', [photo, photo])).toBe('📷 2 photos');
    expect(messageSummary('', [zip])).toBe('report.zip');
    expect(messageSummary('', [photo, zip])).toBe('📎 2 files');
  });
});
