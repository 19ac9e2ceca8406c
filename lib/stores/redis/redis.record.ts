/**
 * How a session is laid out in Redis: the fields of its hash, how a record is read back from them,
 * and how a user's id is spelt in the user index's keys.
 */
import { putKey } from '../../core/json-value.js';
import type { SessionChanges, SessionMeta, SessionRecord, SessionUser } from '../session-store.js';

export const DATA = 'd:';
export const FLASH = 'f:';
/**
 * The fields of data and flash keys that hold a lone surrogate, which UTF-8 cannot carry (ioredis
 * would send it as U+FFFD, and '\uD800a' and '\uDC00a' would become one field): the key is kept as
 * its JSON string, which escapes it. Every other key keeps its plain field.
 */
export const DATA_ESCAPED = 'D:';
export const FLASH_ESCAPED = 'F:';
export const CREATED = 'm:c';
export const ACTIVE = 'm:a';
/** Bytes of the data and flash fields (names and JSON values). */
export const SIZE = 'm:s';
/** The one field of a retired id's tombstone: when it ends (ms since the epoch, the app's clock). */
export const RETIRED = 'm:r';
/** A bound session's user: its id as the index keys spell it (userKey()), and the SessionUser as JSON. */
export const USER_ID = 'm:i';
export const USER = 'm:u';
/** The policy the session follows, as JSON; none: the default one. */
export const POLICY = 'm:p';

/** What the store knows of a session's binding: its user's id as keys spell it, and when it was signed in. */
export interface Binding {
  user: string;
  signedInAt: number;
}

export function bindingOf(user: SessionUser): Binding {
  return { user: userKey(user.id), signedInAt: user.signedInAt };
}

/**
 * A binding as a read found it: with the user's JSON as the hash held it and the user parsed from it
 * (frozen), so the next read of the same session need not parse it again (a signed-in request then
 * costs little more than an anonymous one: bench/RESULTS.md).
 */
export interface KnownBinding extends Binding {
  json?: string;
  parsed?: SessionUser;
  /** The keys of its index the one-node scripts declare, once made. */
  keys?: string[];
  /**
   * The score this process last gave the session's entry in its user's index (indexScore(); a score
   * only rises): a write whose session expires before it leaves the index alone.
   */
  indexed?: number;
}

/** What a read learns of a session's binding; its entry's score carries over from `was`, the same binding. */
export function knownFrom(hash: FlatHash, user: SessionUser, was?: KnownBinding): KnownBinding {
  const key = fieldOf(hash, USER_ID) ?? userKey(user.id);
  const indexed = was?.user === key && was.signedInAt === user.signedInAt ? was.indexed : undefined;
  return { user: key, signedInAt: user.signedInAt, json: fieldOf(hash, USER), parsed: user, indexed };
}

/** The keys of a binding's index the one-node scripts declare (by expiry, by sign-in), kept once made. */
export function declaredKeys(prefix: string, binding: KnownBinding | undefined): string[] {
  if (binding === undefined) return [];
  return (binding.keys ??= indexKeys(prefix, binding.user).slice(0, 2));
}

/**
 * A user id as the index keys and the USER_ID field spell it: '%', '{' and '}' (a hash tag's
 * braces) and lone surrogates (which UTF-8 cannot carry) escaped, every other character as it is.
 * No two ids get the same spelling.
 */
export function userKey(id: string): string {
  return id.replace(/[%{}]|\p{Cs}/gu, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x80 ? `%${code.toString(16)}` : `%u${code.toString(16)}`;
  });
}

/**
 * The keys of a user's index, under one hash tag (one Cluster slot): the user's session ids scored
 * by when they expire, the same ids scored by when they were signed in, and (Cluster) the bindings
 * in flight, scored by when they were reserved.
 */
export function indexKeys(prefix: string, user: string): [expiry: string, signedIn: string, pending: string] {
  const base = `${prefix}user:{${user}}`;
  return [base, `${base}:s`, `${base}:p`];
}

/** A lone surrogate (a well-formed string has none; a paired one is one code point under /u). */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The hash field of a data or flash key: `d:<key>`, or `D:<key as JSON>` for a key with a lone
 * surrogate, which UTF-8 cannot carry (it would reach Redis as U+FFFD, merged with other keys).
 */
function field(kind: typeof DATA | typeof FLASH, key: string): string {
  if (!LONE_SURROGATE.test(key)) return kind + key;
  return (kind === DATA ? DATA_ESCAPED : FLASH_ESCAPED) + JSON.stringify(key);
}

/** Appends a count and then field/value pairs, the list layout the apply script reads. */
function pushPairs(
  args: (string | number)[],
  prefix: typeof DATA | typeof FLASH,
  bag: Record<string, unknown>,
  encode: (value: unknown) => string | undefined,
): void {
  const at = args.push(0) - 1;
  let count = 0;
  for (const key in bag) {
    const value = encode(bag[key]);
    if (value === undefined) continue; // not JSON (set() rejects it): nothing to store
    args.push(field(prefix, key), value);
    count++;
  }
  args[at] = count;
}

/**
 * The apply script's ARGV for a change set (redis.scripts.ts): the timestamps and flags, the four
 * lists, then the policy and the user ('' unchanged, '-' none, or its JSON) and that user's key.
 */
