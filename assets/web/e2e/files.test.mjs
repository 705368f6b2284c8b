// Browser tests of photos and files (issue 13) against the real rtchat
// binary: attaching from a phone, shrinking photos and dropping their GPS
// metadata, download chips, the server's refusal of a file too large, and
// cancelling an upload.
//
//   RTCHAT_BIN=/path/to/rtchat npm run e2e

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { DESKTOP, PHONE, TIMEOUT, enter, launchBrowser, scenario as runScenario, screenshot, waitForMessage } from './helpers.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const scenario = (opts, fn) => runScenario(browser, opts, fn);

// --- making files ---------------------------------------------------------------

/** A `width`×`height` picture of media type `type`, drawn and encoded by the page's canvas. */
async function makeImage(page, { width, height, type }) {
  const base64 = await page.evaluate(
    async ([w, h, t]) => {
      const canvas = new OffscreenCanvas(w, h);
      const ctx = canvas.getContext('2d');
      const sky = ctx.createLinearGradient(0, 0, w, h);
      sky.addColorStop(0, '#3b82f6');
      sky.addColorStop(1, '#f59e0b');
      ctx.fillStyle = sky;
      ctx.fillRect(0, 0, w, h);
      ctx.fillStyle = '#16a34a';
      ctx.fillRect(0, h * 0.7, w, h * 0.3);
      const bytes = new Uint8Array(await (await canvas.convertToBlob({ type: t, quality: 0.9 })).arrayBuffer());
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    },
    [width, height, type],
  );
  return Buffer.from(base64, 'base64');
}

/**
 * An Exif APP1 segment (big-endian TIFF) whose IFD0 points (tag 0x8825) to
 * a GPS IFD with a latitude: 52° 31' 12" N.
 */
function gpsExifSegment() {
  const entries = (list) => {
    const b = Buffer.alloc(2 + list.length * 12 + 4);
    b.writeUInt16BE(list.length, 0);
    list.forEach(([tag, type, count, value], i) => {
      const at = 2 + i * 12;
      b.writeUInt16BE(tag, at);
      b.writeUInt16BE(type, at + 2);
      b.writeUInt32BE(count, at + 4);
      if (Buffer.isBuffer(value)) value.copy(b, at + 8);
      else b.writeUInt32BE(value, at + 8);
    });
    return b; // the next-IFD offset stays 0
  };
  // Offsets count from the start of the TIFF header.
  const ifd0At = 8;
  const ifd0 = entries([[0x8825, 4, 1, 0]]); // GPSInfo, LONG, patched below
  const gpsAt = ifd0At + ifd0.length;
  const gpsEntries = 2;
  const latAt = gpsAt + 2 + gpsEntries * 12 + 4;
  ifd0.writeUInt32BE(gpsAt, 2 + 8);
  const gps = entries([
    [0x0001, 2, 2, Buffer.from('N\0')], // GPSLatitudeRef, ASCII
    [0x0002, 5, 3, latAt], // GPSLatitude, 3 RATIONALs
  ]);
  const lat = Buffer.alloc(24);
  [52, 1, 31, 1, 12, 1].forEach((v, i) => lat.writeUInt32BE(v, i * 4));
  const tiff = Buffer.concat([Buffer.from('MM\0\x2a\0\0\0\x08', 'latin1'), ifd0, gps, lat]);
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const head = Buffer.from([0xff, 0xe1, 0, 0]);
  head.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([head, body]);
}

/** `jpeg` with the GPS Exif segment put right after its start-of-image marker. */
function withGpsExif(jpeg) {
  assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8], 'the canvas made a JPEG');
  return Buffer.concat([jpeg.subarray(0, 2), gpsExifSegment(), jpeg.subarray(2)]);
}

/** The markers of a JPEG's segments before its image data (0xe1 is APP1, where Exif lives). */
function jpegMarkers(jpeg) {
  const markers = [];
  let at = 2;
  while (at + 4 <= jpeg.length && jpeg[at] === 0xff) {
    const marker = jpeg[at + 1];
    markers.push(marker);
    if (marker === 0xda) break; // start of scan: image data follows
    at += 2 + jpeg.readUInt16BE(at + 2);
  }
  return markers;
}

