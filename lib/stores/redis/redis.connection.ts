import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { SessionConfigError, errorMessage } from '../../session.errors.js';

/** What the driver takes from `await import('ioredis')`: ioredis stays an optional peer. */
export type IORedis = { Redis: typeof Redis; Cluster: typeof Cluster };

/**
 * Settings of the clients the driver opens: while Redis is unreachable a command fails at once (a
 * 503 for that request) instead of waiting in ioredis's offline queue, and the client keeps
 * reconnecting in the background so the app recovers when Redis is back.
 */
export const REDIS_CLIENT_DEFAULTS = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 2_000,
  commandTimeout: 2_000,
  retryStrategy: (attempt: number) => Math.min(attempt * 100, 1_000),
} satisfies RedisOptions;

/** Where `redis.url` points: one server, the seed nodes of a Cluster, or a Sentinel group's master. */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'cluster'; urls: string[] }
  | {
      kind: 'sentinel';
      sentinels: { host: string; port: number }[];
      name: string;
      username?: string;
      password?: string;
      db?: number;
      tls: boolean;
    };

const FORMS =
  "redis.url must be a redis:// or rediss:// URL such as 'redis://localhost:6379'; several of them for " +
  "a Redis Cluster's nodes (['redis://host1:port', 'redis://host2:port'], or joined with commas); or " +
  "'redis+sentinel://[user:password@]host1:port,host2:port/masterName[/db]' for a Sentinel group";

/** Reads `redis.url`; a form it does not know is a start-up error listing the ones it does. */
export function parseRedisUrl(url: unknown): RedisTarget {
  const list = Array.isArray(url)
    ? url
    : typeof url === 'string'
      ? url.split(/,(?=rediss?:\/\/)/)
      : undefined;
  if (list === undefined || list.length === 0 || !list.every((u) => typeof u === 'string')) {
    throw new SessionConfigError('SESSION_REDIS_INVALID', FORMS);
  }
  if (list.length === 1 && /^rediss?\+sentinel:\/\//.test(list[0])) return parseSentinel(list[0]);
  for (const u of list) {
    if (!/^rediss?:\/\/[^/?#]+/.test(u)) throw new SessionConfigError('SESSION_REDIS_INVALID', FORMS);
  }
  return list.length === 1 ? { kind: 'single', url: list[0] } : { kind: 'cluster', urls: list };
}

function parseSentinel(url: string): RedisTarget {
  const match = /^(rediss?)\+sentinel:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/]+)\/([^/?#]+)(?:\/(\d+))?$/.exec(
    url,
  );
  if (match === null) throw new SessionConfigError('SESSION_REDIS_INVALID', FORMS);
  const [, scheme, username, password, hosts, name, db] = match;
  const sentinels = hosts.split(',').map((hostPort) => {
    const at = hostPort.lastIndexOf(':');
    const port = at < 0 ? 26379 : Number(hostPort.slice(at + 1));
    const host = at < 0 ? hostPort : hostPort.slice(0, at);
    if (host === '' || !Number.isInteger(port) || port <= 0) {
      throw new SessionConfigError('SESSION_REDIS_INVALID', FORMS);
    }
    return { host, port };
  });
  return {
    kind: 'sentinel',
    sentinels,
    name: decodeURIComponent(name),
    username: username ? decodeURIComponent(username) : undefined,
    password: password ? decodeURIComponent(password) : undefined,
    db: db === undefined ? undefined : Number(db),
    tls: scheme === 'rediss',
  };
}

/** A client for the target, with the fail-fast settings (for a Cluster, on each node's connection too). */
export function openRedis(ioredis: IORedis, target: RedisTarget): Redis | Cluster {
  switch (target.kind) {
    case 'single':
      return new ioredis.Redis(target.url, REDIS_CLIENT_DEFAULTS);
    case 'sentinel':
      return new ioredis.Redis({
        ...REDIS_CLIENT_DEFAULTS,
        sentinels: target.sentinels,
        name: target.name,
        username: target.username,
        password: target.password,
        db: target.db,
        ...(target.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
        // Follows a promotion as soon as Sentinel announces it rather than after the next error.
        failoverDetector: true,
        sentinelRetryStrategy: REDIS_CLIENT_DEFAULTS.retryStrategy,
      });
    case 'cluster': {
      const first = new URL(target.urls[0]);
      const options: ClusterOptions = {
        enableOfflineQueue: false,
        clusterRetryStrategy: REDIS_CLIENT_DEFAULTS.retryStrategy,
        slotsRefreshTimeout: 2_000,
        redisOptions: {
          connectTimeout: REDIS_CLIENT_DEFAULTS.connectTimeout,
          commandTimeout: REDIS_CLIENT_DEFAULTS.commandTimeout,
          maxRetriesPerRequest: 0,
          username: first.username ? decodeURIComponent(first.username) : undefined,
          password: first.password ? decodeURIComponent(first.password) : undefined,
          ...(first.protocol === 'rediss:' ? { tls: {} } : {}),
        },
      };
      const nodes = target.urls.map((u) => {
        const { hostname, port } = new URL(u);
        return { host: hostname, port: port === '' ? 6379 : Number(port) };
      });
      return new ioredis.Cluster(nodes, options);
    }
  }
}

/** What a Redis error says about the setup, when it is a setup mistake rather than an outage. */
export function redisMisconfiguration(error: unknown): string | undefined {
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
