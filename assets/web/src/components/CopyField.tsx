import { useState } from 'react';
import { CopyIcon } from './Icons';

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // The async clipboard needs a secure context; a LAN address over http is not one.
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.append(ta);
    ta.select();
    const ok = document.execCommand('copy');
    ta.remove();
    return ok;
  }
}

/** A link shown in full, with a copy button. */
export function CopyField({ value, testId }: { value: string; testId?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="copy-field">
      <a className="copy-value" href={value} data-testid={testId} target="_blank" rel="noopener noreferrer">
        {value}
      </a>
      <button
        type="button"
        className="btn small"
        onClick={async () => {
          if (await copyText(value)) {
            setCopied(true);
            setTimeout(() => setCopied(false), 1600);
          }
        }}
      >
        <CopyIcon /> {copied ? 'Copied' : 'Copy'}
      </button>
    </div>
  );
}
