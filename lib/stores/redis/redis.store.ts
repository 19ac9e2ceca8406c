import type { Cluster, Redis } from 'ioredis';
import { putKey } from '../../core/json-value.js';
import { SessionConfigError, SessionTooLargeError, errorMessage } from '../../session.errors.js';
import type {
  ClosableSessionStore,
  DiagnosingSessionStore,
  SessionChanges,
  SessionMeta,
  SessionRecord,
  StartupCheckedSessionStore,
} from '../session-store.js';
import { openRedis, REDIS_CLIENT_DEFAULTS, type IORedis, type RedisTarget } from './redis.connection.js';
import { resolveRedisOptions, type RedisDriverOptions } from './redis.options.js';
import {
  ACTIVE,
  APPLY_SCRIPT,
  CREATED,
  DATA,
  DATA_ESCAPED,
  FLASH,
  FLASH_ESCAPED,
  RETIRED,
  RETIRE_SCRIPT,
} from './redis.scripts.js';

/** What the driver gives a store beyond the user's options (tests give more). */
export interface RedisStoreInternals {
  /** How ioredis is imported (for the start-up check). */
  importer?: () => Promise<IORedis>;
  /** Bytes of one session's JSON past which a change is refused. Default: no limit. */
  maxSize?: number;
  /** The clock (ms since the epoch). Default Date.now. */
  now?: () => number;
}

/** A pipeline with the retire script, as defineCommand adds it. */
type RetirePipeline = {
  nestSessionRetire(
    key: string,
    ttl: number,
    until: number,
  ): { call(...args: (string | number)[]): { exec(): Promise<unknown> } };
};
type RedisClient = (Redis | Cluster) & {
  nestSessionApply(key: string, ...args: (string | number)[]): Promise<unknown>;
  nestSessionRetire(key: string, ttl: number, until: number): Promise<string[] | null>;
};

/** ioredis states in which a connection attempt is under way (bounded by connectTimeout). */
const CONNECTING = new Set(['connecting', 'connect']);

/**
 * Sessions in Redis, one hash per session (`<prefix><id>`): a field per data key (`d:<key>`) and per
 * flash key (`f:<key>`), each holding the value's JSON, plus the timestamps (a key with a lone
 * surrogate, which UTF-8 cannot carry, is kept escaped, `D:`/`F:` and its JSON string). A change set is one Lua
 * script (EVALSHA, EVAL when the script cache is empty) that touches only the fields it names, so its
 * cost does not grow with the session and concurrent requests that touch different keys all survive.
 * The key expires with the session, so nothing has to sweep: every write sets its TTL to the time the
 * session has left (`expiresAt - lastActivity`, PEXPIRE) rather than PEXPIREAT `expiresAt`, so a clock
 * difference between the app's hosts and Redis's cannot end sessions early.
 */
export class RedisStore implements ClosableSessionStore, StartupCheckedSessionStore, DiagnosingSessionStore {
  private readonly prefix: string;
  private readonly given?: RedisClient;
  private readonly target?: RedisTarget;
  /** Replicas a retire waits for (WAIT) before the response leaves; 0: none. */
  private readonly replicas: number;
  private readonly replicaTimeout: number;
  private opening?: Promise<RedisClient>;
  private attempt?: Promise<void>;
  private lastError?: Error;
  private closed = false;

  private readonly importer: () => Promise<IORedis>;
  private readonly maxSize: number;
  private readonly now: () => number;

  constructor(options: RedisDriverOptions = {}, internals: RedisStoreInternals = {}) {
    const resolved = resolveRedisOptions(options);
    this.target = resolved.target;
    this.given = resolved.client === undefined ? undefined : defineApply(resolved.client);
    this.prefix = resolved.prefix;
    this.replicas = resolved.waitForReplicas;
    this.replicaTimeout = resolved.waitTimeout;
    this.importer = internals.importer ?? (() => import('ioredis'));
    this.maxSize = internals.maxSize ?? Infinity;
    this.now = internals.now ?? (() => Date.now());
  }

