import type { Connection } from '../lib/client';

const TRANSPORT: Record<string, string> = { websocket: 'WebSocket', polling: 'Polling' };

export function ConnBadge({ conn }: { conn: Connection }) {
  let label: string;
  let detail = '';
  if (conn.state === 'connected') {
    label = TRANSPORT[conn.transport ?? ''] ?? 'Connected';
    detail = conn.latencyMs !== null ? `${conn.latencyMs} ms` : '';
  } else if (conn.state === 'reconnecting') {
    label = conn.everConnected ? 'Reconnecting…' : 'Connecting…';
  } else {
    label = 'Offline';
  }
  const title =
    conn.state === 'connected'
      ? `Connected over ${label}${detail ? `, round trip ${detail}` : ''}`
      : label;
  return (
    <div
      className="badge"
      data-testid="conn-badge"
      data-state={conn.state}
      data-transport={conn.state === 'connected' ? (conn.transport ?? '') : ''}
      role="status"
      title={title}
      aria-label={title}
    >
      <span className="badge-dot" aria-hidden="true" />
      {/* On a phone the dot and the latency say enough; the reconnect bar spells it out. */}
      <span className={conn.state === 'disconnected' ? 'badge-label' : 'badge-label hide-narrow'}>{label}</span>
      {detail && <span className="badge-detail">{detail}</span>}
    </div>
  );
}
