/** StoreDriver's helpers for store work: steps on work a synchronous store did at once, whole records. */
import type { SessionChanges, SessionRecord } from '../stores/session-store.js';

/**
 * Chains a step onto store work that may have been done at once. Never named `then`: a module
 * that exports `then` is a thenable, and Vite's module runner (Vitest) awaits the modules it imports.
 */
export function afterWork<T, R>(value: Promise<T> | T, next: (value: T) => R | Promise<R>): Promise<R> | R {
  return value instanceof Promise ? value.then(next) : next(value);
}

/** A change set that writes a whole record (the one regenerate() carries to its new id). */
export function wholeRecord(record: SessionRecord): SessionChanges {
  return {
    clearData: true,
    clearFlash: true,
    set: record.data,
    deleted: [],
    flash: record.flash,
    flashCleared: {},
    user: record.user ?? null,
    policy: record.policy ?? null,
  };
}
