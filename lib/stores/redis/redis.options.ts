import type { Cluster, Redis } from 'ioredis';
import { invalid, wait } from '../../core/option-checks.js';
import { parseRedisUrl, type RedisTarget } from './redis.connection.js';

/** `forRoot({ redis })`. */
export interface RedisDriverOptions {
  /** The app's own ioredis client, `new Redis(...)` or `new Cluster(...)` (never closed by the driver). */
  client?: Redis | Cluster;
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

export const REDIS_DEFAULTS = { prefix: 'sess:', waitTimeout: 1_000 } as const;

/** The redis driver's options, checked, with their defaults; `target` is where `url` points. */
export interface ResolvedRedisOptions {
  client?: Redis | Cluster;
  url?: string | string[];
  target?: RedisTarget;
  prefix: string;
  waitForReplicas: number;
  waitTimeout: number;
}

/** The redis driver's options with their defaults; options that cannot work together are a start-up error. */
export function resolveRedisOptions(input: RedisDriverOptions = {}): ResolvedRedisOptions {
  const fail = (message: string): never => invalid(message, 'SESSION_REDIS_INVALID');
  const { client, url, prefix = REDIS_DEFAULTS.prefix } = input;
  if (typeof prefix !== 'string') fail(`redis.prefix must be a string such as 'sess:'`);
  if (client !== undefined && url !== undefined) {
    fail('give redis.client (your ioredis client) or redis.url (a client the driver opens), not both');
  }
  if (client !== undefined) {
    const c = client as Partial<Record<'defineCommand' | 'hgetall', unknown>> | null;
    if (typeof c?.defineCommand !== 'function' || typeof c.hgetall !== 'function') {
      fail('redis.client must be an ioredis client (new Redis(...) or new Cluster(...) from ioredis 5)');
    }
  }
  const target = url === undefined ? undefined : parseRedisUrl(url);
  const { waitForReplicas = target?.kind === 'sentinel' ? 1 : 0, waitTimeout = REDIS_DEFAULTS.waitTimeout } =
    input;
  if (!Number.isInteger(waitForReplicas) || waitForReplicas < 0) {
    fail('redis.waitForReplicas must be a whole number, 0 or more');
  }
  // Redis's WAIT takes whole milliseconds ('1.5' or '1e+21' would fail every regenerate()).
  wait('redis.waitTimeout', waitTimeout);
  return { client, url, target, prefix, waitForReplicas, waitTimeout };
}
