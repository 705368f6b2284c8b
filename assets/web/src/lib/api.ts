// The REST side: only `GET /api/info`, on this page's own origin.

import type { ServerInfo } from './protocol';

export type InfoResult = { ok: true; info: ServerInfo } | { ok: false; status: number };

export async function fetchInfo(token: string, signal?: AbortSignal): Promise<InfoResult> {
  try {
    const res = await fetch('/api/info', {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
      cache: 'no-store',
      signal,
    });
    if (!res.ok) return { ok: false, status: res.status };
    return { ok: true, info: (await res.json()) as ServerInfo };
  } catch {
    return { ok: false, status: 0 };
  }
}
