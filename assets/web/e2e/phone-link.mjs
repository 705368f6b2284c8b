// Opens a phone link (as the QR code carries it) on a phone-sized page, waits
// for a message the laptop sent, and answers. Driven by tests/tunnel.rs, which
// runs `rtchat serve --tunnel` against its local edge; not a test on its own.
//
//   node e2e/phone-link.mjs <link> <text to expect> <text to send>

import { PHONE, enter, launchBrowser, newPerson, screenshot, send, waitForMessage } from './helpers.mjs';

const [link, expected, reply] = process.argv.slice(2);
if (!link || !expected || !reply) {
  console.error('usage: phone-link.mjs <link> <text to expect> <text to send>');
  process.exit(2);
}

const browser = await launchBrowser();
try {
  const { page, errors } = await newPerson(browser, PHONE);
  await enter(page, link, 'Phone via tunnel');
  await waitForMessage(page, expected);
  await send(page, reply);
  await waitForMessage(page, reply);
  await screenshot(page, 'tunnel-phone');
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  // The token came from the link and is no longer in the address bar.
  if (page.url().includes('token=')) throw new Error(`token left in the address bar: ${page.url()}`);
} finally {
  await browser.close();
}
