import { Policies, type SessionPolicy, type SessionPolicyOptions } from './core/policies.js';
import {
  resolveUsersOptions,
  type ResolvedUsersOptions,
  type SessionUsersOptions,
} from './users/users.options.js';
import { duration, invalid, positive } from './core/option-checks.js';
import { SEAL_ALGORITHMS, type SealAlgorithm } from './crypto/seal.js';
import {
  resolveSocketsOptions,
  type ResolvedSocketsOptions,
  type SessionSocketsOptions,
} from './core/sockets.options.js';
import {
  resolveMigration,
  type ResolvedOldSource,
  type SessionMigrationOptions,
} from './migration/migration.options.js';
import {
  resolveStoreOptions,
  type BuiltInStoreOptions,
  type ResolvedStoreOptions,
} from './stores/built-in.js';

export type SameSite = 'lax' | 'strict' | 'none';

export interface SessionCookieOptions {
  /** Cookie name; other drivers used through SessionManager.driver(name) use `<name>_<driver>`. Default 'nest_session'. */
  name?: string;
  /** Default '/'. */
  path?: string;
  /** Default: none (host-only cookie). */
  domain?: string;
  /** Default true. */
  httpOnly?: boolean;
  /** true, false, or 'auto' (secure when the request is https, trusting the proxy as the app does). Default false. */
  secure?: boolean | 'auto';
  /** Default 'lax'. */
  sameSite?: SameSite;
  /** CHIPS: the cookie is kept per top-level site (needs secure). Default false. */
  partitioned?: boolean;
}

/** `forRoot(options)`. Each built-in store's options go under its name (stores/built-in.ts). */
export interface SessionModuleOptions extends BuiltInStoreOptions {
  /** 'memory' | 'cookie' | 'file' | 'database' | 'redis' | a name registered with SessionManager.extend(). Default 'memory'. */
  driver?: string;
  /** At least 32 characters; [current, ...older] rotates keys. Default process.env.SESSION_SECRET. */
  secret?: string | string[];
  /**
   * The cookie driver's cipher for the cookies it writes; a cookie sealed with either always opens.
   * Default 'xchacha20-poly1305' when the optional sodium-native package is installed, else 'aes-256-gcm'.
   */
  seal?: SealAlgorithm;
  cookie?: SessionCookieOptions;
  /** ms without a request before the session ends, at most 100 years. Default 2 hours. */
  idleTimeout?: number;
  /** ms from creation, whatever the activity, at most 100 years. Default 14 days. */
  lifetime?: number;
  /** Bytes of one session's JSON on a server-side driver; past it a change is refused (500 SESSION_TOO_LARGE). Default 512 KiB. */
  maxSize?: number;
  /**
   * Named policies a session can follow instead of the default timeouts above (remember me, a kiosk):
   * `signIn(id, { policy })`, `session.usePolicy(name)`.
   */
  policies?: Record<string, SessionPolicyOptions>;
  /** No session outlives this, whatever its policy (ms). Default 400 days, the longest cookie browsers keep. */
  maxLifetime?: number;
  /** Sessions bound to users: limits, what is kept of the device, the cookie driver's revocation store. */
  users?: SessionUsersOptions;
  /** The clock every expiry is read from, in ms since the epoch (the testing kit's clock). Default Date.now. */
  clock?: () => number;
  /** Users of express-session, cookie-session or @fastify/session move here without signing in again. Default: none. */
  migrateFrom?: SessionMigrationOptions;
  /** WebSocket gateways: how often a connected socket's session is checked (disconnected once it ended). */
  sockets?: SessionSocketsOptions;
}

export interface ResolvedSessionOptions extends ResolvedStoreOptions {
  driver: string;
  secrets: string[];
  /** undefined: as sodium-native's presence decides (crypto/keyring.ts). */
  seal: SealAlgorithm | undefined;
  cookie: Required<Omit<SessionCookieOptions, 'domain'>> & { domain?: string };
  idleTimeout: number;
  lifetime: number;
  maxSize: number;
  /** The default policy (idleTimeout, lifetime) and the named ones. */
  policies: Policies;
  users: ResolvedUsersOptions;
  clock: () => number;
  /** The old libraries' cookies a request without nest-session's may bring ([] for none). */
  migrateFrom: ResolvedOldSource[];
  sockets: ResolvedSocketsOptions;
}

