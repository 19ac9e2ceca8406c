import { keyBag, putKey } from '../core/json-value.js';

/** What a server-side store keeps for one session id. Values are JSON-safe (checked at `set()`). */
export interface SessionRecord {
  data: Record<string, unknown>;
  flash: Record<string, unknown>;
  /** ms since the epoch */
  createdAt: number;
  /** ms since the epoch */
  lastActivity: number;
}

/** What a store writes with a change set: timestamps (`expiresAt`: when the record may be dropped) and whether to create. */
export interface SessionMeta {
  createdAt: number;
  lastActivity: number;
  expiresAt: number;
  /**
   * true: the id is new (256 random bits no client has seen yet): create the record. false: the
   * request loaded this id as a live record; if the store no longer holds it live (retired,
   * destroyed, expired), change nothing and resolve false: never bring it back.
   */
  create: boolean;
}

/**
 * What one request changed. A store applies it atomically to the record it holds, in this order: clear, delete, set; clear flash, drop cleared flash, add flash.
 */
export interface SessionChanges {
  /** reset(): drop all session data first. */
  clearData: boolean;
  /** reset() or reset({ flashOnly: true }): drop all flash data first. */
  clearFlash: boolean;
  /** Keys set, with their values. */
  set: Record<string, unknown>;
  /** Keys deleted. */
  deleted: string[];
  /** Flash data added. */
  flash: Record<string, unknown>;
  /**
   * Flash this request saw and consumed: key -> JSON of the value it saw. Drop the key only if the
   * record still holds that value, so a message flashed meanwhile by another request survives.
   */
  flashCleared: Record<string, string>;
}

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

/** Optional power: release connections on application shutdown. */
export interface ClosableSessionStore extends SessionStore {
  close(): Promise<void>;
}

/**
 * Optional power: the same operations done at once, for a store that keeps records in the process
 * (the memory store). The store driver then calls these, so a request on it awaits no promise and its
 * response is never held.
 */
export interface SynchronousSessionStore extends SessionStore {
  getNow(id: string): SessionRecord | 'retired' | undefined;
  applyNow(id: string, changes: SessionChanges, meta: SessionMeta): boolean;
  retireNow(id: string, until: number): SessionRecord | undefined;
  destroyNow(id: string): void;
}

export function isPrunable(store: SessionStore): store is PrunableSessionStore {
  return typeof (store as Partial<PrunableSessionStore>).prune === 'function';
}

export function isClosable(store: SessionStore): store is ClosableSessionStore {
  return typeof (store as Partial<ClosableSessionStore>).close === 'function';
}

export function isSynchronous(store: SessionStore): store is SynchronousSessionStore {
  const s = store as Partial<SynchronousSessionStore>;
  return (
    typeof s.getNow === 'function' && typeof s.applyNow === 'function' && typeof s.destroyNow === 'function'
  );
}

/** Applies a change set to a record in memory: the one merge every store that holds JSON can share. */
export function applyChanges(
  record: SessionRecord,
  changes: SessionChanges,
  meta: SessionMeta,
): SessionRecord {
  // putKey: a '__proto__' key stays an ordinary key of the record (assigning it would set its prototype).
  const data = changes.clearData ? keyBag() : record.data;
  const flash = changes.clearFlash ? keyBag() : record.flash;
  for (const key of changes.deleted) delete data[key];
  for (const key in changes.set) putKey(data, key, changes.set[key]);
  for (const key in changes.flashCleared) {
    if (Object.hasOwn(flash, key) && JSON.stringify(flash[key]) === changes.flashCleared[key])
      delete flash[key];
  }
  for (const key in changes.flash) putKey(flash, key, changes.flash[key]);
  return { data, flash, createdAt: record.createdAt || meta.createdAt, lastActivity: meta.lastActivity };
}

export function emptyRecord(meta: SessionMeta): SessionRecord {
  return { data: {}, flash: {}, createdAt: meta.createdAt, lastActivity: meta.lastActivity };
}
