import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SessionManager } from 'nest-session';
import { hashOf } from '../../lib/stores/redis/redis.client.js';
import { RedisStore } from '../../lib/stores/redis/redis.store.js';
import { isPrunable, type SessionMeta } from '../../lib/stores/session-store.js';
import { cookiePair, createApp, http, platforms } from '../support/app.js';
import { sessionConformance } from '../support/conformance.js';
import { conformanceOf, testDriver } from '../support/drivers.js';
import { asRecord, changes } from '../support/fixtures.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { SECRET, sessionApp } from '../support/session-app.js';

const url = process.env.NEST_SESSION_REDIS_URL;
const prefix = `nest-session-test:${process.pid}:`;

if (!url) {
  describe('redis driver', () => {
    it('needs a Redis server', () => {
      throw new Error(
        'NEST_SESSION_REDIS_URL is not set. The redis driver is tested against a real Redis and never ' +
          'skips: start the test servers with `bash .ci/services.sh start && source .ci/tmp/services.env`, ' +
          "or start Redis yourself (`redis-server --port 6390 --save '' --appendonly no`, Debian package " +
          'redis-server) and `export NEST_SESSION_REDIS_URL=redis://127.0.0.1:6390`; then `npm run test:services`.',
      );
    });
  });
} else {
  redisSuite(url);
}

function meta(now = Date.now(), ttl = 60_000): SessionMeta {
  return { createdAt: now, lastActivity: now, expiresAt: now + ttl, create: true };
}

const newId = () => randomBytes(16).toString('base64url');

/** Resolves once the store's client is connected (after Redis came back). */
async function connected(store: RedisStore): Promise<void> {
  const client = await store.client();
  if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
}

