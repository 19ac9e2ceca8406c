import { SessionConfigError, type SessionErrorCode } from '../session.errors.js';

/** Throws a start-up error with the given code, saying what to set. */
export function invalid(message: string, code: SessionErrorCode = 'SESSION_OPTION_INVALID'): never {
  throw new SessionConfigError(code, message);
}

/** A positive finite number (a duration in ms by default). */
export function positive(name: string, value: unknown, what = 'a positive number of milliseconds'): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) invalid(`${name} must be ${what}`);
}

/** How often a sweep runs, in ms: 0 turns it off. */
export function interval(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    invalid(`${name} must be a number of milliseconds (0 turns the sweep off)`);
  }
}
