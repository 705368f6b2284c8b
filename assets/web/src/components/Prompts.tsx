import { useState, type FormEvent, type ReactNode } from 'react';

function Card({ children }: { children: ReactNode }) {
  return (
    <div className="gate">
      <div className="gate-card">
        <div className="brand big">
          <span className="brand-mark" aria-hidden="true">rt</span>
          rtchat
        </div>
        {children}
      </div>
    </div>
  );
}

/** Asks for a display name (1 to 32 characters). */
export function NamePrompt({
  initial,
  room,
  onSubmit,
  onCancel,
}: {
  initial: string;
  room: string;
  onSubmit: (name: string) => void;
  onCancel?: () => void;
}) {
  const [name, setName] = useState(initial);
  const trimmed = name.trim();
  const valid = trimmed.length >= 1 && Array.from(trimmed).length <= 32;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (valid) onSubmit(trimmed);
  };
  return (
    <Card>
      <h1>{onCancel ? 'Change your name' : 'Join the chat'}</h1>
      <p className="muted">
        {onCancel ? 'Others will see the new name from now on.' : <>You’re about to join <strong>#{room}</strong>. What should people call you?</>}
      </p>
      <form onSubmit={submit} className="gate-form">
        <label htmlFor="name-input">Your name</label>
        <input
          id="name-input"
          data-testid="name-input"
          className="input"
          value={name}
          maxLength={32}
          autoFocus
          autoComplete="nickname"
          enterKeyHint="go"
          placeholder="e.g. Sam"
          onChange={(e) => setName(e.target.value)}
        />
        <div className="gate-actions">
          {onCancel && (
            <button type="button" className="btn ghost" onClick={onCancel}>
              Cancel
            </button>
          )}
          <button type="submit" className="btn primary wide" data-testid="name-submit" disabled={!valid}>
            {onCancel ? 'Save' : 'Start chatting'}
          </button>
        </div>
      </form>
    </Card>
  );
}

/** Asks for the server's access token after the server refused the connection. */
export function TokenPrompt({ hadToken, onSubmit }: { hadToken: boolean; onSubmit: (token: string) => void }) {
  const [token, setToken] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (token.trim()) onSubmit(token.trim());
  };
  return (
    <Card>
      <h1>This chat is protected</h1>
      <p className="muted" data-testid="unauthorized">
        {hadToken
          ? 'The access token this browser has was not accepted. It may have changed.'
          : 'The server needs an access token.'}{' '}
        Open the invite link you were sent again, or paste the token from the person who runs the chat.
      </p>
      <form onSubmit={submit} className="gate-form">
        <label htmlFor="token-input">Access token</label>
        <input
          id="token-input"
          data-testid="token-input"
          className="input"
          type="password"
          value={token}
          autoComplete="off"
          autoFocus
          onChange={(e) => setToken(e.target.value)}
        />
        <div className="gate-actions">
          <button type="submit" className="btn primary wide" data-testid="token-submit" disabled={!token.trim()}>
            Connect
          </button>
        </div>
      </form>
    </Card>
  );
}