/** Whether `bytes` carry Exif metadata: JPEG's `Exif\0\0` APP1 or WebP's `EXIF` chunk. */
function carriesExif(bytes) {
  return bytes.includes(Buffer.from('Exif\0\0', 'latin1')) || bytes.includes(Buffer.from('EXIF', 'latin1'));
}

// --- steps --------------------------------------------------------------------

/** Puts `files` into the composer's tray through the input with `testId`, and waits for them there. */
async function attach(page, testId, files) {
  await page.getByTestId(testId).setInputFiles(files);
  await page.waitForFunction(
    (n) => document.querySelectorAll('[data-testid=tray-item]').length === n,
    files.length,
    { timeout: TIMEOUT },
  );
}

/** Presses Send and waits until the tray is gone: every file uploaded and the message sent. */
async function sendAttached(page) {
  await page.getByTestId('send').click();
  await page.getByTestId('attachment-tray').waitFor({ state: 'detached', timeout: TIMEOUT });
}

/** The newest stored message on `page` that carries files. */
function lastFileMessage(page) {
  return page.locator('[data-testid=message][data-state=sent]').filter({ has: page.getByTestId('message-files') }).last();
}

/** Waits until the `img` matched by `selector` has loaded; returns its natural size and src. */
async function loadedImage(page, selector, what) {
  const handle = await page
    .waitForFunction(
      (sel) => {
        const img = document.querySelector(sel);
        return img && img.complete && img.naturalWidth > 0 ? { w: img.naturalWidth, h: img.naturalHeight, src: img.src } : null;
      },
      selector,
      { timeout: TIMEOUT },
    )
    .catch((e) => {
      throw new Error(`${what} did not load within ${TIMEOUT} ms: ${e.message}`);
    });
  return handle.jsonValue();
}

/** The bytes at `url`, fetched by the page itself (same origin, with whatever the URL carries). */
async function fetchBytes(page, url) {
  const got = await page.evaluate(async (u) => {
    const res = await fetch(u);
    const bytes = new Uint8Array(await res.arrayBuffer());
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return { status: res.status, type: res.headers.get('content-type'), base64: btoa(s) };
  }, url);
  assert.equal(got.status, 200, `GET ${url} answers 200`);
  return { type: got.type, bytes: Buffer.from(got.base64, 'base64') };
}

// --- tests --------------------------------------------------------------------

test('a photo from the phone arrives shrunk, shows as a thumbnail and opens full size', async () => {
  await scenario({}, async ({ server, person }) => {
    const phone = await person(PHONE);
    const desk = await person(DESKTOP);
    await enter(phone.page, server.url, 'Pia');
    await enter(desk.page, server.url, 'Dan');

    const photo = await makeImage(phone.page, { width: 3000, height: 1500, type: 'image/png' });
    await attach(phone.page, 'photo-input', [{ name: 'wide.png', mimeType: 'image/png', buffer: photo }]);
    const tray = phone.page.getByTestId('tray-item');
    assert.equal(await tray.getAttribute('data-name'), 'wide.png');
    assert.ok(await tray.locator('img.tray-thumb').count(), 'the tray shows a thumbnail of the photo');
    await sendAttached(phone.page);

    const msg = lastFileMessage(desk.page);
    await msg.waitFor({ timeout: TIMEOUT });
    assert.equal(await msg.getByTestId('message-text').count(), 0, 'a photo without a caption shows no empty text');
    const thumb = await loadedImage(desk.page, '[data-testid=message][data-state=sent] [data-testid=file-image] img', 'the thumbnail');
    assert.ok(thumb.w > 0, 'the thumbnail loaded');
    const [w, h] = await msg.locator('[data-testid=file-image] img').evaluate((img) => [img.width, img.height]);
    assert.ok(Math.abs(w / h - 2) < 0.05, `the thumbnail keeps the 2:1 aspect ratio (shown ${w}×${h})`);
    assert.ok(w <= 260, `the thumbnail is bounded (shown ${w} px wide)`);
    await desk.page.waitForFunction(
      () => document.querySelector('[data-testid=announcer]')?.textContent === 'Pia: 📷 photo',
      null,
      { timeout: TIMEOUT },
    );
    await screenshot(desk.page, 'files-photo-from-phone');

    await msg.getByTestId('file-image').click();
    const full = await loadedImage(desk.page, '[data-testid=lightbox] [data-testid=lightbox-image]', 'the full-size photo');
    assert.deepEqual([full.w, full.h], [2048, 1024], 'the photo was shrunk to 2048 px on its longest side before upload');
    await screenshot(desk.page, 'files-photo-lightbox');
    await desk.page.keyboard.press('Escape');
    await desk.page.getByTestId('lightbox').waitFor({ state: 'detached', timeout: TIMEOUT });

    // History brings the photo too.
    await desk.page.reload();
    await desk.page.waitForSelector('[data-testid=composer]:not([disabled])', { timeout: TIMEOUT });
    await loadedImage(desk.page, '[data-testid=message][data-state=sent] [data-testid=file-image] img', 'the photo from history');
  });
});

