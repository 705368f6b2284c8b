/**
 * The warning for a server that only this computer can reach (no `--lan`, no
 * `--tunnel`): a link or QR code to it works nowhere else, and how to change that.
 */
export function LocalOnlyNote({ lead, testId }: { lead: string; testId: string }) {
  return (
    <div className="note" data-testid={testId}>
      <p>
        <strong>{lead}</strong> The server only listens on this computer.
      </p>
      <p>
        Restart it with <code>rtchat serve --lan</code> to use it from phones on the same Wi‑Fi, or with{' '}
        <code>rtchat serve --tunnel</code> for a public link that works anywhere.
      </p>
    </div>
  );
}
