/**
 * `forRoot({ migrateFrom })`: the session libraries whose users move to nest-session without signing
 * in again, with their defaults and start-up checks. Each mistake is a SESSION_MIGRATION_INVALID that
 * says what to set.
 */
import { createHmac } from 'node:crypto';
import { invalid } from '../core/option-checks.js';
import { hasFunctions, type OldSessionStore } from '../stores/express-session.store.js';

/** Where the old app set its cookie, so that it is cleared there. */
export interface OldCookieOptions {
  /** The old cookie's path. Default '/'. */
  path?: string;
  /** The old cookie's domain. Default: none (host-only). */
  domain?: string;
}

/** An express-session app: `session({ name, secret, store })`. */
export interface ExpressSessionMigration {
  /** express-session's `name`. Default 'connect.sid'. */
  name?: string;
  /** express-session's `secret`: one, or the list it rotated through (every one verifies). */
  secret: string | string[];
  /** The store the express-session app used (connect-redis, connect-pg-simple, ...). */
  store: OldSessionStore;
  /** Destroy the old record once its data has moved. Default true. */
  destroyOld?: boolean;
  /** express-session's `cookie.path` and `cookie.domain`. */
  cookie?: OldCookieOptions;
}

/** A cookie-session app: `cookieSession({ name, keys })`. The data is in the cookie: no store. */
export interface CookieSessionMigration {
  /** cookie-session's `name`. Default 'session' (and its signature 'session.sig'). */
  name?: string;
  /** cookie-session's `keys` (or `[secret]`): every one verifies. */
  keys: string | string[];
  /** The HMAC keygrip signed with. Default 'sha1' (keygrip's). */
  algorithm?: string;
  /** cookie-session's `path` and `domain`. */
  cookie?: OldCookieOptions;
}

/** A Fastify app on @fastify/session: `register(fastifySession, { cookieName, secret, store })`. */
export interface FastifySessionMigration {
  /** @fastify/session's `cookieName`. Default 'sessionId'. */
  name?: string;
  /** @fastify/session's `secret`: one, or a list (every one verifies). */
  secret: string | string[];
  /** The store the Fastify app used. */
  store: OldSessionStore;
  /** @fastify/session's `algorithm`. Default 'sha256'. */
  algorithm?: string;
  /** @fastify/session's `cookiePrefix`. Default ''. */
  cookiePrefix?: string;
  /** Destroy the old record once its data has moved. Default true. */
  destroyOld?: boolean;
  /** @fastify/session's `cookie.path` and `cookie.domain`. */
  cookie?: OldCookieOptions;
}

/** `forRoot({ migrateFrom })`: one entry per library the app's users come from. */
export interface SessionMigrationOptions {
  expressSession?: ExpressSessionMigration;
  cookieSession?: CookieSessionMigration;
  fastifySession?: FastifySessionMigration;
}

export type OldLibrary = keyof SessionMigrationOptions;

/** One old library, resolved. */
export interface ResolvedOldSource {
  library: OldLibrary;
  /** The old cookie's name. */
  name: string;
  /** Secrets or keys; every one verifies. */
  secrets: string[];
  algorithm: string;
  /** What the value starts with before the signed id ('s:' for express-session). */
  prefix: string;
  /** The old store; undefined for cookie-session, whose data is in the cookie. */
  store: OldSessionStore | undefined;
  destroyOld: boolean;
  path: string;
  domain: string | undefined;
}

const DEFAULTS: Record<OldLibrary, { name: string; algorithm: string; prefix: string }> = {
  expressSession: { name: 'connect.sid', algorithm: 'sha256', prefix: 's:' },
  cookieSession: { name: 'session', algorithm: 'sha1', prefix: '' },
  fastifySession: { name: 'sessionId', algorithm: 'sha256', prefix: '' },
};
const LIBRARIES = Object.keys(DEFAULTS) as OldLibrary[];
const PACKAGE: Record<OldLibrary, string> = {
  expressSession: 'express-session',
  cookieSession: 'cookie-session',
  fastifySession: '@fastify/session',
};
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function fail(message: string): never {
  return invalid(message, 'SESSION_MIGRATION_INVALID');
}

