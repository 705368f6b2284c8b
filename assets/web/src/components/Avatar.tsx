import { hueFor, initials } from '../lib/format';
import type { User } from '../lib/protocol';

export function Avatar({ user, size = 32 }: { user: User; size?: number }) {
  const hue = hueFor(user.name);
  return (
    <span
      className="avatar"
      aria-hidden="true"
      style={{ width: size, height: size, fontSize: size * 0.4, ['--hue' as string]: hue }}
    >
      {initials(user.name)}
    </span>
  );
}
