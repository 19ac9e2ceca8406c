import { SessionConfigError, type SessionErrorCode } from '../session.errors.js';

/**
 * The longest duration a session option may give, in ms: 100 years. Every expiry is computed from it
 * (the cookie's Expires, each store's expiry), and a Date past 8.64e15 ms from 1970 is invalid
 * (`Expires=Invalid Date`); 100 years keeps all of them valid, whatever the clock says.
 */
export const MAX_DURATION = 100 * 365.25 * 24 * 60 * 60 * 1000;

/** The longest a Node.js timer waits, in ms (2^31 - 1, about 24.8 days); Node.js sets a longer one to 1 ms. */
export const MAX_TIMER = 2 ** 31 - 1;

/** Throws a start-up error with the given code, saying what to set. */
export function invalid(message: string, code: SessionErrorCode = 'SESSION_OPTION_INVALID'): never {
  throw new SessionConfigError(code, message);
}

/** A positive finite number (a duration in ms by default). */
export function positive(name: string, value: unknown, what = 'a positive number of milliseconds'): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) invalid(`${name} must be ${what}`);
}

/** How long a session lasts, in ms: positive, and at most MAX_DURATION (100 years). */
export function duration(name: string, value: unknown): void {
  positive(name, value);
  if ((value as number) > MAX_DURATION) {
    invalid(`${name} must be at most ${MAX_DURATION} ms (100 years), so that every expiry is a valid date`);
  }
}

/** How often a sweep runs, in ms: 0 turns it off; at most MAX_TIMER (a Node.js timer's longest wait). */
export function interval(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    invalid(`${name} must be a number of milliseconds (0 turns the sweep off)`);
  }
  if (value > MAX_TIMER) {
    invalid(
      `${name} must be at most ${MAX_TIMER} ms (about 24.8 days, the longest a Node.js timer waits: a longer one would sweep every millisecond), or 0 to turn the sweep off`,
    );
  }
}

/** How long a request may wait for something, in whole ms: 1 to MAX_TIMER. */
export function wait(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > MAX_TIMER) {
    invalid(`${name} must be a whole number of milliseconds from 1 to ${MAX_TIMER} (about 24.8 days)`);
  }
}
