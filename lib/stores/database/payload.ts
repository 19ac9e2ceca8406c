/**
 * A row's payload: the session as JSON, `{"data":…,"flash":…,"user":…,"policy":…}` (user and policy
 * when it has them). A signed-in session's request reads its payload twice (the read, then the row
 * locked for the write) and writes it once; the user in it is the same every time, and V8 spends
 * more on a small object's properties than on the rest of a small session. So the part from the
 * user on (the tail) is read once and kept, frozen, by session: a payload that still ends with its
 * session's tail parses only its data and flash, and a record whose user came from a kept tail is
 * written with that tail's text. The JSON is exactly what JSON.parse and JSON.stringify of the whole
 * would read and write; anything else (a tail holding other keys, `"user"` nested in data) is parsed
 * whole.
 */
import { ownString, RecentMap } from '../../core/recent-map.js';
import type { SessionUser } from '../session-store.js';

/** What a payload holds: the session's data, flash, user and policy, unchecked. */
export interface Payload {
  data?: unknown;
  flash?: unknown;
  user?: unknown;
  policy?: unknown;
}

/** A tail read before: its text, and the user (frozen) and policy it holds. */
interface Tail {
  text: string;
  user: unknown;
  policy: unknown;
}

/** The user key where it can only be a key: a raw `"` after a comma is never inside a string. */
const USER_KEY = ',"user":';
/** Sessions whose tail is kept: two generations of this many (a tail is about 100 bytes). */
const TAILS = 5_000;

/** Session id -> the tail its payload had when last read. */
const tails = new RecentMap<string, Tail>(TAILS);
/** The tail each kept user came from, for the write. */
const tailOfUser = new WeakMap<object, Tail>();

/**
 * The payload's JSON read; throws as JSON.parse does on text that is not JSON. With the session's id,
 * a tail read before for it is taken as it is while the payload still ends with its text (compared,
 * never hashed); without, the payload is parsed whole.
 */
export function readPayload(json: string, id?: string): Payload {
  if (id === undefined) return JSON.parse(json) as Payload;
  let tail = tails.get(id);
  let at = tail === undefined ? -1 : json.length - tail.text.length;
  if (at <= 0 || json.slice(at) !== tail!.text) {
    at = json.lastIndexOf(USER_KEY);
    tail = at < 0 ? undefined : readTail(json.slice(at));
    if (tail === undefined) return JSON.parse(json) as Payload;
    tails.set(id, tail);
  }
  let head: Payload;
  try {
    // Valid only when the user key is the top level's: nested deeper, a brace is left open.
    head = JSON.parse(`${json.slice(0, at)}}`) as Payload;
  } catch {
    return JSON.parse(json) as Payload;
  }
  head.user = tail!.user;
  if (tail!.policy !== undefined) head.policy = tail!.policy;
  return head;
}

/** The payload's JSON for a record's parts, past the data and flash the tail its user was read with. */
export function writePayload(data: object, flash: object, user?: SessionUser, policy?: string): string {
  const tail = user === undefined ? undefined : tailOfUser.get(user);
  if (tail === undefined || tail.policy !== policy) return JSON.stringify({ data, flash, user, policy });
  return JSON.stringify({ data, flash }).slice(0, -1) + tail.text;
}

/** A tail's user and policy, kept; undefined when it holds anything else (the payload is then read whole). */
function readTail(text: string): Tail | undefined {
  let parsed: Payload;
  try {
    parsed = JSON.parse(`{${text.slice(1)}`) as Payload;
  } catch {
    return undefined;
  }
  for (const key in parsed) if (key !== 'user' && key !== 'policy') return undefined;
  const { user, policy } = parsed;
  if (typeof user !== 'object' || user === null) return undefined;
  const tail: Tail = { text: ownString(text), user: Object.freeze(user), policy };
  tailOfUser.set(user, tail);
  return tail;
}
