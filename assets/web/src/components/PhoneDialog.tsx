import { useEffect, useState } from 'react';
import { fetchInfo } from '../lib/api';
import type { ServerInfo } from '../lib/protocol';
import { userKey } from '../lib/storage';
import { buildLink } from '../lib/url';
import { CopyField } from './CopyField';
import { LocalOnlyNote } from './LocalOnlyNote';
import { Modal } from './Modal';
import { Qr } from './Qr';

/** The address a phone should open, and how the server is reachable there. */
function describeReach(info: ServerInfo): { url: string; via: string } | null {
  if (!info.phone_url) return null;
  const tunnel = info.tunnel;
  if (tunnel && (info.phone_url.startsWith(tunnel.ui) || info.phone_url.startsWith(tunnel.backend))) {
    return { url: info.phone_url, via: 'through the public tunnel, from anywhere' };
  }
  return { url: info.phone_url, via: 'on the same Wi‑Fi or network as this computer' };
}

export function PhoneDialog({
  room,
  roomKey,
  token,
  onClose,
}: {
  room: string;
  roomKey?: string;
  token: string;
  onClose: () => void;
}) {
  const [info, setInfo] = useState<ServerInfo | null | 'error'>(null);
  const [asMe, setAsMe] = useState(false);

  // Ask afresh each time: a tunnel may have come up or gone down meanwhile.
  useEffect(() => {
    const ctl = new AbortController();
    void fetchInfo(token, ctl.signal).then((r) => {
      if (!ctl.signal.aborted) setInfo(r.ok ? r.info : 'error');
    });
    return () => ctl.abort();
  }, [token]);

  let body;
  if (info === null) {
    body = <p className="muted">Looking up this server’s addresses…</p>;
  } else if (info === 'error') {
    body = <p>Couldn’t ask the server for its addresses. Check the connection and try again.</p>;
  } else {
    const reach = describeReach(info);
    if (!reach) {
      body = <LocalOnlyNote lead="A phone can’t reach this chat yet." testId="phone-unreachable" />;
    } else {
      const link = buildLink(reach.url, {
        room,
        key: roomKey,
        token: token || undefined,
        // The key this page connects with (the client makes it before connecting).
        userKey: asMe ? userKey() : undefined,
      });
      const tunnelDown = info.tunnel && info.tunnel.state !== 'up';
      body = (
        <>
          <p className="muted">Scan with the phone’s camera. It opens #{room} {reach.via}.</p>
          {tunnelDown && (
            <p className="field-error">The tunnel is {info.tunnel!.state}; the link may not work until it is up.</p>
          )}
          <label className="check as-me">
            <input type="checkbox" data-testid="phone-as-me" checked={asMe} onChange={(e) => setAsMe(e.target.checked)} />
            <span>
              Continue as me on the phone{' '}
              <span className="muted">— the link carries your identity key; anyone with it can chat as you.</span>
            </span>
          </label>
          <div className="qr-wrap">
            <Qr value={link} label={`QR code to open #${room} on a phone`} />
          </div>
          <CopyField value={link} testId="phone-link" />
        </>
      );
    }
  }

  return (
    <Modal title="Open on your phone" onClose={onClose} testId="phone-dialog">
      {body}
    </Modal>
  );
}
