import { memo } from 'react';
import { splitLinks } from '../lib/linkify';

/** Message text as text nodes and real anchors; never parsed as HTML. */
export const MessageText = memo(function MessageText({ text }: { text: string }) {
  return (
    <div className="msg-text" data-testid="message-text" dir="auto">
      {splitLinks(text).map((seg, i) =>
        seg.kind === 'link' ? (
          <a key={i} href={seg.href} target="_blank" rel="noopener noreferrer nofollow">
            {seg.text}
          </a>
        ) : (
          seg.text
        ),
      )}
    </div>
  );
});