export function changeSetArgs(
  changes: SessionChanges,
  meta: SessionMeta,
  maxSize: number,
): (string | number)[] {
  const args: (string | number)[] = [
    meta.createdAt,
    meta.lastActivity,
    Math.max(1, Math.ceil(meta.expiresAt - meta.lastActivity)),
    changes.clearData ? 1 : 0,
    changes.clearFlash ? 1 : 0,
    meta.create ? 1 : 0,
    Number.isFinite(maxSize) ? maxSize : Number.MAX_SAFE_INTEGER,
  ];
  args.push(changes.deleted.length);
  for (const key of changes.deleted) args.push(field(DATA, key));
  pushPairs(args, DATA, changes.set, JSON.stringify);
  pushPairs(args, FLASH, changes.flashCleared, String);
  pushPairs(args, FLASH, changes.flash, JSON.stringify);
  const { user, policy } = changes;
  args.push(policy === undefined ? '' : policy === null ? '-' : JSON.stringify(policy));
  args.push(
    user === undefined ? '' : user === null ? '-' : JSON.stringify(user),
    user ? userKey(user.id) : '',
  );
  return args;
}

/** The most an index entry's score runs ahead of its session's expiry (ms). */
export const INDEX_HEADROOM = 60_000;

/**
 * The score of a session's entry in its user's index: when the session expires, plus a sixteenth of
 * the time it has left (at most INDEX_HEADROOM). An entry's score is an upper bound of its session's
 * expiry (the registry checks every entry against its session), and runs ahead so that the requests
 * of the next minute, each extending the session a little, need not write the index too.
 */
export function indexScore(meta: SessionMeta): number {
  const left = meta.expiresAt - meta.lastActivity;
  return meta.expiresAt + Math.min(INDEX_HEADROOM, Math.max(0, Math.ceil(left / 16)));
}

/**
 * Whether a write of `changes` leaves the index alone: the session stays bound to `known`, whose
 * entry is still ahead of the session's expiry, and no limit is to be counted.
 */
export function indexAhead(
  known: KnownBinding | undefined,
  changes: SessionChanges,
  meta: SessionMeta,
): boolean {
  return changes.user === undefined && meta.limit === undefined && meta.expiresAt <= (known?.indexed ?? -1);
}

/** After a write with the session bound to `binding`: what the store keeps of it learns its entry's score. */
export function noteIndexed(
  kept: KnownBinding | undefined,
  binding: Binding | undefined,
  meta: SessionMeta,
): void {
  if (kept !== undefined && kept.user === binding?.user)
    kept.indexed = Math.max(kept.indexed ?? 0, indexScore(meta));
}

/**
 * The index words of the apply script on one node (redis.scripts.ts), as one argument it splits at
 * spaces (no id, number or option word holds one): ioredis encodes each argument of a command on its
 * own, at a cost per argument on every request.
 */
export function indexWords(
  id: string,
  now: number,
  meta: SessionMeta,
  signedInAt: number,
  declared: string[],
): string {
  const limit = meta.limit;
  const untilTtl = limit === undefined ? '' : Math.max(1, Math.ceil(limit.until - now));
  const words = [id, now, indexScore(meta), signedInAt, limit?.max ?? '', limit?.onLimit ?? ''];
  words.push(limit?.replaces ?? '', limit?.until ?? '', untilTtl, declared.length, ...declared);
  return words.join(' ');
}

/**
 * A hash as HGETALL answers it: field, value, field, value... It is read as this list, never as an
 * object with a property per field (each read would make every field's name a property key anew).
 */
export type FlatHash = readonly string[];

/** One field's value in a hash read as a list, or undefined. */
export function fieldOf(hash: FlatHash, name: string): string | undefined {
  for (let i = 0; i < hash.length; i += 2) if (hash[i] === name) return hash[i + 1];
  return undefined;
}

const [D, F, D_ESCAPED, F_ESCAPED, M] = [DATA, FLASH, DATA_ESCAPED, FLASH_ESCAPED, CREATED].map((name) =>
  name.charCodeAt(0),
);
const COLON = DATA.charCodeAt(1);

/**
 * A hash as HGETALL answers it, in one pass: a record, or undefined when it is missing, a tombstone or
 * not one of ours. The user is frozen; `known` (asked only when the hash holds a user) gives what an
 * earlier read of the session found, whose user is taken as it is when the hash holds the same JSON.
 */
export function parseRecord(
  hash: FlatHash,
  known?: () => { json?: string; parsed?: SessionUser } | undefined,
): SessionRecord | undefined {
  const data: Record<string, unknown> = {};
  const flash: Record<string, unknown> = {};
  let created: string | undefined;
  let active: string | undefined;
  let user: string | undefined;
  let policy: string | undefined;
  try {
    for (let i = 0; i < hash.length; i += 2) {
      const name = hash[i];
      const value = hash[i + 1];
      if (name.charCodeAt(1) !== COLON) continue;
      switch (name.charCodeAt(0)) {
        case D:
          putKey(data, name.slice(2), JSON.parse(value));
          break;
        case F:
          putKey(flash, name.slice(2), JSON.parse(value));
          break;
        case D_ESCAPED:
          putKey(data, String(JSON.parse(name.slice(2))), JSON.parse(value));
          break;
        case F_ESCAPED:
          putKey(flash, String(JSON.parse(name.slice(2))), JSON.parse(value));
          break;
        case M:
          if (name === CREATED) created = value;
          else if (name === ACTIVE) active = value;
          else if (name === USER) user = value;
          else if (name === POLICY) policy = value;
          else if (name === RETIRED) return undefined;
      }
    }
    if (created === undefined || active === undefined) return undefined;
    const record: SessionRecord = { data, flash, createdAt: Number(created), lastActivity: Number(active) };
    if (user !== undefined) {
      const was = known?.();
      record.user =
        was?.json === user && was.parsed !== undefined
          ? was.parsed
          : Object.freeze(JSON.parse(user) as SessionUser);
    }
    if (policy !== undefined) record.policy = String(JSON.parse(policy));
    return record;
  } catch {
    return undefined;
  }
}
