import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import type { SessionUser } from 'nest-session';
import { IN_FLIGHT } from '../../lib/stores/redis/redis.index.js';
import { INDEX_HEADROOM, indexKeys, userKey } from '../../lib/stores/redis/redis.record.js';
import { RedisStore } from '../../lib/stores/redis/redis.store.js';
import { conformanceOf, testDriver } from '../support/drivers.js';
import { asRecord, changes } from '../support/fixtures.js';
import { LONG_TTL, SHORT_TTL, newId } from '../support/store-contract.js';
import { usersConformance } from '../support/users-conformance.js';

let users = 0;
const newUser = (what: string) => `${what}-${process.pid}-${++users}`;

/** The drivers: every app and store below gets a key prefix of its own from them. */
const places = {
  redis: testDriver('redis'),
  'redis-cluster': testDriver('redis-cluster'),
  'redis-sentinel': testDriver('redis-sentinel'),
};
afterAll(() => Promise.all(Object.values(places).map((driver) => driver.cleanup())));

// Users and their devices over HTTP, on a single Redis, a Redis Cluster and a Sentinel group.
for (const driver of Object.values(places)) usersConformance(`${driver.label} driver`, conformanceOf(driver));

/** A store of its own (a fresh prefix) on the driver's Redis, reading a clock the test moves. */
function clockedStore(name: keyof typeof places) {
  let t = Date.now();
  const { url, prefix } = places[name].options().redis as { url: string; prefix: string };
  const store = new RedisStore({ url, prefix }, { now: () => t });
  return {
    store,
    prefix,
    now: () => t,
    advance: (ms: number) => void (t += ms),
    /** The store's own client, for the test's commands. */
    redis: async () => (await store.client()) as Redis | Cluster,
    at: (ttl = LONG_TTL, create = true) => ({ createdAt: t, lastActivity: t, expiresAt: t + ttl, create }),
    user: (id: string): SessionUser => ({ id, signedInAt: t }),
    index: (user: string) => indexKeys(prefix, userKey(user)),
  };
}

