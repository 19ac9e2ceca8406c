import type { DataSource, DataSourceOptions } from 'typeorm';
import { SessionConfigError } from './session.errors.js';

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

export interface DatabaseDriverOptions {
  /**
   * The app's own initialized TypeORM DataSource (never closed by the driver), or options for one the
   * driver opens on first use and closes on shutdown. PostgreSQL, MySQL/MariaDB or better-sqlite3.
   * Default { type: 'better-sqlite3', database: 'sessions.sqlite', enableWAL: true }.
   */
  dataSource?: DataSource | DataSourceOptions;
  /** The table, created on first use when missing ('schema.table' works). Default 'sessions'. */
  table?: string;
  /** How often expired rows are swept, in ms; 0 turns the sweep off. Default 15 minutes. */
  pruneInterval?: number;
}

export interface FileDriverOptions {
  /** Where the session files are kept (one `<id>.json` per session), created on first use. Default './sessions'. */
  directory?: string;
  /** How often expired files are swept, in ms; 0 turns the sweep off. Default 15 minutes. */
  pruneInterval?: number;
}

export interface RedisDriverOptions {
  /** The app's own ioredis client, `new Redis(...)` or `new Cluster(...)` (never closed by the driver). */
  client?: unknown;
  /**
   * For a client the driver opens and closes: 'redis://host:port' (rediss:// for TLS); several of
   * them (an array, or joined with commas) for a Redis Cluster's seed nodes;
   * 'redis+sentinel://[user:password@]host1:port,host2:port/masterName[/db]' for a Sentinel group.
   */
  url?: string | string[];
  /** Default 'sess:'. */
  prefix?: string;
  /**
   * Replicas a regenerate() or destroy() must reach (Redis WAIT) before its response leaves, so a
   * failover cannot bring the retired id back. Default 1 with a Sentinel URL, else 0.
   */
  waitForReplicas?: number;
  /** How long that wait may take, in ms; past it the request answers 503. Default 1000. */
  waitTimeout?: number;
}

export interface SessionModuleOptions {
  /** 'memory' | 'cookie' | 'file' | 'database' | 'redis' | a name registered with SessionManager.extend(). Default 'memory'. */
  driver?: string;
  /** At least 32 characters; [current, ...older] rotates keys. Default process.env.SESSION_SECRET. */
  secret?: string | string[];
  cookie?: SessionCookieOptions;
  /** ms without a request before the session ends. Default 2 hours. */
  idleTimeout?: number;
  /** ms from creation, whatever the activity. Default 14 days. */
  lifetime?: number;
  /** Bytes of one session's JSON on a server-side driver; past it a change is refused (500 SESSION_TOO_LARGE). Default 512 KiB. */
  maxSize?: number;
  /** Memory driver: how many sessions and how many bytes of JSON it keeps (least recently used go first). Default 10 000 and 64 MiB. */
  memory?: { max?: number; maxBytes?: number };
  file?: FileDriverOptions;
  database?: DatabaseDriverOptions;
  redis?: RedisDriverOptions;
}

export interface ResolvedSessionOptions {
  driver: string;
  secrets: string[];
  cookie: Required<Omit<SessionCookieOptions, 'domain'>> & { domain?: string };
  idleTimeout: number;
  lifetime: number;
  maxSize: number;
  memory: { max: number; maxBytes: number };
  file: Required<FileDriverOptions>;
  database: DatabaseDriverOptions;
  redis: RedisDriverOptions;
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
  memory: { max: 10_000, maxBytes: 64 * 1024 * 1024 },
  file: { directory: './sessions', pruneInterval: 15 * 60 * 1000 },
} as const;

