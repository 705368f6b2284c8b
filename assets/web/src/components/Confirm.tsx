import { useState, type ReactNode } from 'react';
import { Modal } from './Modal';

/**
 * Asks before something that cannot be undone. `onConfirm` runs once; the
 * dialog closes when it settles (a failure is the caller's to report).
 */
export function Confirm({
  title,
  action,
  children,
  onConfirm,
  onClose,
}: {
  title: string;
  /** The confirming button's label, e.g. "Delete room". */
  action: string;
  children: ReactNode;
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const confirm = async () => {
    setBusy(true);
    await onConfirm();
    onClose();
  };
  return (
    <Modal title={title} onClose={onClose} testId="confirm-dialog">
      {children}
      <div className="modal-actions">
        <button type="button" className="btn ghost" onClick={onClose}>
          Cancel
        </button>
        <button type="button" className="btn danger" data-testid="confirm" disabled={busy} onClick={() => void confirm()}>
          {action}
        </button>
      </div>
    </Modal>
  );
}