describe.each(['redis', 'redis-cluster', 'redis-sentinel'] as const)('the user index on %s', (name) => {
  let h: ReturnType<typeof clockedStore>;
  beforeEach(() => void (h = clockedStore(name)));
  afterEach(() => h.store.close());

  const listed = async (user: string) => (await h.store.listUser(user)).map((s) => s.id).sort();

  it('keeps each user in keys of their own that expire with the latest session, and drops expired members', async () => {
    const alice = newUser('alice');
    const [early, late] = [newId(), newId()];
    await h.store.apply(early, changes({ user: h.user(alice) }), h.at(SHORT_TTL));
    await h.store.apply(late, changes({ user: h.user(alice) }), h.at(LONG_TTL));
    const redis = await h.redis();
    const [byExpiry, bySignIn] = h.index(alice);
    expect(await redis.zrange(byExpiry, 0, -1)).toEqual([early, late]);
    expect(await redis.zscore(byExpiry, late)).toBe(String(h.now() + LONG_TTL + INDEX_HEADROOM));
    expect((await redis.zrange(bySignIn, 0, -1)).sort()).toEqual([early, late].sort());
    for (const key of [byExpiry, bySignIn]) {
      expect(await redis.pttl(key)).toBeGreaterThan(LONG_TTL - 5_000);
      expect(await redis.pttl(key)).toBeLessThanOrEqual(LONG_TTL + INDEX_HEADROOM);
    }
    // Past the early one's expiry, the next write to the index drops it (once the late one's
    // expiry has moved past its entry's score: writes before leave the index alone).
    h.advance(INDEX_HEADROOM + 1);
    await h.store.apply(late, changes({ set: { a: 1 } }), h.at(LONG_TTL, false));
    expect(await redis.zrange(byExpiry, 0, -1)).toEqual([late]);
    expect(await redis.zrange(bySignIn, 0, -1)).toEqual([late]);
    expect(await redis.zscore(byExpiry, late)).toBe(String(h.now() + LONG_TTL + INDEX_HEADROOM));
    // The last session gone, so are the keys.
    await h.store.retire(late, h.now() + LONG_TTL);
    expect(await redis.exists(byExpiry, bySignIn)).toBe(0);
  });

  it('keeps users whose ids differ only in braces, percent signs or lone surrogates apart', async () => {
    const base = newUser('odd');
    const ids = [`${base}{a}`, `${base}%7ba}`, `${base}\uD800`, `${base}\uDC00`, `${base}\uFFFD`];
    const sessions = new Map<string, string>();
    for (const user of ids) {
      const id = newId();
      sessions.set(user, id);
      await h.store.apply(id, changes({ user: h.user(user) }), h.at());
    }
    for (const user of ids) {
      const [found] = await h.store.listUser(user);
      expect(found.id).toBe(sessions.get(user));
      expect(found.record.user?.id).toBe(user);
    }
  });

  it("leaves the index alone while the session expires before its entry's score, then raises it (and puts the session back in the sign-in index)", async () => {
    const alice = newUser('alice');
    const id = newId();
    const user = h.user(alice);
    await h.store.apply(id, changes({ user }), h.at(LONG_TTL));
    const redis = await h.redis();
    const [byExpiry, bySignIn] = h.index(alice);
    const score = h.now() + LONG_TTL + INDEX_HEADROOM;
    await redis.zrem(bySignIn, id); // shows whether a write went to the index
    h.advance(INDEX_HEADROOM - 1_000);
    await h.store.apply(id, changes({ set: { a: 1 } }), h.at(LONG_TTL, false));
    expect(await redis.zscore(byExpiry, id)).toBe(String(score));
    expect(await redis.zscore(bySignIn, id)).toBeNull();
    expect(await listed(alice)).toEqual([id]);
    h.advance(1_001);
    await h.store.apply(id, changes({ set: { a: 2 } }), h.at(LONG_TTL, false));
    expect(await redis.zscore(byExpiry, id)).toBe(String(h.now() + LONG_TTL + INDEX_HEADROOM));
    expect(await redis.zscore(bySignIn, id)).toBe(String(user.signedInAt));
  });

  it('never lowers an entry: a request that began earlier but writes later leaves the score', async () => {
    const alice = newUser('alice');
    const id = newId();
    await h.store.apply(id, changes({ user: h.user(alice) }), h.at(LONG_TTL));
    const earlier = h.at(LONG_TTL, false);
    h.advance(INDEX_HEADROOM + 1);
    await h.store.apply(id, changes({ set: { a: 1 } }), h.at(LONG_TTL, false));
    const score = await (await h.redis()).zscore(h.index(alice)[0], id);
    expect(score).toBe(String(h.now() + LONG_TTL + INDEX_HEADROOM));
    // Another process, nothing remembered: it writes the index, with the earlier request's expiry.
    const other = new RedisStore({ client: await h.redis(), prefix: h.prefix }, { now: h.now });
    expect(await other.apply(id, changes({ set: { a: 0 } }), earlier)).toBe(true);
    expect(await (await h.redis()).zscore(h.index(alice)[0], id)).toBe(score);
  });

  it('finds the right index when another process bound the session (nothing remembered here)', async () => {
    const [alice, bob] = [newUser('alice'), newUser('bob')];
    const [touched, rebound, retired, destroyed] = [newId(), newId(), newId(), newId()];
    for (const id of [touched, rebound, retired, destroyed])
      await h.store.apply(id, changes({ user: h.user(alice) }), h.at());
    // Another process: the same Redis and prefix, a store that never saw these sessions.
    const other = new RedisStore({ client: await h.redis(), prefix: h.prefix }, { now: h.now });
    h.advance(60_000);
    expect(await other.apply(touched, changes({ set: { a: 1 } }), h.at(LONG_TTL, false))).toBe(true);
    expect(await (await h.redis()).zscore(h.index(alice)[0], touched)).toBe(
      String(h.now() + LONG_TTL + INDEX_HEADROOM),
    );
    await other.apply(rebound, changes({ user: h.user(bob) }), h.at(LONG_TTL, false));
    expect(await other.retire(retired, h.now() + LONG_TTL)).toMatchObject({ user: { id: alice } });
    await other.destroy(destroyed);
    expect(await listed(alice)).toEqual([touched]);
    expect(await listed(bob)).toEqual([rebound]);
    expect(await (await h.redis()).zrange(h.index(alice)[0], 0, -1)).toEqual([touched]);
  });

  it.each(['reject', 'revoke-oldest'] as const)(
    "lets no two stores, each on connections of its own, bind past users.maxPerUser at once ('%s')",
    async (onLimit) => {
      const alice = newUser('alice');
      const { url } = places[name].options().redis as { url: string };
      const other = new RedisStore({ url, prefix: h.prefix }, { now: h.now });
      try {
        const first = newId();
        await h.store.apply(first, changes({ user: h.user(alice) }), h.at());
        const limits = Array.from({ length: 40 }, () => ({
          max: 3,
          onLimit,
          until: h.now(),
          revoked: [] as string[],
        }));
        const ids = limits.map(() => newId());
        // Twenty bindings in each store, all at once.
        const results = await Promise.allSettled(
          ids.map((id, i) =>
            (i % 2 === 0 ? h.store : other).apply(id, changes({ user: h.user(alice) }), {
              ...h.at(),
              limit: limits[i],
            }),
          ),
        );
        const live = await listed(alice);
        expect(live).toHaveLength(3);
        if (onLimit === 'reject') {
          expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
          expect(live).toContain(first);
        } else {
          expect(results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []))).toEqual([]);
          // Every session but the three listed was retired by a binding, and said so once.
          const revoked = limits.flatMap((limit) => limit.revoked).sort();
          expect(revoked).toEqual([first, ...ids].filter((id) => !live.includes(id)).sort());
          // Retired: a tombstone (until now, so perhaps already ended) nothing writes through.
          for (const id of revoked)
            expect(await h.store.apply(id, changes({ set: { back: 1 } }), h.at(LONG_TTL, false))).toBe(false);
        }
      } finally {
        await other.close();
      }
    },
  );

  it('drops on read the entries a lost step leaves, and lists every live session and nothing else', async () => {
    const [alice, bob] = [newUser('alice'), newUser('bob')];
    const redis = await h.redis();
    const [byExpiry, bySignIn] = h.index(alice);
    const bind = (id: string) => h.store.apply(id, changes({ user: h.user(alice) }), h.at());
    const live = [newId(), newId(), newId()];
    for (const id of live) await bind(id);
    // A session retired, unbound, bound to another user or destroyed, whose entry's removal was
    // lost (a Cluster's step after the session's write that failed): the entry is put back.
    const [retired, unbound, rebound, destroyed, expired] = [newId(), newId(), newId(), newId(), newId()];
    for (const id of [retired, unbound, rebound, destroyed, expired]) await bind(id);
    await h.store.retire(retired, h.now() + LONG_TTL);
    await h.store.apply(unbound, changes({ user: null }), h.at(LONG_TTL, false));
    await h.store.apply(rebound, changes({ user: h.user(bob) }), h.at(LONG_TTL, false));
    await h.store.destroy(destroyed);
    for (const id of [retired, unbound, rebound, destroyed]) {
      await redis.zadd(byExpiry, h.now() + LONG_TTL, id);
      await redis.zadd(bySignIn, h.now(), id);
    }
    // A session Redis dropped by itself (its TTL, an eviction): its entry is left.
    await redis.pexpire(h.prefix + expired, 0);
    // A binding whose session write failed: on one node the script writes nothing at all; on a
    // Cluster the entry was reserved first and stays, a binding in flight until IN_FLIGHT passed.
    const failed = newId();
    await redis.set(h.prefix + failed, 'not a hash');
    await expect(bind(failed)).rejects.toThrow(/WRONGTYPE/);
    const reserved = (await redis.zscore(byExpiry, failed)) !== null;
    expect(reserved).toBe(name === 'redis-cluster');
    await redis.del(h.prefix + failed);
    h.advance(IN_FLIGHT + 1);

    expect(await listed(alice)).toEqual([...live].sort());
    expect((await redis.zrange(byExpiry, 0, -1)).sort()).toEqual([...live].sort());
    expect((await redis.zrange(bySignIn, 0, -1)).sort()).toEqual([...live].sort());
    expect(await listed(bob)).toEqual([rebound]);
    for (const id of live) expect(asRecord(await h.store.get(id))?.user?.id).toBe(alice);
  });
});

