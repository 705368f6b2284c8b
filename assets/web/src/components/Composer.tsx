import { useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { SendIcon } from './Icons';
import { useAutoGrow } from './useAutoGrow';

export function Composer({
  label,
  disabled,
  maxLen,
  onSend,
  onTyping,
  onIdle,
}: {
  /** The room as people call it: `#lobby`, or a private room's name. */
  label: string;
  disabled: boolean;
  maxLen: number;
  onSend: (text: string) => void;
  onTyping: () => void;
  onIdle: () => void;
}) {
  const [text, setText] = useState('');
  const ref = useRef<HTMLTextAreaElement>(null);
  const length = Array.from(text).length;
  const tooLong = length > maxLen;
  const canSend = !disabled && text.trim().length > 0 && !tooLong;

  useAutoGrow(ref, text);

  const submit = (e?: FormEvent) => {
    e?.preventDefault();
    if (!canSend) return;
    onSend(text);
    setText('');
    ref.current?.focus();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      submit();
    }
  };

  const near = length > maxLen * 0.8;
  return (
    <form className="composer" onSubmit={submit}>
      <label htmlFor="composer" className="sr-only">
        Message {label}
      </label>
      <div className={tooLong ? 'composer-box over' : 'composer-box'}>
        <textarea
          id="composer"
          ref={ref}
          data-testid="composer"
          rows={1}
          value={text}
          placeholder={disabled ? 'Joining…' : `Message ${label}`}
          enterKeyHint="send"
          autoComplete="off"
          aria-describedby={near ? 'composer-count' : undefined}
          aria-invalid={tooLong || undefined}
          disabled={disabled}
          onChange={(e) => {
            setText(e.target.value);
            if (e.target.value) onTyping();
            else onIdle();
          }}
          onKeyDown={onKeyDown}
          onBlur={onIdle}
        />
        {near && (
          <span id="composer-count" className="composer-count" aria-live="polite">
            {tooLong ? `${length - maxLen} characters too long` : `${maxLen - length} left`}
          </span>
        )}
      </div>
      <button type="submit" className="send-btn" data-testid="send" aria-label="Send" disabled={!canSend}>
        <SendIcon />
      </button>
    </form>
  );
}