function redisSuite(url: string): void {
  afterAll(async () => {
    const redis = new Redis(url);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  const redisDriver = testDriver('redis');
  afterAll(() => redisDriver.cleanup());
  sessionConformance('redis driver', conformanceOf(redisDriver));

  describe('RedisStore', () => {
    let redis: Redis;
    let store: RedisStore;
    beforeAll(() => {
      redis = new Redis(url);
      store = new RedisStore({ client: redis, prefix });
    });
    afterAll(() => redis.quit());

    it('keeps a session as one hash: a field per data and flash key holding JSON, and the timestamps', async () => {
      const id = newId();
      const m = meta();
      await store.apply(id, changes({ set: { userId: 7, tags: ['a'] }, flash: { success: 'ok' } }), m);
      expect(await redis.hgetall(`${prefix}${id}`)).toEqual({
        'd:userId': '7',
        'd:tags': '["a"]',
        'f:success': '"ok"',
        'm:s': '33',
        'm:c': String(m.createdAt),
        'm:a': String(m.lastActivity),
      });
      expect(asRecord(await store.get(id))).toEqual({
        data: { userId: 7, tags: ['a'] },
        flash: { success: 'ok' },
        createdAt: m.createdAt,
        lastActivity: m.lastActivity,
      });
      await store.destroy(id);
      expect(asRecord(await store.get(id))).toBeUndefined();
      await store.destroy(id);
    });

    it('reads a hash as Redis answers it, field, value, field, value..., as ioredis hands HGETALL through call()', async () => {
      const id = newId();
      await store.apply(id, changes({ set: { a: 1 } }), meta());
      const hash = await hashOf(redis, `${prefix}${id}`);
      expect(Array.isArray(hash)).toBe(true);
      expect(Object.fromEntries(pairs(hash))).toEqual(await redis.hgetall(`${prefix}${id}`));
      expect(await hashOf(redis, `${prefix}${newId()}`)).toEqual([]);
      await store.destroy(id);
    });

    it("uses the 'sess:' prefix by default", async () => {
      const plain = new RedisStore({ client: redis });
      const id = newId();
      await plain.apply(id, changes({ set: { a: 1 } }), meta());
      expect(await redis.exists(`sess:${id}`)).toBe(1);
      await plain.destroy(id);
      expect(await redis.exists(`sess:${id}`)).toBe(0);
    });

    it('keeps keys that differ only in a lone surrogate in fields of their own, and counts their bytes', async () => {
      const id = newId();
      const key = `${prefix}${id}`;
      await store.apply(id, changes({ set: { '\uD800a': 1, '\uDC00a': 2, '\uFFFDa': 3 } }), meta());
      await store.apply(id, changes({ flash: { '\uDBFF': 'f' } }), { ...meta(), create: false });
      const fields = await redis.hgetall(key);
      expect(
        Object.keys(fields)
          .filter((f) => /^[dDfF]:/.test(f))
          .sort(),
      ).toEqual(['D:"\\ud800a"', 'D:"\\udc00a"', 'F:"\\udbff"', 'd:\uFFFDa'].sort());
      const record = asRecord(await store.get(id));
      expect(record?.data).toEqual({ '\uD800a': 1, '\uDC00a': 2, '\uFFFDa': 3 });
      expect(record?.flash).toEqual({ '\uDBFF': 'f' });
      // The size the script keeps counts the escaped fields, and clearing removes them.
      const bytes = (f: Record<string, string>) =>
        Object.keys(f)
          .filter((name) => /^[dDfF]:/.test(name))
          .reduce((sum, name) => sum + Buffer.byteLength(name) + Buffer.byteLength(f[name]), 0);
      expect(Number(fields['m:s'])).toBe(bytes(fields));
      await store.apply(id, changes({ deleted: ['\uD800a'], flashCleared: { '\uDBFF': '"f"' } }), meta());
      expect(asRecord(await store.get(id))).toMatchObject({
        data: { '\uDC00a': 2, '\uFFFDa': 3 },
        flash: {},
      });
      await store.apply(id, changes({ clearData: true, set: { b: 1 } }), meta());
      const cleared = await redis.hgetall(key);
      expect(Object.keys(cleared).filter((f) => /^[dDfF]:/.test(f))).toEqual(['d:b']);
      expect(Number(cleared['m:s'])).toBe(bytes(cleared));
    });

    it('reads a session written in the plain layout unchanged', async () => {
      const id = newId();
      const now = Date.now();
      await redis.hset(`${prefix}${id}`, {
        'd:userId': '7',
        'd:\u00FC \u{1F600}': '"\u00FCn\u00EFcode"',
        'f:success': '"ok"',
        'm:c': String(now),
        'm:a': String(now),
      });
      expect(asRecord(await store.get(id))).toEqual({
        data: { userId: 7, '\u00FC \u{1F600}': '\u00FCn\u00EFcode' },
        flash: { success: 'ok' },
        createdAt: now,
        lastActivity: now,
      });
    });

    it('expires the key with the session: its TTL is the time left, and every write renews it', async () => {
      const id = newId();
      const now = Date.now();
      await store.apply(id, changes({ set: { a: 1 } }), {
        createdAt: now,
        lastActivity: now,
        expiresAt: now + 60_000,
        create: true,
      });
      const first = await redis.pttl(`${prefix}${id}`);
      expect(first).toBeGreaterThan(55_000);
      expect(first).toBeLessThanOrEqual(60_000);
      const later = now + 30_000;
      await store.apply(id, changes(), {
        createdAt: now,
        lastActivity: later,
        expiresAt: later + 600_000,
        create: true,
      });
      expect(await redis.pttl(`${prefix}${id}`)).toBeGreaterThan(595_000);
      expect(asRecord(await store.get(id))?.createdAt).toBe(now);
      expect(isPrunable(store)).toBe(false);
    });

    it('loads the script again (EVAL) after Redis forgot it', async () => {
      const id = newId();
      await store.apply(id, changes({ set: { a: 1 } }), meta());
      await redis.script('FLUSH');
      await store.apply(id, changes({ set: { b: 2 } }), meta());
      expect(asRecord(await store.get(id))!.data).toEqual({ a: 1, b: 2 });
    });

    it('sends the same few bytes for a one-key change on a session of 100 B, 10 KB or 100 KB', async () => {
      const proxy = await TcpProxy.start(url);
      const client = new Redis(proxy.url);
      try {
        const metered = new RedisStore({ client, prefix });
        const sent: number[] = [];
        for (const size of [100, 10_000, 100_000]) {
          const id = newId();
          const data: Record<string, string> = {};
          for (let i = 0; i * 1000 < size; i++) data[`key${i}`] = 'x'.repeat(Math.min(size, 1000) - 20);
          await metered.apply(id, changes({ set: data }), meta());
          const before = proxy.bytesSent;
          await metered.apply(id, changes({ set: { counter: 1 } }), meta());
          sent.push(proxy.bytesSent - before);
          expect(Object.keys(asRecord(await metered.get(id))!.data)).toHaveLength(
            Object.keys(data).length + 1,
          );
        }
        expect(Math.max(...sent)).toBeLessThan(400);
        expect(Math.max(...sent) - Math.min(...sent)).toBeLessThanOrEqual(8);
      } finally {
        await client.quit();
        await proxy.close();
      }
    });

    it('opens its own client only when first used, and says how to install ioredis when it is missing', async () => {
      let imports = 0;
      const missing = new RedisStore(
        { url },
        {
          importer: async () => {
            imports++;
            throw new Error("Cannot find package 'ioredis'");
          },
        },
      );
      expect(imports).toBe(0);
      await expect(missing.get(newId())).rejects.toThrow(/SESSION_REDIS_MISSING: .*npm install ioredis/);
      expect(imports).toBe(1);
    });

    it('never imports ioredis as a value (it is an optional peer)', () => {
      const source = readFileSync(new URL('../../lib/stores/redis/redis.store.ts', import.meta.url), 'utf8');
      const imports = source.match(/^import .*from 'ioredis';$/gm) ?? [];
      expect(imports.every((line) => line.startsWith('import type '))).toBe(true);
      expect(source).toContain("import('ioredis')");
    });

    it.each([
      [{ client: {} }, /redis.client must be an ioredis client/],
      [{ client: redisLike(), url: 'redis://localhost' }, /not both/],
      [{ url: 'localhost:6379' }, /redis:\/\/ or rediss:\/\//],
      [{ prefix: 1 }, /redis.prefix must be a string/],
    ])('rejects %p at start-up with SESSION_REDIS_INVALID', (options, message) => {
      expect(() => new RedisStore(options as never)).toThrow(message);
      expect(() => new RedisStore(options as never)).toThrow(/^SESSION_REDIS_INVALID: /);
    });
  });

  describe('expiry in Redis', () => {
    let redis: Redis;
    let quiet: Redis;
    let events: Redis;
    let previous: string;
    beforeAll(async () => {
      redis = new Redis(url);
      const databases = Number(((await redis.config('GET', 'databases')) as string[])[1]);
      // A database of its own: Redis's expiry cycle walks each database's volatile keys, so here it
      // finds this one within a cycle (100 ms), however many sessions the other suites left in theirs.
      quiet = new Redis(url, { db: databases - 1 });
      events = quiet.duplicate();
      previous = ((await redis.config('GET', 'notify-keyspace-events')) as string[])[1];
      await redis.config('SET', 'notify-keyspace-events', 'Ex');
      await events.ping(); // subscribe once connected: ioredis's ready check cannot run in subscriber mode
      await events.psubscribe('__keyevent@*__:expired');
    });
    afterAll(async () => {
      await redis.config('SET', 'notify-keyspace-events', previous);
      events.disconnect();
      await quiet.quit();
      await redis.quit();
    });

    it('lets Redis drop an expired session by itself, without a sweep', async () => {
      const store = new RedisStore({ client: quiet, prefix });
      const id = newId();
      const key = `${prefix}${id}`;
      const expired = new Promise<void>((resolve) =>
        events.on(
          'pmessage',
          (_pattern: string, _channel: string, name: string) => name === key && resolve(),
        ),
      );
      const now = Date.now();
      await store.apply(id, changes({ set: { a: 1 } }), {
        createdAt: now,
        lastActivity: now,
        expiresAt: now + 5,
        create: true,
      });
      await expired;
      expect(await quiet.exists(key)).toBe(0);
      expect(asRecord(await store.get(id))).toBeUndefined();
    });
  });

  describe('client ownership', () => {
    it("leaves the app's own client open on shutdown", async () => {
      const client = new Redis(url);
      const app = await createApp(
        'express',
        sessionApp({ driver: 'redis', secret: SECRET, redis: { client, prefix } }),
      );
      await http(app).post('/set').send({ a: 1 }).expect(200);
      await app.close();
      expect(await client.ping()).toBe('PONG');
      await client.quit();
    });

    it('closes the client it opened from redis.url on shutdown', async () => {
      const app = await createApp(
        'express',
        sessionApp({ driver: 'redis', secret: SECRET, redis: { url, prefix } }),
      );
      await http(app).post('/set').send({ a: 1 }).expect(200);
      const opened = await (app.get(SessionManager).store() as RedisStore).client();
      expect(opened.status).toBe('ready');
      await app.close();
      expect(opened.status).toBe('end');
    });
  });

  describe.each(platforms)('when Redis is unreachable, on %s', (platform) => {
    let proxy: TcpProxy;
    let app: INestApplication;
    let store: RedisStore;
    beforeAll(async () => {
      proxy = await TcpProxy.start(url);
      const options = { driver: 'redis', secret: SECRET, redis: { url: proxy.url, prefix } };
      app = await createApp(platform, sessionApp(options));
      store = app.get(SessionManager).store() as RedisStore;
    });
    afterAll(async () => {
      await app.close();
      await proxy.close();
    });

    it('answers 503 at once where the session is used, serves the other routes, and recovers', async () => {
      const first = await http(app).post('/set').send({ a: 1 }).expect(200);
      const pair = cookiePair(first, 'nest_session')!;
      await proxy.down();
      const started = Date.now();
      const load = await http(app).get('/state').set('Cookie', pair);
      expect(load.status).toBe(503);
      expect(JSON.stringify(load.body)).toContain('SESSION_STORE_UNAVAILABLE');
      await http(app).post('/set').send({ b: 2 }).expect(503);
      await http(app).get('/untouched').set('Cookie', pair).expect(200);
      expect(Date.now() - started).toBeLessThan(1_500);

      await proxy.up();
      await connected(store);
      const back = await http(app).get('/state').set('Cookie', pair).expect(200);
      expect(back.body).toMatchObject({ isNew: false, data: { a: 1 } });
      await http(app).post('/set').set('Cookie', pair).send({ b: 2 }).expect(200, { a: 1, b: 2 });
    }, 15_000);

    it('answers 503 within the command timeout when Redis stops answering, then recovers', async () => {
      const first = await http(app).post('/set').send({ a: 1 }).expect(200);
      const pair = cookiePair(first, 'nest_session')!;
      proxy.stall();
      const started = Date.now();
      try {
        await http(app).get('/state').set('Cookie', pair).expect(503);
      } finally {
        proxy.resume();
      }
      expect(Date.now() - started).toBeLessThan(4_000);
      const back = await http(app).get('/state').set('Cookie', pair).expect(200);
      expect(back.body).toMatchObject({ isNew: false, data: { a: 1 } });
    }, 15_000);
  });
}

/** Passes the shape check without being a client. */
function redisLike(): object {
  return { defineCommand: () => undefined, hgetall: () => undefined };
}

/** A hash read as a list, as [field, value] pairs. */
function pairs(hash: readonly string[]): [string, string][] {
  return Array.from({ length: hash.length / 2 }, (_, i) => [hash[2 * i], hash[2 * i + 1]]);
}
