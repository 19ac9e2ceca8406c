/**
 * The store contract: what a server-side driver's store is (`SessionStore`), and every optional power
 * a store may have, each a separate interface with its run-time guard. The library finds a power only
 * through its guard here, never by reading a store's class: a store written by a user gets the same
 * treatment as a built-in one. A new power is declared in this file, with its guard, before any store
 * implements it (docs/ARCHITECTURE.md, "Adding a store power").
 */
import type { SessionChanges, SessionMeta, SessionRecord } from '../core/change-set.js';

export { applyChanges, emptyRecord } from '../core/change-set.js';
export type {
  SessionChanges,
  SessionMeta,
  SessionRecord,
  SessionUser,
  UserLimit,
} from '../core/change-set.js';

/**
 * A server-side driver's store. It sees ids, records and change sets, never HTTP. "Missing, expired
 * or tampered" is `undefined`, never an error; errors are for real faults (the store is down) and
 * become a 503 for that request.
 *
 * Retirement: once `retire(id)` has run, nothing may write under that id again (`apply` with
 * `create: false` resolves false) until its tombstone expires, and `get(id)` answers 'retired'.
 */
export interface SessionStore {
  /** The record; 'retired' for a retired id whose tombstone has not expired; undefined when there is none or it has expired. */
  get(id: string): Promise<SessionRecord | 'retired' | undefined>;
  /**
   * Applies the change set atomically and stores the timestamps (an empty change set only touches).
   * Resolves true when applied; false, changing nothing, when `meta.create` is false and the id holds
   * no live record.
   */
  apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean>;
  /**
   * Retires an id (regenerate() or destroy() committed), atomically: resolves to the live record it
   * held, now replaced by a tombstone kept until `until` (ms since the epoch); undefined, changing
   * nothing, when it held no live record (already retired, destroyed or expired).
   */
  retire(id: string, until: number): Promise<SessionRecord | undefined>;
  /** Deletes the record (or tombstone) now: admin sign-out. A missing one is not an error. */
  destroy(id: string): Promise<void>;
}

/** Optional power: drop expired records now; resolves to how many went. */
export interface PrunableSessionStore extends SessionStore {
  prune(): Promise<number>;
}

/** Optional power: release connections and timers on application shutdown. */
export interface ClosableSessionStore extends SessionStore {
  close(): Promise<void>;
}

/**
 * Optional power: the same operations done at once, for a store that keeps records in the process
 * (the memory store). The store driver then calls these, so a request on it awaits no promise and its
 * response is never held. A store has this power only with all four.
 */
export interface SynchronousSessionStore extends SessionStore {
  getNow(id: string): SessionRecord | 'retired' | undefined;
  applyNow(id: string, changes: SessionChanges, meta: SessionMeta): boolean;
  retireNow(id: string, until: number): SessionRecord | undefined;
  destroyNow(id: string): void;
}

/**
 * Optional power of a synchronous store: what a request that never used its session needs to know
 * of it, without reading the whole record. With it, the driver loads the session on first use, and
 * a request that never uses it reads only this (`SessionDriver.unusedNeedsCommit`). The record's
 * last activity, and whether it holds flash; 'retired' and undefined as `getNow`.
 */
export interface PeekingSessionStore extends SynchronousSessionStore {
  peekNow(id: string): SessionPeek | 'retired' | undefined;
}

export interface SessionPeek {
  /** ms since the epoch */
  lastActivity: number;
  /** The record holds flash data (a 2xx response consumes it). */
  hasFlash: boolean;
}

/**
 * Optional power: checks run once at start-up (after every module's onModuleInit), before the first
 * request: a missing client package, say. A rejection stops the app with the error's message, so it
 * should be a SessionConfigError that names the fix.
 */
export interface StartupCheckedSessionStore extends SessionStore {
  checkAtStartup(): Promise<void>;
}

/**
 * Optional power: tells a misconfiguration from an outage. Given an error a store call failed with,
 * it answers what to fix when the store answered but is set up wrongly (a wrong password, a Cluster
 * node given as one server), or undefined for an outage. A misconfiguration is answered with a 500
 * SESSION_STORE_MISCONFIGURED naming the fix and logged once; an outage with a 503.
 */
export interface DiagnosingSessionStore extends SessionStore {
  misconfiguration(error: unknown): string | undefined;
}

/**
 * Optional power: the user index, which SessionRegistry lists and revokes through. The binding travels
 * in the change set: `apply` with `changes.user` set binds the record to that user (null unbinds it)
 * and updates the index in the same atomic operation as the record; `retire` and `destroy` drop the id
 * from the index in theirs. Index entries carry their session's expiry (or a bound at most a minute
 * past it, so that a session's writes within it need not touch the index; listUser checks each entry
 * against its record), and every write that touches a user's entries drops the expired ones: nothing
 * in the index outlives its session by more than that minute. With `meta.limit`,
 * a binding past `limit.max` live sessions retires the user's earliest sign-ins in the same atomic
 * step ('revoke-oldest', their ids added to `limit.revoked`) or changes nothing and throws
 * SessionUserLimitError ('reject'); two sign-ins at once can never both pass it.
 */
export interface UserIndexedSessionStore extends SessionStore {
  /** The user's live sessions (not expired, not retired, still bound to that user), in no particular order. */
  listUser(userId: string): Promise<Array<{ id: string; record: SessionRecord }>>;
}

const hasMethods = (store: object, ...names: string[]): boolean =>
  names.every((name) => typeof (store as Record<string, unknown>)[name] === 'function');

export function isPrunable(store: SessionStore): store is PrunableSessionStore {
  return hasMethods(store, 'prune');
}

export function isClosable(store: SessionStore): store is ClosableSessionStore {
  return hasMethods(store, 'close');
}

export function isSynchronous(store: SessionStore): store is SynchronousSessionStore {
  return hasMethods(store, 'getNow', 'applyNow', 'retireNow', 'destroyNow');
}

export function isPeeking(store: SynchronousSessionStore): store is PeekingSessionStore {
  return hasMethods(store, 'peekNow');
}

export function isStartupChecked(store: SessionStore): store is StartupCheckedSessionStore {
  return hasMethods(store, 'checkAtStartup');
}

export function isDiagnosing(store: SessionStore): store is DiagnosingSessionStore {
  return hasMethods(store, 'misconfiguration');
}

export function isUserIndexed(store: SessionStore): store is UserIndexedSessionStore {
  return hasMethods(store, 'listUser');
}
