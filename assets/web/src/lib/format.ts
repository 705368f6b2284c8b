// Small presentation helpers: times, days, initials and a colour per person.

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long' });
const yearDayFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'long', year: 'numeric' });

export function formatTime(ts: number): string {
  return timeFmt.format(ts);
}

export function formatFull(ts: number): string {
  return fullFmt.format(ts);
}

function startOfDay(ts: number): number {
  const d = new Date(ts);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function sameDay(a: number, b: number): boolean {
  return startOfDay(a) === startOfDay(b);
}

/** "Today", "Yesterday", "Monday 3 March", or with the year when it isn't this one. */
export function dayLabel(ts: number, now = Date.now()): string {
  const days = Math.round((startOfDay(now) - startOfDay(ts)) / 86_400_000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  if (new Date(ts).getFullYear() === new Date(now).getFullYear()) return dayFmt.format(ts);
  return yearDayFmt.format(ts);
}

/** One or two letters for an avatar. */
export function initials(name: string): string {
  const words = name.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  if (words.length === 0) return Array.from(name.trim())[0] ?? '?'; // an emoji name
  return words
    .slice(0, 2)
    .map((w) => Array.from(w)[0])
    .join('')
    .toUpperCase();
}

/** FNV-1a over the UTF-16 code units of `seed`: an unsigned 32-bit number, the same on every page. */
export function hash32(seed: string): number {
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) {
    h ^= seed.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

/** A hue (0..360) that stays the same for the same seed. */
export function hueFor(seed: string): number {
  return hash32(seed) % 360;
}
