import type { Cluster, Redis } from 'ioredis';
import { SessionConfigError, errorMessage } from '../../session.errors.js';
import { openRedis, REDIS_CLIENT_DEFAULTS, type IORedis, type RedisTarget } from './redis.connection.js';
import { INDEX_SCRIPT } from './redis.index-scripts.js';
import type { FlatHash } from './redis.record.js';
import { APPLY_SCRIPT, DESTROY_SCRIPT, RETIRE_SCRIPT } from './redis.scripts.js';

/** A script as defineCommand adds it: the number of keys first, then the keys, then ARGV. */
type Script = (keys: number, ...args: (string | number)[]) => Promise<unknown>;

/** An ioredis client with the store's scripts (EVALSHA, EVAL when Redis forgot them). */
export type RedisClient = (Redis | Cluster) & {
  nestSessionApply: Script;
  nestSessionRetire: Script;
  nestSessionDestroy: Script;
  nestSessionIndex: Script;
};

/** A pipeline with the retire script, as defineCommand adds it. */
type RetirePipeline = {
  nestSessionRetire(...args: (string | number)[]): {
    call(...args: (string | number)[]): { exec(): Promise<unknown> };
  };
};

/**
 * HGETALL as Redis answers it: field, value, field, value... ioredis's `hgetall()` turns the answer
 * into an object (a property per field, the `in` check and the property key made anew on every
 * read); the command sent through `call()` under its upper-case name keeps the list. An ioredis that
 * turned it into an object anyway is read back into the list.
 */
export async function hashOf(client: Redis | Cluster, key: string): Promise<FlatHash> {
  const answer = (await client.call('HGETALL', key)) as string[] | Record<string, string>;
  return Array.isArray(answer) ? answer : Object.entries(answer).flat();
}

/** Whether the client is a Redis Cluster's: a session's hash and its user's index then live in different slots. */
export function isCluster(client: RedisClient): boolean {
  return (client as Partial<Cluster>).isCluster === true;
}

/**
 * The retire script, then WAIT for `replicas` in the same round trip (none: the script alone), so a
 * failover cannot bring the retired id back; fewer replicas within `timeout` ms is an error.
 */
export async function retireWaiting(
  client: RedisClient,
  keys: string[],
  args: (string | number)[],
  replicas: number,
  timeout: number,
): Promise<unknown> {
  if (replicas === 0) return client.nestSessionRetire(keys.length, ...keys, ...args);
  const results = await (client.pipeline() as unknown as RetirePipeline)
    .nestSessionRetire(keys.length, ...keys, ...args)
    .call('WAIT', replicas, timeout)
    .exec();
  const [[retireError, retired], [waitError, acknowledged]] = results as [
    [Error | null, unknown],
    [Error | null, unknown],
  ];
  if (retireError) throw retireError;
  if (waitError) throw waitError;
  reached(acknowledged, replicas, timeout);
  return retired;
}

/** WAIT for `replicas` after sessions were retired by another script (a binding past the limit). */
export async function waitForReplicas(client: RedisClient, replicas: number, timeout: number): Promise<void> {
  if (replicas > 0) reached(await client.call('WAIT', replicas, timeout), replicas, timeout);
}

function reached(acknowledged: unknown, replicas: number, timeout: number): void {
  if (Number(acknowledged) >= replicas) return;
  throw new Error(
    `the retired session reached ${String(acknowledged)} of ${replicas} Redis replicas within ${timeout} ms`,
  );
}

/** ioredis states in which a connection attempt is under way (bounded by connectTimeout). */
const CONNECTING = new Set(['connecting', 'connect']);

/**
 * The redis store's client: the app's own (used as it is, never closed), or one opened from
 * `redis.url` on first use with the fail-fast settings and closed on shutdown.
 */
export class RedisConnection {
  private readonly given?: RedisClient;
  private opening?: Promise<RedisClient>;
  private attempt?: Promise<void>;
  private lastError?: Error;
  private closed = false;

  constructor(
    given: Redis | Cluster | undefined,
    private readonly target: RedisTarget | undefined,
    private readonly importer: () => Promise<IORedis>,
  ) {
    this.given = given === undefined ? undefined : defineScripts(given);
  }

  /** The client sessions go through: the app's, or the one opened from `redis.url`. */
  client(): Promise<RedisClient> {
    if (this.given !== undefined) return Promise.resolve(this.given);
    if (this.closed) return Promise.reject(new Error('the redis session store is closed'));
    return (this.opening ??= this.open());
  }

  /**
   * The client, when it can take a command now. The app's client is used as it is (its own settings
   * decide); the driver's own waits only for a connection attempt in progress, otherwise it fails at once.
   */
  async connected(): Promise<RedisClient> {
    const client = await this.client();
    if (client === this.given || client.status === 'ready') return client;
    if (!CONNECTING.has(client.status)) throw this.notConnected(client);
    await this.connectAttempt(client);
    return client;
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
    return defineScripts(client);
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

/** Adds the store's scripts to a client, each taking its number of keys first. */
function defineScripts(client: Redis | Cluster): RedisClient {
  const scripts = {
    nestSessionApply: APPLY_SCRIPT,
    nestSessionRetire: RETIRE_SCRIPT,
    nestSessionDestroy: DESTROY_SCRIPT,
    nestSessionIndex: INDEX_SCRIPT,
  };
  const c = client as RedisClient;
  for (const [name, lua] of Object.entries(scripts)) {
    if (typeof c[name as keyof typeof scripts] !== 'function') client.defineCommand(name, { lua });
  }
  return c;
}
