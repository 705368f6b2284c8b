// A native <dialog>: focus trapping, Escape and the top layer come for free.

import { useEffect, useRef, type ReactNode } from 'react';
import { CloseIcon } from './Icons';

export function Modal({
  title,
  onClose,
  children,
  testId,
  className,
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
  testId?: string;
  /** Added to `modal`, for dialogs of another shape. */
  className?: string;
}) {
  const ref = useRef<HTMLDialogElement>(null);

  // No close() on unmount: removing the element takes it out of the top layer,
  // and a close event then would report a close nobody asked for.
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);

  return (
    <dialog
      ref={ref}
      className={className ? `modal ${className}` : 'modal'}
      aria-label={title}
      data-testid={testId}
      onClose={onClose}
      onClick={(e) => {
        // A click on the backdrop lands on the dialog element itself.
        if (e.target === ref.current) onClose();
      }}
    >
      <div className="modal-body">
        <header className="modal-head">
          <h2>{title}</h2>
          <button type="button" className="icon-btn" aria-label="Close" onClick={onClose}>
            <CloseIcon />
          </button>
        </header>
        {children}
      </div>
    </dialog>
  );
}
