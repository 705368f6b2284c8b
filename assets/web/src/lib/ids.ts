// Client ids for `message:send`. crypto.randomUUID needs a secure context,
// which a LAN address over plain http is not; getRandomValues works anywhere.

export function newClientId(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
