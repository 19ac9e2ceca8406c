import type { SessionChanges, SessionMeta } from 'nest-session';

/** A change set: nothing changed, except what `partial` says. */
export function changes(partial: Partial<SessionChanges> = {}): SessionChanges {
  return {
    clearData: false,
    clearFlash: false,
    set: {},
    deleted: [],
    flash: {},
    flashCleared: {},
    ...partial,
  };
}

/** Timestamps of a write at `now` for a session that has `ttl` ms left. */
export function meta(now: number, ttl = 60_000): SessionMeta {
  return { createdAt: now, lastActivity: now, expiresAt: now + ttl, create: true };
}

/** For jest.useFakeTimers({ doNotFake }): fake only Date, so HTTP servers and clients keep working. */
export const ONLY_DATE = [
  'nextTick',
  'setImmediate',
  'clearImmediate',
  'setInterval',
  'clearInterval',
  'setTimeout',
  'clearTimeout',
  'queueMicrotask',
  'hrtime',
  'performance',
] as const;

/** A store's answer as a record: fails the test on a tombstone. */
export function asRecord<R extends object>(found: R | 'retired' | undefined): R | undefined {
  if (found === 'retired') throw new Error('expected a record or nothing, got a retired id');
  return found;
}