describe('the user index on a Redis Cluster: reads while bindings are in flight', () => {
  let h: ReturnType<typeof clockedStore>;
  beforeEach(() => void (h = clockedStore('redis-cluster')));
  afterEach(() => h.store.close());

  const urls = places['redis-cluster'].options().redis?.url as string;

  /** The master serving a key's slot. */
  async function masterOf(cluster: Cluster, key: string): Promise<Redis> {
    const slot = Number(await cluster.call('CLUSTER', 'KEYSLOT', key));
    const [address] = cluster.slots[slot];
    return cluster.nodes('master').find((node) => `${node.options.host}:${node.options.port}` === address)!;
  }

  it('neither drops nor lists a binding whose session is not written yet; lists it once written', async () => {
    const alice = newUser('alice');
    const cluster = (await h.redis()) as Cluster;
    const [byExpiry] = h.index(alice);
    const live = newId();
    await h.store.apply(live, changes({ user: h.user(alice) }), h.at());
    h.advance(IN_FLIGHT + 1);
    // A session whose slot another master serves than the user's index.
    const indexMaster = await masterOf(cluster, byExpiry);
    let pending = newId();
    while ((await masterOf(cluster, h.prefix + pending)) === indexMaster) pending = newId();
    const sessionMaster = (await masterOf(cluster, h.prefix + pending)).duplicate();
    try {
      // Writes on the session's master wait (reads go on): the entry is reserved, the session not written.
      await sessionMaster.call('CLIENT', 'PAUSE', 10_000, 'WRITE');
      const binding = h.store.apply(pending, changes({ user: h.user(alice) }), h.at());
      for (let i = 0; (await cluster.zscore(byExpiry, pending)) === null; i++) {
        if (i > 1_000) throw new Error('the entry was never reserved');
      }
      // Read by another process (its own connections: this one's wait behind the paused write).
      const reader = new RedisStore({ url: urls, prefix: h.prefix }, { now: h.now });
      try {
        expect((await reader.listUser(alice)).map((s) => s.id)).toEqual([live]);
      } finally {
        await reader.close();
      }
      expect(await cluster.zscore(byExpiry, pending)).not.toBeNull();
      await sessionMaster.call('CLIENT', 'UNPAUSE');
      expect(await binding).toBe(true);
    } finally {
      await sessionMaster.call('CLIENT', 'UNPAUSE');
      sessionMaster.disconnect();
    }
    const listed = (await h.store.listUser(alice)).map((s) => s.id);
    expect(listed.sort()).toEqual([live, pending].sort());
  });

  it('after reads that race bindings, retirements and rebindings, lists exactly the live sessions', async () => {
    const [alice, bob] = [newUser('alice'), newUser('bob')];
    const cluster = (await h.redis()) as Cluster;
    const ids = Array.from({ length: 24 }, () => newId());
    const reads: Promise<unknown>[] = [];
    await Promise.all(
      ids.map(async (id, i) => {
        reads.push(h.store.listUser(alice));
        await h.store.apply(id, changes({ user: h.user(alice) }), h.at());
        reads.push(h.store.listUser(alice));
        if (i % 4 === 1) await h.store.retire(id, h.now() + LONG_TTL);
        if (i % 4 === 2) await h.store.apply(id, changes({ user: h.user(bob) }), h.at(LONG_TTL, false));
        if (i % 4 === 3) await h.store.apply(id, changes({ user: null }), h.at(LONG_TTL, false));
        reads.push(h.store.listUser(alice));
      }),
    );
    await Promise.all(reads);
    // What the sessions themselves say: bound to alice, live.
    const owners = await Promise.all(ids.map((id) => cluster.hget(h.prefix + id, 'm:i')));
    const truth = ids.filter((_, i) => owners[i] === userKey(alice)).sort();
    expect(truth).toEqual(ids.filter((_, i) => i % 4 === 0).sort());
    expect((await h.store.listUser(alice)).map((s) => s.id).sort()).toEqual(truth);
    expect((await cluster.zrange(h.index(alice)[0], 0, -1)).sort()).toEqual(truth);
    expect((await h.store.listUser(bob)).map((s) => s.id).sort()).toEqual(
      ids.filter((_, i) => i % 4 === 2).sort(),
    );
  });
});

