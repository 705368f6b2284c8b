import { buildLink } from '../lib/url';
import { CopyField } from './CopyField';
import { LocalOnlyNote } from './LocalOnlyNote';
import { Modal } from './Modal';
import { Qr } from './Qr';

export function InviteDialog({
  room,
  label,
  isPrivate,
  roomKey,
  token,
  base,
  localOnly,
  onClose,
}: {
  room: string;
  /** The room as people call it: `#lobby`, or a private room's name. */
  label: string;
  isPrivate: boolean;
  roomKey?: string;
  token: string;
  /** The address others can reach this server at. */
  base: string;
  /** Only this computer can reach the server, so the link works nowhere else. */
  localOnly: boolean;
  onClose: () => void;
}) {
  const link = buildLink(base, { room, key: isPrivate ? roomKey : undefined, token: token || undefined });
  const missingKey = isPrivate && !roomKey;
  return (
    <Modal title={`Invite to ${label}`} onClose={onClose} testId="invite-dialog">
      {missingKey ? (
        <p>This room is private, and this browser doesn’t have its key, so it can’t make an invite link.</p>
      ) : (
        <>
          <p className="muted">
            {isPrivate
              ? 'Anyone with this link or code can join this private room. Share it only with people you trust.'
              : 'Send this link, or let them scan the code, to bring people straight into this room.'}
          </p>
          {localOnly && <LocalOnlyNote lead="Only this computer can open this link." testId="invite-local-only" />}
          <div className="qr-wrap">
            <Qr value={link} label={`QR code of the invite link to ${label}`} />
          </div>
          <CopyField value={link} testId="invite-link" />
        </>
      )}
    </Modal>
  );
}
