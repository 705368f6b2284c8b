// Telling people apart. A person is their `User.id`; names are not unique, so
// wherever two people share a name the UI adds a short tag made from the id,
// and avatar colours come from the id too.

import { hash32, hueFor } from './format';
import type { User } from './protocol';

/**
 * A short tag for a person, `#` and four hex digits, the same for the same id
 * on every page. Different ids almost always get different tags (a 16-bit
 * hash: one pair in 65,536 collides).
 */
export function userTag(id: string): string {
  return `#${(hash32(id) & 0xffff).toString(16).padStart(4, '0')}`;
}

/** The avatar and name colour of a person: a hue from their id, not their name. */
export function userHue(user: User): number {
  return hueFor(user.id || user.name);
}

/** How names are compared for ambiguity: "Sam", "sam" and "ｓａｍ" read alike. */
function nameKey(name: string): string {
  return name.normalize('NFKC').toLowerCase();
}

/**
 * The names (as compared by `sharesName`) that belong to more than one person
 * among `users`: those are the names to show with a tag.
 */
export function sharedNames(users: Iterable<User>): Set<string> {
  const idsByName = new Map<string, string>();
  const shared = new Set<string>();
  for (const u of users) {
    if (!u || typeof u.name !== 'string' || typeof u.id !== 'string') continue;
    const k = nameKey(u.name);
    const first = idsByName.get(k);
    if (first === undefined) idsByName.set(k, u.id);
    else if (first !== u.id) shared.add(k);
  }
  return shared;
}

/** Whether `user`'s name is one of `shared` (from `sharedNames`). */
export function sharesName(shared: ReadonlySet<string>, user: User): boolean {
  return shared.size > 0 && shared.has(nameKey(user.name));
}