export const MIN_SECRET_LENGTH = 32;

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
    cookie,
    idleTimeout: options.idleTimeout ?? SESSION_DEFAULTS.idleTimeout,
    lifetime: options.lifetime ?? SESSION_DEFAULTS.lifetime,
    maxSize: options.maxSize ?? SESSION_DEFAULTS.maxSize,
    memory: {
      max: options.memory?.max ?? SESSION_DEFAULTS.memory.max,
      maxBytes: options.memory?.maxBytes ?? SESSION_DEFAULTS.memory.maxBytes,
    },
    file: {
      directory: options.file?.directory ?? SESSION_DEFAULTS.file.directory,
      pruneInterval: options.file?.pruneInterval ?? SESSION_DEFAULTS.file.pruneInterval,
    },
    database: options.database ?? {},
    redis: options.redis ?? {},
  };
  validate(resolved);
  return resolved;
}

function resolveSecrets(
  secret: string | string[] | undefined,
  env: NodeJS.ProcessEnv,
  warn: (message: string) => void,
): string[] {
  const given = secret ?? env.SESSION_SECRET;
  if (given === undefined || given === '' || (Array.isArray(given) && given.length === 0)) {
    if (env.NODE_ENV === 'production') {
      throw new SessionConfigError(
        'SESSION_SECRET_MISSING',
        `set SessionModule.forRoot({ secret }) or SESSION_SECRET (${MIN_SECRET_LENGTH}+ characters)`,
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
    if (typeof s !== 'string' || s.length < MIN_SECRET_LENGTH) {
      throw new SessionConfigError(
        'SESSION_SECRET_TOO_SHORT',
        `secret${list.length > 1 ? `[${i}]` : ''} must be a string of at least ${MIN_SECRET_LENGTH} characters`,
      );
    }
  });
  return list;
}

function randomSecret(): string {
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
}

function validate(o: ResolvedSessionOptions): void {
  if (typeof o.driver !== 'string' || o.driver === '') {
    throw new SessionConfigError('SESSION_DRIVER_INVALID', `driver must be a driver name such as 'memory'`);
  }
  positive('idleTimeout', o.idleTimeout);
  positive('lifetime', o.lifetime);
  positive('memory.max', o.memory.max, 'a positive number');
  positive('memory.maxBytes', o.memory.maxBytes, 'a positive number of bytes');
  positive('maxSize', o.maxSize, 'a positive number of bytes');
  if (typeof o.file.directory !== 'string' || o.file.directory.trim() === '') {
    throw new SessionConfigError(
      'SESSION_OPTION_INVALID',
      `file.directory must be a directory path such as './sessions'`,
    );
  }
  const prune = o.file.pruneInterval;
  if (typeof prune !== 'number' || !Number.isFinite(prune) || prune < 0) {
    throw new SessionConfigError(
      'SESSION_OPTION_INVALID',
      'file.pruneInterval must be a number of milliseconds (0 turns the sweep off)',
    );
  }
  const { cookie } = o;
  if (typeof cookie.name !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookie.name)) {
    throw new SessionConfigError(
      'SESSION_COOKIE_INVALID',
      `cookie.name must be a cookie token such as 'nest_session'`,
    );
  }
  if (!['lax', 'strict', 'none'].includes(cookie.sameSite)) {
    throw new SessionConfigError(
      'SESSION_COOKIE_INVALID',
      `cookie.sameSite must be 'lax', 'strict' or 'none'`,
    );
  }
  if (cookie.sameSite === 'none' && cookie.secure === false) {
    throw new SessionConfigError(
      'SESSION_COOKIE_INVALID',
      `cookie.sameSite 'none' needs cookie.secure true or 'auto' (browsers drop it otherwise)`,
    );
  }
  if (![true, false, 'auto'].includes(cookie.secure)) {
    throw new SessionConfigError('SESSION_COOKIE_INVALID', `cookie.secure must be true, false or 'auto'`);
  }
  checkCookieRules(cookie);
}

function positive(name: string, value: number, what = 'a positive number of milliseconds'): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new SessionConfigError('SESSION_OPTION_INVALID', `${name} must be ${what}`);
  }
}

/** Rules browsers apply to cookies they would otherwise drop: each is a start-up error saying what to set. */
function checkCookieRules(cookie: ResolvedSessionOptions['cookie']): void {
  const fail = (message: string) => {
    throw new SessionConfigError('SESSION_COOKIE_INVALID', message);
  };
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
