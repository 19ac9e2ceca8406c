/**
 * The user index of a store that keeps it in the process (memory) or in files (file): the entries of
 * one user, and what a binding past users.maxPerUser does. The atomic step around it is the store's.
 */
import type { UserLimit } from '../core/change-set.js';
import { SessionUserLimitError } from '../session.errors.js';

/** One session of a user: its id, when it was signed in, and when it expires. */
export interface UserEntry {
  id: string;
  signedInAt: number;
  expiresAt: number;
}

/**
 * Which of the user's other live sessions a binding must retire to fit the limit, earliest sign-ins
 * first; throws SessionUserLimitError when the limit rejects instead.
 */
export function overLimit(others: readonly UserEntry[], limit: UserLimit | undefined): UserEntry[] {
  if (limit === undefined || others.length < limit.max) return [];
  if (limit.onLimit === 'reject') throw new SessionUserLimitError(limit.max);
  return [...others].sort((a, b) => a.signedInAt - b.signedInAt).slice(0, others.length - limit.max + 1);
}
