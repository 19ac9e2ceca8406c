import { isEmptyBag, keyBag, putKey } from './json-value.js';

/** What a server-side store keeps for one session id. Values are JSON-safe (checked at `set()`). */
export interface SessionRecord {
  data: Record<string, unknown>;
  flash: Record<string, unknown>;
  /** ms since the epoch */
  createdAt: number;
  /** ms since the epoch */
  lastActivity: number;
  /** The user the session is bound to (signIn()), with what is kept of the device; none when anonymous. */
  user?: SessionUser;
  /** The policy whose timeouts the session follows (`forRoot({ policies })`); none: the default one. */
  policy?: string;
}

/** A session's user and device, as `signIn()` bound them. */
export interface SessionUser {
  id: string;
  /** ms since the epoch */
  signedInAt: number;
  /** What the user called this device (`signIn(id, { label })`). */
  label?: string;
  /** The User-Agent header at sign-in, when `users.device.userAgent` keeps it. */
  userAgent?: string;
  /** The client's address at sign-in, whole or truncated as `users.device.ip` says. */
  ip?: string;
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
  /**
   * With a change set that binds the record to a user (`changes.user`) on a store with the user
   * index: the most live sessions the user may have, this one included, and what happens past it.
   */
  limit?: UserLimit;
}

/** `users.maxPerUser`, as a store enforces it inside the atomic bind. */
export interface UserLimit {
  max: number;
  /**
   * 'revoke-oldest': retire the user's sessions signed in earliest (tombstones until `until`, which
   * is now: a revoked device's next request is a fresh session), in the same atomic step, until the
   * new one fits; 'reject': change nothing and throw SessionUserLimitError.
   */
  onLimit: 'revoke-oldest' | 'reject';
  until: number;
  /** The id this binding replaces (the session signIn() regenerated): it is not counted. */
  replaces?: string;
  /** The store adds the ids it retired, for the events the driver reports. */
  revoked: string[];
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
  /** signIn(): the user to bind; null: unbind (signOut, or a reset of the binding). Absent: unchanged. */
  user?: SessionUser | null;
  /** usePolicy(): the policy to follow; null: the default one. Absent: unchanged. */
  policy?: string | null;
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
  const next: SessionRecord = {
    data,
    flash,
    createdAt: record.createdAt || meta.createdAt,
    lastActivity: meta.lastActivity,
  };
  const user = changes.user === undefined ? record.user : (changes.user ?? undefined);
  const policy = changes.policy === undefined ? record.policy : (changes.policy ?? undefined);
  if (user !== undefined) next.user = user;
  if (policy !== undefined) next.policy = policy;
  return next;
}

/** The record a change set with `meta.create` starts from when the store holds none. */
export function emptyRecord(meta: SessionMeta): SessionRecord {
  return { data: {}, flash: {}, createdAt: meta.createdAt, lastActivity: meta.lastActivity };
}

/** Whether a change set changes nothing (applying it only touches the timestamps). */
export function isEmptyChanges(c: SessionChanges): boolean {
  if (c.clearData || c.clearFlash || c.deleted.length > 0) return false;
  if (c.user !== undefined || c.policy !== undefined) return false;
  return isEmptyBag(c.set) && isEmptyBag(c.flash) && isEmptyBag(c.flashCleared);
}
