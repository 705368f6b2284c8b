import { initials } from '../lib/format';
import { userHue } from '../lib/identity';
import type { User } from '../lib/protocol';

/** Initials on a colour that comes from the person's id, so namesakes differ. */
export function Avatar({ user, size = 32 }: { user: User; size?: number }) {
  const hue = userHue(user);
  return (
    <span
      className="avatar"
      aria-hidden="true"
      data-hue={hue}
      style={{ width: size, height: size, fontSize: size * 0.4, ['--hue' as string]: hue }}
    >
      {initials(user.name)}
    </span>
  );
}
