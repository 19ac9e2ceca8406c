import { isEmptyBag } from './json-value.js';

/**
 * The flash key that holds messages pushed by level (pushFlash/req.flash): `{ level: [messages] }`.
 * A 2xx does not consume it; pullFlash() and reset({ flashOnly: true }) remove it.
 */
export const MESSAGES = '\u0000messages';
export type Messages = Record<string, unknown[]>;

/** A messages object with no level left: every pushed message was pulled. */
export function noMessages(value: unknown): boolean {
  return typeof value === 'object' && value !== null && isEmptyBag(value);
}

/**
 * Whether `all` holds the levels `brought` held, each with the very same list: messages pushed and
 * pulled again in one request leave the session as it came, with nothing to write.
 */
export function sameMessages(all: Messages, brought: unknown): boolean {
  const before = (typeof brought === 'object' && brought !== null ? brought : {}) as Messages;
  let levels = 0;
  for (const level in all) {
    if (all[level] !== before[level]) return false;
    levels++;
  }
  for (const _ in before) levels--;
  return levels === 0;
}