/** The old libraries to migrate from ([] for none), checked against nest-session's own cookie name. */
export function resolveMigration(input: unknown, cookieName: string): ResolvedOldSource[] {
  if (input === undefined) return [];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    fail('migrateFrom must be an object: { expressSession?, cookieSession?, fastifySession? }');
  }
  const given = input as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!LIBRARIES.includes(key as OldLibrary) && given[key] !== undefined) {
      fail(`migrateFrom.${key} is not a library nest-session migrates from: use ${LIBRARIES.join(', ')}`);
    }
  }
  const sources = LIBRARIES.filter((library) => given[library] !== undefined).map((library) =>
    resolveSource(library, given[library]),
  );
  const names = new Set<string>();
  for (const { library, name } of sources) {
    const taken = [name, ...(library === 'cookieSession' ? [`${name}.sig`] : [])];
    for (const n of taken) {
      if (n === cookieName || n.startsWith(`${cookieName}_`)) {
        fail(
          `migrateFrom.${library}.name '${name}' is also nest-session's cookie: give cookie.name another ` +
            `name (the default is 'nest_session') so the old cookie and the new one can be told apart`,
        );
      }
      if (names.has(n)) fail(`migrateFrom: two libraries use the cookie '${n}'; set each one's name`);
      names.add(n);
    }
  }
  return sources;
}

function resolveSource(library: OldLibrary, value: unknown): ResolvedOldSource {
  const at = `migrateFrom.${library}`;
  if (typeof value !== 'object' || value === null) fail(`${at} must be an object`);
  const o = value as Record<string, unknown>;
  const defaults = DEFAULTS[library];
  const name = o.name ?? defaults.name;
  if (typeof name !== 'string' || !TOKEN.test(name)) {
    fail(`${at}.name must be the old cookie's name, such as '${defaults.name}'`);
  }
  const secretKey = library === 'cookieSession' ? 'keys' : 'secret';
  const secrets = toList(o[secretKey]);
  if (secrets === undefined) {
    fail(
      `${at}.${secretKey} is missing: set it to the ${secretKey === 'keys' ? 'keys' : 'secret (or list of secrets)'} ` +
        `${PACKAGE[library]} signed its cookies with`,
    );
  }
  const algorithm = o.algorithm ?? defaults.algorithm;
  if (typeof algorithm !== 'string' || !isHmac(algorithm)) {
    fail(`${at}.algorithm must be an HMAC hash Node knows, such as '${defaults.algorithm}'`);
  }
  const destroyOld = o.destroyOld ?? true;
  if (typeof destroyOld !== 'boolean') fail(`${at}.destroyOld must be true or false`);
  let store: OldSessionStore | undefined;
  if (library !== 'cookieSession') {
    if (!hasFunctions(o.store, 'get')) {
      fail(
        `${at}.store must be the store the ${PACKAGE[library]} app used (an object with get(id, callback))`,
      );
    }
    if (destroyOld && !hasFunctions(o.store, 'destroy')) {
      fail(
        `${at}.store has no destroy(id, callback): give the store itself, or set ${at}.destroyOld: false ` +
          'to leave the old records to expire',
      );
    }
    store = o.store as OldSessionStore;
  }
  const prefix = library === 'fastifySession' ? (o.cookiePrefix ?? '') : defaults.prefix;
  if (typeof prefix !== 'string') fail(`${at}.cookiePrefix must be a string`);
  const cookie = (o.cookie ?? {}) as OldCookieOptions;
  if (typeof cookie !== 'object' || cookie === null) fail(`${at}.cookie must be { path?, domain? }`);
  const path = cookie.path ?? '/';
  if (typeof path !== 'string' || !path.startsWith('/')) fail(`${at}.cookie.path must start with '/'`);
  if (cookie.domain !== undefined && typeof cookie.domain !== 'string') {
    fail(`${at}.cookie.domain must be a string`);
  }
  return {
    library,
    name: name as string,
    secrets: secrets as string[],
    algorithm: algorithm as string,
    prefix: prefix as string,
    store,
    destroyOld: destroyOld as boolean,
    path,
    domain: cookie.domain,
  };
}

/** A non-empty list of non-empty strings, from one string or an array; undefined otherwise. */
function toList(value: unknown): string[] | undefined {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) return undefined;
  return list.every((s) => typeof s === 'string' && s !== '') ? (list as string[]) : undefined;
}

function isHmac(algorithm: string): boolean {
  try {
    createHmac(algorithm, 'k');
    return true;
  } catch {
    return false;
  }
}