  async get(id: string): Promise<SessionRecord | 'retired' | undefined> {
    const client = await this.connected();
    const fields = await client.hgetall(this.prefix + id);
    const retired = fields[RETIRED];
    if (retired === undefined) return parseRecord(fields);
    // A tombstone ends on the app's clock (its TTL in Redis only removes it); one written before the
    // tombstone held its end ('1') has ended.
    return Number(retired) > this.now() ? 'retired' : undefined;
  }

  async apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean> {
    const ttl = Math.max(1, Math.ceil(meta.expiresAt - meta.lastActivity));
    const args: (string | number)[] = [
      meta.createdAt,
      meta.lastActivity,
      ttl,
      changes.clearData ? 1 : 0,
      changes.clearFlash ? 1 : 0,
      meta.create ? 1 : 0,
      Number.isFinite(this.maxSize) ? this.maxSize : Number.MAX_SAFE_INTEGER,
    ];
    args.push(changes.deleted.length);
    for (const key of changes.deleted) args.push(field(DATA, key));
    pushPairs(args, DATA, changes.set, JSON.stringify);
    pushPairs(args, FLASH, changes.flashCleared, String);
    pushPairs(args, FLASH, changes.flash, JSON.stringify);
    const client = await this.connected();
    const result = await client.nestSessionApply(this.prefix + id, ...args);
    if (Array.isArray(result)) throw SessionTooLargeError.inStore(Number(result[1]), this.maxSize);
    return result === 1;
  }

  async retire(id: string, until: number): Promise<SessionRecord | undefined> {
    const client = await this.connected();
    const ttl = Math.max(1, Math.ceil(until - this.now()));
    const key = this.prefix + id;
    let flat: string[] | null;
    if (this.replicas === 0) {
      flat = await client.nestSessionRetire(key, ttl, until);
    } else {
      // Not acknowledged before a replica has it: a failover cannot bring the retired id back.
      const results = await (client.pipeline() as unknown as RetirePipeline)
        .nestSessionRetire(key, ttl, until)
        .call('WAIT', this.replicas, this.replicaTimeout)
        .exec();
      const [[retireError, retired], [waitError, acknowledged]] = results as [
        [Error | null, unknown],
        [Error | null, unknown],
      ];
      if (retireError) throw retireError;
      if (waitError) throw waitError;
      if (Number(acknowledged) < this.replicas) {
        throw new Error(
          `the retired session reached ${String(acknowledged)} of ${this.replicas} Redis replicas within ${this.replicaTimeout} ms`,
        );
      }
      flat = retired as string[] | null;
    }
    if (flat === null) return undefined;
    const fields: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) fields[flat[i]] = flat[i + 1];
    return parseRecord(fields);
  }

  async destroy(id: string): Promise<void> {
    const client = await this.connected();
    await client.del(this.prefix + id);
  }

  /** What a Redis error says about the setup, when it is a setup mistake rather than an outage. */
  misconfiguration(error: unknown): string | undefined {
    const message = errorMessage(error);
    if (/^(MOVED|ASK) \d+ /.test(message) || message.startsWith('CROSSSLOT')) {
      return (
        'Redis answered as one node of a Redis Cluster: give every node, ' +
        "redis.url: ['redis://host1:port', 'redis://host2:port', ...], or redis.client: new Cluster(...)"
      );
    }
    if (/^(WRONGPASS|NOAUTH)/.test(message) || message.includes('invalid password')) {
      return 'Redis refused the credentials: check the user and password in redis.url (redis://user:password@host:port)';
    }
    if (message.includes('DB index is out of range')) {
      return 'the database number in redis.url (redis://host:port/N) does not exist on that server';
    }
    return undefined;
  }

  /** At start-up: ioredis must be installed when the driver opens its own client. */
  async checkAtStartup(): Promise<void> {
    if (this.given === undefined) await this.ioredis();
  }

  /** Closes the client the driver opened from `redis.url`; the app's own client stays open. */
  async close(): Promise<void> {
    this.closed = true;
    const opening = this.opening;
    if (opening === undefined) return;
    const client = await opening.catch(() => undefined);
    if (client === undefined) return;
    if (client.status !== 'ready') return client.disconnect();
    const ended = new Promise((resolve) => client.once('end', resolve));
    await client.quit().catch(() => client.disconnect());
    await ended;
    // A Sentinel client's quit() leaves the failover detector's connections to the Sentinels open,
    // which would keep the app's process alive: disconnect() closes them.
    if (this.target?.kind === 'sentinel') client.disconnect();
  }

  /** @internal The client sessions go through: the app's, or the one opened from `redis.url`. */
  client(): Promise<RedisClient> {
    if (this.given !== undefined) return Promise.resolve(this.given);
    if (this.closed) return Promise.reject(new Error('the redis session store is closed'));
    return (this.opening ??= this.open());
  }

  /**
   * The client, when it can take a command now. The app's client is used as it is (its own settings
   * decide); the driver's own waits only for a connection attempt in progress, otherwise it fails at once.
   */
  private async connected(): Promise<RedisClient> {
    const client = await this.client();
    if (client === this.given || client.status === 'ready') return client;
    if (!CONNECTING.has(client.status)) throw this.notConnected(client);
    await this.connectAttempt(client);
    return client;
  }

  private async ioredis(): Promise<IORedis> {
    try {
      return await this.importer();
    } catch (error) {
      throw new SessionConfigError(
        'SESSION_REDIS_MISSING',
        `the redis driver needs ioredis 5: npm install ioredis (${errorMessage(error)})`,
      );
    }
  }

  private async open(): Promise<RedisClient> {
    const ioredis = await this.ioredis();
    const client =
      this.target === undefined ? new ioredis.Redis(REDIS_CLIENT_DEFAULTS) : openRedis(ioredis, this.target);
    // Errors reach the requests that touch the session; the driver logs an outage once.
    client.on('error', (error: Error) => void (this.lastError = error));
    return defineApply(client);
  }

  /** Waits for the connection attempt in progress: at most connectTimeout. */
  private connectAttempt(client: RedisClient): Promise<void> {
    return (this.attempt ??= new Promise<void>((resolve, reject) => {
      const settle = () => {
        client.off('ready', settle);
        client.off('close', settle);
        client.off('end', settle);
        this.attempt = undefined;
        if (client.status === 'ready') resolve();
        else reject(this.notConnected(client));
      };
      client.on('ready', settle);
      client.on('close', settle);
      client.on('end', settle);
    }));
  }

  private notConnected(client: RedisClient): Error {
    const why = this.lastError ? `: ${this.lastError.message}` : '';
    return new Error(`Redis is not connected (${client.status})${why}`);
  }
}