test('a photo’s GPS location is stripped before upload, and kept only when sending the original', async () => {
  await scenario({}, async ({ server, person }) => {
    const phone = await person(PHONE);
    const desk = await person(DESKTOP);
    await enter(phone.page, server.url, 'Pia');
    await enter(desk.page, server.url, 'Dan');

    const jpeg = withGpsExif(await makeImage(phone.page, { width: 640, height: 480, type: 'image/jpeg' }));
    assert.ok(jpegMarkers(jpeg).includes(0xe1) && carriesExif(jpeg), 'the test photo carries Exif before upload');
    assert.ok(jpeg.includes(Buffer.from([0x88, 0x25])), 'the test photo carries a GPS IFD before upload');
    const file = { name: 'gps.jpg', mimeType: 'image/jpeg', buffer: jpeg };

    await attach(phone.page, 'photo-input', [file]);
    await sendAttached(phone.page);
    await lastFileMessage(desk.page).waitFor({ timeout: TIMEOUT });
    const shrunk = await loadedImage(desk.page, '[data-testid=message][data-state=sent] [data-testid=file-image] img', 'the photo');
    const got = await fetchBytes(desk.page, shrunk.src);
    assert.ok(/^image\/(jpeg|webp)/.test(got.type ?? ''), `the stored photo is re-encoded (${got.type})`);
    assert.ok(!carriesExif(got.bytes), 'the stored photo carries no Exif metadata');
    if (got.type.startsWith('image/jpeg')) assert.ok(!jpegMarkers(got.bytes).includes(0xe1), 'the stored JPEG has no APP1 segment');

    await attach(phone.page, 'photo-input', [file]);
    await phone.page.getByTestId('send-original').check();
    await sendAttached(phone.page);
    await desk.page.waitForFunction(
      () => document.querySelectorAll('[data-testid=message][data-state=sent] [data-testid=file-image] img').length === 2,
      null,
      { timeout: TIMEOUT },
    );
    const originalSrc = await lastFileMessage(desk.page).locator('[data-testid=file-image] img').getAttribute('src');
    const original = await fetchBytes(desk.page, originalSrc);
    assert.ok(original.bytes.equals(jpeg), '"Send original" uploads the photo byte for byte, metadata included');
  });
});

