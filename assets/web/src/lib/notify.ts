// Alerts for messages that arrive while the page is hidden: a browser
// notification, a short chime and a vibration, each only once the person has
// turned it on; and the unread count in the tab title. What to do is decided
// by pure functions; `startAlerts` carries it out with the browser's APIs.

import { alertPrefs } from './storage';

/** A room as alerts name it. */
export interface AlertRoom {
  id: string;
  private: boolean;
  /** A private room's display name. */
  name?: string;
}

/** A new message in one of the person's rooms, as alerts need it. */
export interface Incoming {
  room: AlertRoom;
  author: string;
  text: string;
  /** Sent by this person (from this or another device). */
  mine: boolean;
  /** The person is in the room, so the message is theirs to read. */
  joined: boolean;
}

/** Where new messages come from, and how to bring a room on screen. */
export interface AlertSource {
  /** Calls `cb` once for every new message; returns the way to stop. */
  subscribe(cb: (m: Incoming) => void): () => void;
  openRoom(id: string): void;
}

/**
 * Whether this page can show notifications. Browsers grant them only to a
 * secure context: HTTPS, or a page served from this machine (`localhost`,
 * `127.0.0.1`); a LAN address over plain `http://` is `insecure`.
 */
export type NotifySupport = 'ok' | 'insecure' | 'unsupported';

export function notifySupport(env: { isSecureContext: boolean; hasNotification: boolean }): NotifySupport {
  if (!env.isSecureContext) return 'insecure';
  return env.hasNotification ? 'ok' : 'unsupported';
}

/** What the page knows when a message arrives. */
export interface AlertEnv {
  hidden: boolean;
  /** The person turned notifications on, and the browser granted them. */
  notify: boolean;
  /** The person turned the sound on. */
  sound: boolean;
}

export interface AlertPlan {
  notification: boolean;
  sound: boolean;
  vibrate: boolean;
}

/**
 * Which alerts a message raises: none unless the page is hidden and someone
 * else wrote it in a room the person is in; then those turned on, and a
 * vibration with either.
 */
export function planAlerts(m: Pick<Incoming, 'mine' | 'joined'>, env: AlertEnv): AlertPlan {
  const due = env.hidden && !m.mine && m.joined;
  const notification = due && env.notify;
  const sound = due && env.sound;
  return { notification, sound, vibrate: notification || sound };
}

/** How titles name a room: `#id` for a public room, its name for a private one. */
export function roomTitle(room: AlertRoom): string {
  return room.private ? room.name || room.id : `#${room.id}`;
}

/** The longest notification body, in characters; longer texts end in `…`. */
export const BODY_MAX = 140;

/** `text` on one line, at most `max` characters (code points), ending in `…` when cut. */
export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const chars = Array.from(flat);
  return chars.length <= max ? flat : `${chars.slice(0, max - 1).join('').trimEnd()}…`;
}

export interface NotificationContent {
  title: string;
  body: string;
  /** One per room, so a room's notifications replace each other instead of piling up. */
  tag: string;
}

/** The notification for a message: the room as title, "Name: text" as body. */
export function notificationContent(m: Pick<Incoming, 'room' | 'author' | 'text'>): NotificationContent {
  return {
    title: roomTitle(m.room),
    body: truncate(`${m.author}: ${m.text}`, BODY_MAX),
    tag: `rtchat-room:${m.room.id}`,
  };
}

/** The tab title: `(3) #lobby · rtchat` while 3 messages are unread. */
export function tabTitle(room: string, unread: number): string {
  return `${unread > 0 ? `(${unread}) ` : ''}${room} · rtchat`;
}

// --- carrying it out ----------------------------------------------------------

/** This page's support, from the browser itself. */
export function browserNotifySupport(): NotifySupport {
  return notifySupport({ isSecureContext: window.isSecureContext, hasNotification: 'Notification' in window });
}

/** Whether a notification would be shown now: turned on and permitted. */
export function notificationsOn(): boolean {
  return browserNotifySupport() === 'ok' && Notification.permission === 'granted' && alertPrefs.notify();
}

let audio: AudioContext | null = null;

/**
 * Makes the chime playable later from a hidden page. Browsers start audio only
 * after a gesture, so call this from one (a click, a key press).
 */
export async function primeSound(): Promise<void> {
  if (typeof AudioContext === 'undefined') return;
  audio ??= new AudioContext();
  if (audio.state === 'suspended') await audio.resume().catch(() => {});
}

/** Two soft rising tones, a quarter of a second, made on the spot (no audio file). */
export function playChime(): void {
  if (!audio || audio.state !== 'running') return;
  const t0 = audio.currentTime;
  for (const [freq, start] of [
    [880, 0],
    [1320, 0.09],
  ] as const) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'sine';
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, t0 + start);
    gain.gain.exponentialRampToValueAtTime(0.12, t0 + start + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + start + 0.16);
    osc.connect(gain).connect(audio.destination);
    osc.start(t0 + start);
    osc.stop(t0 + start + 0.17);
  }
}

/** The message a service worker posts when its notification is clicked (see public/sw.js). */
const OPEN_ROOM = 'rtchat:open-room';

/**
 * Shows the notification. Pages on Chrome for Android may not construct one
 * (the constructor throws): there it goes through a service worker, which
 * posts `OPEN_ROOM` back when clicked.
 */
function showNotification(m: Incoming, openRoom: (id: string) => void): void {
  const { title, body, tag } = notificationContent(m);
  // Relative to the page: the UI is served at / or, with --app, at /rtchat/.
  const icon = new URL('favicon.svg', document.baseURI).href;
  const options = { body, tag, icon, data: { room: m.room.id } };
  try {
    const n = new Notification(title, options);
    n.onclick = () => {
      window.focus();
      openRoom(m.room.id);
      n.close();
    };
  } catch {
    if (!('serviceWorker' in navigator)) return;
    navigator.serviceWorker
      .register('sw.js')
      .then(() => navigator.serviceWorker.ready)
      .then((reg) => reg.showNotification(title, options))
      .catch(() => {
        // No way to notify here; the title's count still tells.
      });
  }
}

/**
 * Raises the alerts `planAlerts` asks for on every message from `source`,
 * reading the person's choices each time. Returns the way to stop.
 */
export function startAlerts(source: AlertSource): () => void {
  // Audio needs a gesture; a page reloaded with the sound on gets one here.
  const prime = () => alertPrefs.sound() && void primeSound();
  window.addEventListener('pointerdown', prime);
  window.addEventListener('keydown', prime);
  const onWorkerMessage = (e: MessageEvent) => {
    if (e.data?.type === OPEN_ROOM && typeof e.data.room === 'string') source.openRoom(e.data.room);
  };
  navigator.serviceWorker?.addEventListener('message', onWorkerMessage);
  // A listener added this way does not start the worker's message queue by itself.
  navigator.serviceWorker?.startMessages();
  const stop = source.subscribe((m) => {
    const plan = planAlerts(m, {
      hidden: document.visibilityState === 'hidden',
      notify: notificationsOn(),
      sound: alertPrefs.sound(),
    });
    if (plan.notification) showNotification(m, source.openRoom);
    if (plan.sound) playChime();
    if (plan.vibrate) navigator.vibrate?.([60, 40, 60]);
  });
  return () => {
    stop();
    navigator.serviceWorker?.removeEventListener('message', onWorkerMessage);
    window.removeEventListener('pointerdown', prime);
    window.removeEventListener('keydown', prime);
  };
}
