import type { TypingUser } from '../lib/client';

function sentence(names: string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names[0]}, ${names[1]} and ${names.length - 2} more are typing…`;
}

export function TypingLine({ typing }: { typing: TypingUser[] }) {
  const text = sentence(typing.map((t) => t.user.name));
  return (
    <div className="typing" data-testid="typing" aria-hidden={text ? undefined : true}>
      {text && (
        <>
          <span className="dots" aria-hidden="true">
            <i />
            <i />
            <i />
          </span>
          <span className="typing-text">{text}</span>
        </>
      )}
    </div>
  );
}
