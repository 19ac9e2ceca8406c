import { isEmptyBag, keyBag, putKey } from './json-value.js';

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

/** The record a change set with `meta.create` starts from when the store holds none. */
export function emptyRecord(meta: SessionMeta): SessionRecord {
  return { data: {}, flash: {}, createdAt: meta.createdAt, lastActivity: meta.lastActivity };
}

/** Whether a change set changes nothing (applying it only touches the timestamps). */
export function isEmptyChanges(c: SessionChanges): boolean {
  if (c.clearData || c.clearFlash || c.deleted.length > 0) return false;
  return isEmptyBag(c.set) && isEmptyBag(c.flash) && isEmptyBag(c.flashCleared);
}
