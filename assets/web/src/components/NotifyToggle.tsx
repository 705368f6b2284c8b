import { useState } from 'react';
import { browserNotifySupport, playChime, primeSound } from '../lib/notify';
import { alertPrefs } from '../lib/storage';

function Switch({ on, label, testId, onClick }: { on: boolean; label: string; testId: string; onClick: () => void }) {
  return (
    <button type="button" role="switch" aria-checked={on} className="switch" data-testid={testId} onClick={onClick}>
      <span className="switch-label">{label}</span>
      <span className="switch-track" aria-hidden="true">
        <span className="switch-thumb" />
      </span>
    </button>
  );
}

/**
 * The person's alert choices for messages that arrive while the page is
 * hidden: notifications (asking the browser's permission when turned on) and
 * a sound. Both start off. Where the page cannot notify, it says why instead.
 */
export function NotifyToggle() {
  const support = browserNotifySupport();
  const [permission, setPermission] = useState(() => (support === 'ok' ? Notification.permission : 'default'));
  const [notify, setNotify] = useState(alertPrefs.notify);
  const [sound, setSound] = useState(alertPrefs.sound);
  const notifying = notify && permission === 'granted';

  const toggleNotify = async () => {
    const next = !notifying;
    const granted = !next || (await Notification.requestPermission()) === 'granted';
    setPermission(Notification.permission);
    alertPrefs.setNotify(next && granted);
    setNotify(next && granted);
  };
  const toggleSound = () => {
    alertPrefs.setSound(!sound);
    setSound(!sound);
    // A preview, and the gesture that lets the page play it later while hidden.
    if (!sound) void primeSound().then(playChime);
  };

  return (
    <div className="alerts" role="group" aria-label="Alerts while this page is in the background">
      {support === 'ok' && permission !== 'denied' && (
        <Switch on={notifying} label="Notifications" testId="notify-toggle" onClick={() => void toggleNotify()} />
      )}
      <Switch on={sound} label="Sound" testId="sound-toggle" onClick={toggleSound} />
      {support === 'ok' && permission === 'denied' && (
        <p className="alerts-note" data-testid="notify-blocked">
          Notifications are blocked for this site: allow them in the browser’s site settings.
        </p>
      )}
      {support === 'insecure' && (
        <p className="alerts-note" data-testid="notify-insecure">
          Notifications need HTTPS: open the chat through <code>rtchat serve --tunnel</code>.
        </p>
      )}
    </div>
  );
}