describe('the user index on a single Redis: what a request costs', () => {
  it("leaves an anonymous session's request, and most signed-in ones: HGETALL, then one script on its one key", async () => {
    const h = clockedStore('redis');
    const redis = (await h.redis()) as Redis;
    const monitor = await redis.monitor();
    try {
      const seen: string[][] = [];
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        // What the app sent (not what its scripts ran, shown as from 'lua').
        if (source !== 'lua' && args.some((arg) => arg.startsWith(h.prefix))) seen.push(args);
      });
      /** The commands on this store's keys Redis ran since the last call (MONITOR shows them in order). */
      const ran = async () => {
        const marker = `${h.prefix}mark:${newId()}`;
        const shown = new Promise<void>((resolve) =>
          monitor.on('monitor', (_time: string, args: string[]) => args[1] === marker && resolve()),
        );
        await redis.exists(marker);
        await shown;
        const commands = seen.splice(0).filter((args) => args[1] !== marker);
        // EVALSHA sha numkeys keys...: the command and the keys it names.
        return commands.map(([command, , numkeys, ...rest]) =>
          command.toLowerCase() === 'evalsha'
            ? ['evalsha', ...rest.slice(0, Number(numkeys))].join(' ')
            : command.toLowerCase(),
        );
      };
      await h.store.apply(newId(), changes({ set: { warm: 1 } }), h.at()); // the scripts are loaded
      await ran();
      const id = newId();
      await h.store.get(id);
      await h.store.apply(id, changes({ set: { a: 1 } }), h.at());
      await h.store.get(id);
      await h.store.apply(id, changes({ set: { b: 2 } }), h.at(LONG_TTL, false));
      const key = h.prefix + id;
      expect(await ran()).toEqual(['hgetall', `evalsha ${key}`, 'hgetall', `evalsha ${key}`]);
      expect(await redis.keys(`${h.prefix}user:*`)).toEqual([]);

      // A signed-in session's request, its index entry ahead of its expiry: the same.
      const alice = newUser('alice');
      await h.store.apply(id, changes({ user: h.user(alice) }), h.at(LONG_TTL, false));
      await ran();
      await h.store.get(id);
      await h.store.apply(id, changes({ set: { c: 3 } }), h.at(LONG_TTL, false));
      expect(await ran()).toEqual(['hgetall', `evalsha ${key}`]);
      // Once its expiry passes the entry's score, the request names the user's index in the same script.
      h.advance(INDEX_HEADROOM + 1);
      await h.store.get(id);
      await h.store.apply(id, changes({ set: { c: 4 } }), h.at(LONG_TTL, false));
      const [byExpiry, bySignIn] = h.index(alice);
      expect(await ran()).toEqual(['hgetall', `evalsha ${key} ${byExpiry} ${bySignIn}`]);
    } finally {
      monitor.disconnect();
      await h.store.close();
    }
  });
});
