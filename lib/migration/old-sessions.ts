/**
 * The old libraries' cookies, read exactly as they wrote them:
 *
 * | library          | cookie                                   | signature                                        |
 * | ---------------- | ---------------------------------------- | ------------------------------------------------ |
 * | express-session  | `s:<id>.<sig>`, URL-encoded              | HMAC-SHA256(secret, id), base64 without `=`      |
 * | @fastify/session | `<cookiePrefix><id>.<sig>`, URL-encoded  | HMAC-<algorithm, sha256>(secret, id), the same   |
 * | cookie-session   | `session=<base64 JSON>`, `session.sig`   | HMAC-<algorithm, sha1>(key, 'session=<value>'),  |
 * |                  |                                          | base64url without `=` (keygrip)                  |
 *
 * Every secret or key of the list verifies (rotation). A cookie that does not verify is no old
 * session: no store is read for it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isBag, keyBag } from '../core/json-value.js';
import { callStore, getSession } from '../stores/express-session.store.js';
import type { ResolvedOldSource } from './migration.options.js';

type Bag = Record<string, unknown>;

/** An old cookie that verified. */
export interface OldSession {
  /** Names the old session for good: its id (cookie-session: its cookie). */
  readonly key: string;
  /** The old session as its library keeps it, or undefined when its store holds none. */
  read(): Promise<unknown> | unknown;
  /** Destroys the old record; undefined when there is none to destroy (cookie-session) or destroyOld is off. */
  readonly destroy: (() => Promise<unknown>) | undefined;
}

/** The old session the request's cookies name, if they verify. */
export function verifyOldCookie(
  source: ResolvedOldSource,
  cookies: Record<string, string | undefined>,
): OldSession | undefined {
  const raw = cookies[source.name];
  if (raw === undefined || raw === '') return undefined;
  if (source.library === 'cookieSession') return verifyCookieSession(source, raw, cookies);
  if (!raw.startsWith(source.prefix)) return undefined;
  const signed = raw.slice(source.prefix.length);
  const dot = signed.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const id = signed.slice(0, dot);
  const given = signed.slice(dot + 1);
  const valid = source.secrets.some((secret) => same(given, hmac(source.algorithm, secret, id, false)));
  if (!valid) return undefined;
  const store = source.store!;
  return {
    key: id,
    read: () => getSession(store, id),
    destroy: source.destroyOld ? () => callStore(store, 'destroy', [id]) : undefined,
  };
}

function verifyCookieSession(
  source: ResolvedOldSource,
  raw: string,
  cookies: Record<string, string | undefined>,
): OldSession | undefined {
  // The `cookies` package reads a quoted value without its quotes, and signs `name=value` as sent.
  const value = unquote(raw);
  const given = unquote(cookies[`${source.name}.sig`] ?? '');
  const data = `${source.name}=${value}`;
  if (!source.secrets.some((key) => same(given, hmac(source.algorithm, key, data, true)))) return undefined;
  let session: unknown;
  try {
    session = JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  return isBag(session) ? { key: value, read: () => session, destroy: undefined } : undefined;
}

/** base64 without padding (cookie-signature, @fastify/cookie), or base64url without padding (keygrip). */
function hmac(algorithm: string, secret: string, data: string, url: boolean): string {
  const digest = createHmac(algorithm, secret)
    .update(data)
    .digest(url ? 'base64url' : 'base64');
  return url ? digest : digest.replace(/=+$/, '');
}

function same(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}

/** What moves into the new session: the data, and connect-flash's messages. */
export interface MovedData {
  data: Bag;
  /** connect-flash's `req.session.flash` ({ type: [messages] }), which `req.flash()` reads here. */
  messages: Record<string, unknown[]> | undefined;
}

/**
 * The data of an old session: every key but `cookie` (the old cookie's settings), each as JSON keeps
 * it (a live object from an in-memory store included); connect-flash's `flash` becomes the messages
 * `req.flash()` reads. Undefined when the session has expired (its cookie's `expires`) or holds
 * nothing to move.
 */
export function movedData(session: unknown, now: number): MovedData | undefined {
  if (!isBag(session)) return undefined;
  const expires = isBag(session.cookie) ? session.cookie.expires : undefined;
  if (expires !== undefined && expires !== null) {
    const at = new Date(expires as string | number | Date).getTime();
    if (Number.isFinite(at) && at <= now) return undefined;
  }
  const data = keyBag();
  let messages: Record<string, unknown[]> | undefined;
  for (const key of Object.keys(session)) {
    if (key === 'cookie') continue;
    const value = jsonCopy(session[key]);
    if (value === undefined) continue;
    if (key === 'flash' && isFlashMessages(value)) {
      if (Object.keys(value).length > 0) messages = value;
      continue;
    }
    Object.defineProperty(data, key, { value, enumerable: true, writable: true, configurable: true });
  }
  if (Object.keys(data).length === 0 && messages === undefined) return undefined;
  return { data, messages };
}

/** The value as JSON would store it; undefined for what JSON drops or cannot write. */
function jsonCopy(value: unknown): unknown {
  try {
    const json = JSON.stringify(value);
    return json === undefined ? undefined : (JSON.parse(json) as unknown);
  } catch {
    return undefined;
  }
}

function isFlashMessages(value: unknown): value is Record<string, unknown[]> {
  return isBag(value) && Object.values(value).every(Array.isArray);
}
