import { describe, expect, it } from '@jest/globals';
import { parseRedisUrl } from '../../../lib/stores/redis/redis.connection.js';
import { RedisStore } from '../../../lib/stores/redis/redis.store.js';

describe('redis.url', () => {
  it('reads one server, a Cluster (an array or commas) and a Sentinel group', () => {
    expect(parseRedisUrl('redis://localhost:6379')).toEqual({
      kind: 'single',
      url: 'redis://localhost:6379',
    });
    const cluster = { kind: 'cluster', urls: ['redis://a:7000', 'redis://b:7001'] };
    expect(parseRedisUrl(['redis://a:7000', 'redis://b:7001'])).toEqual(cluster);
    expect(parseRedisUrl('redis://a:7000,redis://b:7001')).toEqual(cluster);
    expect(parseRedisUrl('redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2/mymaster/2')).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26379 },
      ],
      name: 'mymaster',
      username: undefined,
      password: 's3cret',
      db: 2,
      tls: false,
    });
  });

  it.each([
    'localhost:6379',
    'http://localhost',
    'redis+sentinel://host:26379',
    'redis+sentinel://host:port/name',
    ['redis://a:1', 'http://b:2'],
    [],
  ])('rejects %j at start-up, listing the forms it takes', (url) => {
    expect(() => new RedisStore({ url: url as never })).toThrow(
      /^SESSION_REDIS_INVALID: redis.url must be a redis:\/\/ or rediss:\/\/ URL .*Cluster.*redis\+sentinel:\/\//,
    );
  });

  it('waits for a replica on retire by default only with a Sentinel URL, and checks the wait options', () => {
    const replicas = (options: object) =>
      (new RedisStore(options) as unknown as { replicas: number }).replicas;
    expect(replicas({ url: 'redis+sentinel://h:26379/m' })).toBe(1);
    expect(replicas({ url: 'redis://h:6379' })).toBe(0);
    expect(replicas({ url: 'redis://h:6379', waitForReplicas: 2 })).toBe(2);
    expect(() => new RedisStore({ waitForReplicas: -1 })).toThrow(/waitForReplicas must be a whole number/);
    expect(() => new RedisStore({ waitTimeout: 0 })).toThrow(
      /waitTimeout must be a whole number of milliseconds/,
    );
  });
});