function defineApply(client: Redis | Cluster): RedisClient {
  const c = client as RedisClient;
  if (typeof c.nestSessionApply !== 'function') {
    client.defineCommand('nestSessionApply', { numberOfKeys: 1, lua: APPLY_SCRIPT });
  }
  if (typeof c.nestSessionRetire !== 'function') {
    client.defineCommand('nestSessionRetire', { numberOfKeys: 1, lua: RETIRE_SCRIPT });
  }
  return c;
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

/** Appends a count and then field/value pairs, the list layout the script reads. */
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

/** A hash as HGETALL returns it: a record, or undefined when it is missing or not one of ours. */
function parseRecord(fields: Record<string, string>): SessionRecord | undefined {
  const created = fields[CREATED];
  const active = fields[ACTIVE];
  if (created === undefined || active === undefined) return undefined;
  const data: Record<string, unknown> = {};
  const flash: Record<string, unknown> = {};
  try {
    for (const name in fields) {
      const kind = name.slice(0, 2);
      const plain = kind === DATA || kind === FLASH;
      const bag =
        kind === DATA || kind === DATA_ESCAPED ? data : plain || kind === FLASH_ESCAPED ? flash : undefined;
      if (bag === undefined) continue;
      const key = plain ? name.slice(2) : String(JSON.parse(name.slice(2)));
      putKey(bag, key, JSON.parse(fields[name]));
    }
  } catch {
    return undefined;
  }
  return { data, flash, createdAt: Number(created), lastActivity: Number(active) };
}
