import { humanSize, isReencoded } from '../lib/files';
import { CloseIcon, FileIcon } from './Icons';
import type { Attachment, Attachments } from './useAttachments';

/**
 * The files about to be sent, above the composer: a thumbnail or icon, name,
 * size, progress while uploading, the server's refusal with a retry, and a
 * remove button each; "Send original" for photos, and Cancel while sending.
 */
export function AttachmentTray({
  attachments,
  sending,
  onRetry,
  onCancel,
}: {
  attachments: Attachments;
  sending: boolean;
  onRetry: () => void;
  onCancel: () => void;
}) {
  const { items, note, original, setOriginal, remove } = attachments;
  if (items.length === 0 && !note) return null;
  const hasPhotos = items.some((a) => isReencoded(a.file.type));
  return (
    <div className="tray" data-testid="attachment-tray">
      {items.length > 0 && (
        <ul className="tray-list" aria-label="Files to send">
          {items.map((a) => (
            <TrayItem key={a.key} item={a} busy={sending} onRemove={() => remove(a.key)} onRetry={onRetry} />
          ))}
        </ul>
      )}
      {note && (
        <p className="tray-note" data-testid="tray-note" role="status">
          {note}
        </p>
      )}
      {(hasPhotos || sending) && (
        <div className="tray-bar">
          {hasPhotos && (
            <label className="tray-original">
              <input
                type="checkbox"
                data-testid="send-original"
                checked={original}
                disabled={sending}
                onChange={(e) => setOriginal(e.target.checked)}
              />
              <span>
                Send original <span className="muted">(full size; keeps metadata such as location)</span>
              </span>
            </label>
          )}
          {sending && (
            <button type="button" className="link-btn muted" data-testid="cancel-upload" onClick={onCancel}>
              Cancel
            </button>
          )}
        </div>
      )}
    </div>
  );
}

const STATUS: Record<Attachment['status'], string> = {
  waiting: '',
  preparing: 'Preparing…',
  uploading: 'Uploading…',
  done: 'Uploaded',
  failed: 'Not sent',
};

function TrayItem({
  item,
  busy,
  onRemove,
  onRetry,
}: {
  item: Attachment;
  busy: boolean;
  onRemove: () => void;
  onRetry: () => void;
}) {
  const size = item.uploaded?.size ?? item.file.size;
  const status = STATUS[item.status];
  return (
    <li className={`tray-item ${item.status}`} data-testid="tray-item" data-status={item.status} data-name={item.file.name}>
      {item.preview ? (
        <img className="tray-thumb" src={item.preview} alt="" />
      ) : (
        <span className="tray-thumb tray-icon">
          <FileIcon />
        </span>
      )}
      <span className="tray-info">
        <span className="tray-name" title={item.file.name}>
          {item.file.name}
        </span>
        <span className="tray-meta">
          {humanSize(size)}
          {status && ` · ${status}`}
        </span>
        {(item.status === 'uploading' || item.status === 'preparing') && (
          <progress
            className="tray-progress"
            data-testid="upload-progress"
            max={1}
            value={item.status === 'uploading' ? item.progress : undefined}
            aria-label={`Uploading ${item.file.name}`}
          />
        )}
        {item.status === 'failed' && (
          <span className="tray-error" data-testid="upload-error" role="alert">
            {item.error}{' '}
            {!busy && (
              <button type="button" className="link-btn" data-testid="upload-retry" onClick={onRetry}>
                Retry
              </button>
            )}
          </span>
        )}
      </span>
      <button type="button" className="icon-btn small tray-remove" data-testid="tray-remove" aria-label={`Remove ${item.file.name}`} onClick={onRemove}>
        <CloseIcon size={16} />
      </button>
    </li>
  );
}
