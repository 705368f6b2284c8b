import type { Notice } from '../lib/client';
import { AlertIcon, CloseIcon } from './Icons';

export function Banner({ notice, onDismiss }: { notice: Notice | null; onDismiss: () => void }) {
  if (!notice) return null;
  return (
    <div className="banner" role="alert" data-testid="error" key={notice.id}>
      <AlertIcon size={18} />
      <span className="banner-text">{notice.text}</span>
      <button type="button" className="icon-btn small" aria-label="Dismiss" onClick={onDismiss}>
        <CloseIcon size={16} />
      </button>
    </div>
  );
}

export function ReconnectBar({ show }: { show: boolean }) {
  if (!show) return null;
  return (
    <div className="reconnect-bar" role="status">
      <span className="spinner" aria-hidden="true" />
      Connection lost. Reconnecting… Messages you send now go out once it’s back.
    </div>
  );
}
