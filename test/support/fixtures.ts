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
  return { createdAt: now, lastActivity: now, expiresAt: now + ttl };
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