const HOUR = 60 * 60 * 1000;
export const SESSION_DEFAULTS = {
  driver: 'memory',
  cookie: {
    name: 'nest_session',
    path: '/',
    httpOnly: true,
    secure: false,
    sameSite: 'lax',
    partitioned: false,
  },
  idleTimeout: 2 * HOUR,
  lifetime: 14 * 24 * HOUR,
  maxSize: 512 * 1024,
  maxLifetime: 400 * 24 * HOUR,
} as const;

export const MIN_SECRET_LENGTH = 32;
/**
 * The least variety a secret may have, in bits: its length times the Shannon entropy of its own
 * characters' frequencies. 32 spaces or 'a' x 32 carry 0, 'ab' x 16 carries 32; a random secret
 * carries about what it was made from (`openssl rand -hex 16`: 85-128 here, never below 84 in 2
 * million draws; `openssl rand -base64 32`: about 190). A floor against placeholders and typos, not
 * a strength meter: a repeated word still passes.
 */
export const MIN_SECRET_BITS = 64;

/** Merges the defaults in one place and rejects what cannot work, saying what to set. */
export function resolveSessionOptions(
  input: SessionModuleOptions | string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  warn: (message: string) => void = () => undefined,
): ResolvedSessionOptions {
  const options: SessionModuleOptions = typeof input === 'string' ? { driver: input } : { ...(input ?? {}) };
  const cookie = { ...SESSION_DEFAULTS.cookie, ...(options.cookie ?? {}) };
  const resolved: ResolvedSessionOptions = {
    driver: options.driver ?? SESSION_DEFAULTS.driver,
    secrets: resolveSecrets(options.secret, env, warn),
    seal: options.seal,
    cookie,
    idleTimeout: options.idleTimeout ?? SESSION_DEFAULTS.idleTimeout,
    lifetime: options.lifetime ?? SESSION_DEFAULTS.lifetime,
    maxSize: options.maxSize ?? SESSION_DEFAULTS.maxSize,
    policies: resolvePolicies(options),
    users: resolveUsersOptions(options.users),
    clock: options.clock ?? (() => Date.now()),
    migrateFrom: [],
    sockets: resolveSocketsOptions(options.sockets),
    ...resolveStoreOptions(options),
  };
  validate(resolved);
  resolved.migrateFrom = resolveMigration(options.migrateFrom, cookie.name);
  return resolved;
}

/**
 * The default policy (the module's idleTimeout and lifetime) and the named ones, each checked and
 * capped by maxLifetime.
 */
function resolvePolicies(options: SessionModuleOptions): Policies {
  const max = options.maxLifetime ?? SESSION_DEFAULTS.maxLifetime;
  duration('maxLifetime', max);
  const policy = (name: string | undefined, given: SessionPolicyOptions): SessionPolicy => {
    const at = name === undefined ? '' : `policies.${name}.`;
    const idleTimeout = given.idleTimeout ?? options.idleTimeout ?? SESSION_DEFAULTS.idleTimeout;
    const lifetime = given.lifetime ?? options.lifetime ?? SESSION_DEFAULTS.lifetime;
    duration(`${at}idleTimeout`, idleTimeout);
    duration(`${at}lifetime`, lifetime);
    const persistent = given.persistent ?? true;
    if (typeof persistent !== 'boolean') invalid(`${at}persistent must be true or false`);
    const capped = Math.min(lifetime, max);
    return { name, idleTimeout: Math.min(idleTimeout, capped), lifetime: capped, persistent };
  };
  const named = Object.entries(options.policies ?? {}).map(([name, given]) => {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
      invalid(`policy names are letters, digits, '-' and '_' (up to 64): '${name}' is not one`);
    }
    if (typeof given !== 'object' || given === null) invalid(`policies.${name} must be an object`);
    return policy(name, given);
  });
  return new Policies(policy(undefined, {}), named);
}