test('a file that is not an image shows as a chip and downloads, with the access token', async () => {
  const token = 'open-sesame';
  await scenario({ token }, async ({ server, person }) => {
    const sender = await person(DESKTOP);
    const reader = await person(PHONE);
    await enter(sender.page, `${server.url}/#room=lobby&token=${token}`, 'Sam');
    await enter(reader.page, `${server.url}/#room=lobby&token=${token}`, 'Rae');

    const zip = randomBytes(20_000);
    await attach(sender.page, 'file-input', [{ name: 'report.zip', mimeType: 'application/zip', buffer: zip }]);
    await sender.page.getByTestId('composer').fill('the report');
    await sendAttached(sender.page);

    await waitForMessage(reader.page, 'the report');
    const chip = lastFileMessage(reader.page).getByTestId('file-chip');
    await chip.waitFor({ timeout: TIMEOUT });
    const label = await chip.textContent();
    assert.match(label, /report\.zip/, 'the chip names the file');
    assert.match(label, /ZIP/, 'the chip names its type');
    assert.match(label, /20 KB/, 'the chip gives its size');
    assert.match(await chip.getAttribute('href'), /[?&]token=open-sesame(&|$)/, 'the link carries the access token');

    const [download] = await Promise.all([reader.page.waitForEvent('download', { timeout: TIMEOUT }), chip.click()]);
    assert.equal(download.suggestedFilename(), 'report.zip');
    const saved = await readFile(await download.path());
    assert.ok(saved.equals(zip), 'the download is the file, byte for byte');
  });
});

test('a file over --max-upload shows the server’s refusal and is not sent', async () => {
  await scenario({ extraArgs: ['--max-upload', '100KB'] }, async ({ server, person }) => {
    const desk = await person(DESKTOP);
    await enter(desk.page, server.url, 'Dan');
    const big = randomBytes(300_000);

    // What the server says to such an upload, asked directly.
    const res = await fetch(`${server.url}/api/rooms/lobby/files?name=big.bin`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: big,
    });
    assert.equal(res.status, 413, 'the server refuses a file over --max-upload');
    const refusal = (await res.json()).error;
    assert.equal(refusal.code, 'too_large');

    await attach(desk.page, 'file-input', [{ name: 'big.bin', mimeType: 'application/octet-stream', buffer: big }]);
    await desk.page.getByTestId('send').click();
    const error = desk.page.getByTestId('upload-error');
    await error.waitFor({ timeout: TIMEOUT });
    assert.ok((await error.textContent()).includes(refusal.message), `the tray shows the server's words: ${refusal.message}`);
    assert.equal(await desk.page.getByTestId('tray-item').getAttribute('data-status'), 'failed');
    assert.equal(await desk.page.locator('[data-testid=message]').count(), 0, 'nothing was sent');
    await screenshot(desk.page, 'files-too-large');

    // Taking the file out leaves an ordinary composer.
    await desk.page.getByTestId('tray-remove').click();
    await desk.page.getByTestId('attachment-tray').waitFor({ state: 'detached', timeout: TIMEOUT });
    await desk.page.getByTestId('composer').fill('never mind');
    await desk.page.getByTestId('composer').press('Enter');
    await waitForMessage(desk.page, 'never mind');
  });
});

test('an upload can be cancelled, and the file sent afterwards', async () => {
  await scenario({}, async ({ server, person }) => {
    const desk = await person(DESKTOP);
    const other = await person(DESKTOP);
    await enter(desk.page, server.url, 'Dan');
    await enter(other.page, server.url, 'Oz');

    // A slow uplink, so that the upload is still under way when Cancel is pressed.
    const cdp = await desk.context.newCDPSession(desk.page);
    await cdp.send('Network.enable');
    const throttle = (uploadThroughput) =>
      cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput });
    await throttle(32 * 1024);

    await attach(desk.page, 'file-input', [{ name: 'slow.bin', mimeType: 'application/octet-stream', buffer: randomBytes(600_000) }]);
    await desk.page.getByTestId('send').click();
    await desk.page.getByTestId('upload-progress').waitFor({ timeout: TIMEOUT });
    await desk.page.getByTestId('cancel-upload').click();
    await desk.page.waitForSelector('[data-testid=tray-item][data-status=waiting]', { timeout: TIMEOUT });
    assert.equal(await desk.page.getByTestId('upload-progress').count(), 0, 'no upload is under way after Cancel');
    assert.equal(await desk.page.locator('[data-testid=message]').count(), 0, 'nothing was sent');

    await throttle(-1);
    await sendAttached(desk.page);
    const chip = lastFileMessage(other.page).getByTestId('file-chip');
    await chip.waitFor({ timeout: TIMEOUT });
    assert.match(await chip.textContent(), /slow\.bin/);
  });
});