function resolveSecrets(
  secret: string | string[] | undefined,
  env: NodeJS.ProcessEnv,
  warn: (message: string) => void,
): string[] {
  const given = secret ?? env.SESSION_SECRET;
  if (given === undefined || given === '' || (Array.isArray(given) && given.length === 0)) {
    if (env.NODE_ENV === 'production') {
      invalid(
        `set SessionModule.forRoot({ secret }) or SESSION_SECRET (${MIN_SECRET_LENGTH}+ characters)`,
        'SESSION_SECRET_MISSING',
      );
    }
    warn(
      'No session secret: using a random one, so sessions end when the process restarts. ' +
        'Set SESSION_SECRET or SessionModule.forRoot({ secret }).',
    );
    return [randomSecret()];
  }
  const list = Array.isArray(given) ? given : [given];
  list.forEach((s, i) => {
    const name = `secret${list.length > 1 ? `[${i}]` : ''}`;
    if (typeof s !== 'string' || s.length < MIN_SECRET_LENGTH) {
      invalid(
        `${name} must be a string of at least ${MIN_SECRET_LENGTH} characters`,
        'SESSION_SECRET_TOO_SHORT',
      );
    }
    const bits = secretBits(s);
    if (bits >= MIN_SECRET_BITS) return;
    const message =
      `${name} has too little variety to sign sessions (about ${Math.floor(bits)} bits by its characters, ` +
      `under ${MIN_SECRET_BITS}): use a random one, such as the output of openssl rand -base64 32`;
    // In production a guessable secret lets anyone forge session cookies; elsewhere a placeholder
    // (tests, local runs) is only worth a warning, as a missing secret is.
    if (env.NODE_ENV === 'production') invalid(message, 'SESSION_SECRET_WEAK');
    warn(`${message}. Starting anyway because NODE_ENV is not 'production'.`);
  });
  return list;
}

/** A secret's length times the Shannon entropy of its characters' frequencies (MIN_SECRET_BITS). */
export function secretBits(secret: string): number {
  const counts = new Map<string, number>();
  let length = 0;
  for (const char of secret) {
    counts.set(char, (counts.get(char) ?? 0) + 1);
    length++;
  }
  let bits = 0;
  for (const count of counts.values()) bits -= count * Math.log2(count / length);
  return bits;
}

function randomSecret(): string {
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
}

function validate(o: ResolvedSessionOptions): void {
  if (typeof o.driver !== 'string' || o.driver === '') {
    invalid(`driver must be a driver name such as 'memory'`, 'SESSION_DRIVER_INVALID');
  }
  duration('idleTimeout', o.idleTimeout);
  duration('lifetime', o.lifetime);
  positive('maxSize', o.maxSize, 'a positive number of bytes');
  if (typeof o.clock !== 'function') invalid('clock must be a function returning ms since the epoch');
  if (o.seal !== undefined && !SEAL_ALGORITHMS.includes(o.seal)) {
    invalid(`seal must be ${SEAL_ALGORITHMS.map((a) => `'${a}'`).join(' or ')} (or left out)`);
  }
  const { cookie } = o;
  if (typeof cookie.name !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookie.name)) {
    invalid(`cookie.name must be a cookie token such as 'nest_session'`, 'SESSION_COOKIE_INVALID');
  }
  if (!['lax', 'strict', 'none'].includes(cookie.sameSite)) {
    invalid(`cookie.sameSite must be 'lax', 'strict' or 'none'`, 'SESSION_COOKIE_INVALID');
  }
  if (cookie.sameSite === 'none' && cookie.secure === false) {
    invalid(
      `cookie.sameSite 'none' needs cookie.secure true or 'auto' (browsers drop it otherwise)`,
      'SESSION_COOKIE_INVALID',
    );
  }
  if (![true, false, 'auto'].includes(cookie.secure)) {
    invalid(`cookie.secure must be true, false or 'auto'`, 'SESSION_COOKIE_INVALID');
  }
  checkCookieRules(cookie);
}

/** Rules browsers apply to cookies they would otherwise drop: each is a start-up error saying what to set. */
function checkCookieRules(cookie: ResolvedSessionOptions['cookie']): void {
  const fail = (message: string) => invalid(message, 'SESSION_COOKIE_INVALID');
  if (cookie.name.startsWith('__Host-')) {
    if (cookie.secure !== true) fail(`a '__Host-' cookie name needs cookie.secure: true`);
    if (cookie.path !== '/') fail(`a '__Host-' cookie name needs cookie.path '/' (it is '${cookie.path}')`);
    if (cookie.domain !== undefined) fail(`a '__Host-' cookie name cannot have cookie.domain: remove it`);
  }
  if (cookie.name.startsWith('__Secure-') && cookie.secure === false)
    fail(`a '__Secure-' cookie name needs cookie.secure: true or 'auto'`);
  if (cookie.partitioned === true && cookie.secure === false)
    fail(`cookie.partitioned needs cookie.secure: true or 'auto' (browsers drop it otherwise)`);
  if (typeof cookie.path !== 'string' || !cookie.path.startsWith('/'))
    fail(`cookie.path must start with '/'`);
}
