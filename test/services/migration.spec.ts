import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { fromExpressSessionStore, type SessionModuleOptions } from 'nest-session';
import { createClient } from 'redis';
import { ExpressSessionStoreAdapter } from '../../lib/stores/express-session.adapter.js';
import { cookiePair, http, platforms } from '../support/app.js';
import {
  connectPgSimple,
  connectRedis,
  expressMysqlSession,
  type ServerStore,
  type ServerStoreKind,
} from '../support/express-session-servers.js';
import { awaitingInstall, callback } from '../support/express-session-stores.js';
import { asRecord, changes, meta } from '../support/fixtures.js';
import { clears, migratedApp, profilePath } from '../support/migration.js';
import { expressSessionApp, signInOld } from '../support/old-apps.js';
import { serverDatabase, serviceUrl, type ServerDatabase } from '../support/services.js';
import { extendModule } from '../support/stores.js';

const OLD_SECRET = 'keyboard cat';
const HOUR = 3_600_000;
const run = `${process.pid}_${randomBytes(3).toString('hex')}`;
const newId = () => randomBytes(32).toString('base64url');
/** The session id an express-session cookie pair carries. */
const oldId = (pair: string) => decodeURIComponent(pair.split('=')[1]).slice(2).split('.')[0];

/** A server, the express-session store apps run on it, and nest-session's own driver for it. */
interface Backend {
  name: string;
  old: ServerStoreKind;
  /** forRoot options of the built-in driver on the same server. */
  nest(): SessionModuleOptions;
  cleanup(): Promise<void>;
}

function redis(): Backend {
  const url = () => serviceUrl('NEST_SESSION_REDIS_URL');
  const prefix = `nest-migration:${run}:`;
  return {
    name: `${connectRedis.name}, into the redis driver`,
    old: connectRedis,
    nest: () => ({ driver: 'redis', redis: { url: url(), prefix } }),
    cleanup: async () => {
      const client = createClient({ url: url() });
      await client.connect();
      const keys = await client.keys(`${prefix}*`);
      if (keys.length > 0) await client.del(keys);
      await client.close();
    },
  };
}

function database(name: 'postgres' | 'mariadb', old: ServerStoreKind): Backend {
  let db: ServerDatabase | undefined;
  return {
    name: `${old.name}, into the database driver`,
    old,
    nest: () => ({ driver: 'database', database: (db ??= serverDatabase(name)).fresh() }),
    cleanup: async () => db?.cleanup(),
  };
}

/** Where the moved sessions go: the server's built-in driver, or the old store itself through the adapter. */
const targets = ['the built-in driver', 'the old store, through fromExpressSessionStore()'] as const;

const backends = [redis(), database('postgres', connectPgSimple), database('mariadb', expressMysqlSession)];

describe.each(backends)('$name', (backend) => {
  if (awaitingInstall(backend.old.pkg)) {
    it.todo(`runs once ${backend.old.pkg} is a devDependency`);
    return;
  }
  let old: ServerStore;
  beforeAll(async () => {
    old = await backend.old.open();
  });
  afterAll(async () => {
    await old.cleanup();
    await backend.cleanup();
  });

  describe.each(platforms.flatMap((p) => targets.map((t) => [p, t] as const)))(
    'passport users move on %s into %s',
    (platform, target) => {
      let app: INestApplication;
      beforeAll(async () => {
        const through = target !== 'the built-in driver';
        const migrateFrom = { expressSession: { secret: OLD_SECRET, store: old.store } };
        app = await migratedApp(
          platform,
          through ? { driver: 'old-store', migrateFrom } : { ...backend.nest(), migrateFrom },
          through ? [extendModule('old-store', fromExpressSessionStore(old.store))] : [],
        );
      });
      afterAll(() => app.close());

      it('signs nobody out: passport sees them, the data moves, the old records are gone', async () => {
        const before = expressSessionApp({ store: old.store, secret: OLD_SECRET });
        const users = [
          { pair: await signInOld(before, 'ada', 'lovelace'), user: { id: 1, username: 'ada' } },
          { pair: await signInOld(before, 'alan', 'turing'), user: { id: 2, username: 'alan' } },
        ];
        for (const { pair, user } of users) {
          expect(await old.expiry(oldId(pair))).toBeGreaterThan(Date.now());
          const res = await http(app).get(profilePath(platform)).set('Cookie', pair).expect(200);
          expect(res.body.user).toEqual(user);
          expect(clears(res, 'connect.sid')).toBe(true);
          expect(await callback((cb) => old.store.get(oldId(pair), cb))).toBeFalsy();
          expect(await old.expiry(oldId(pair))).toBeUndefined();
          const moved = cookiePair(res, 'nest_session')!;
          await http(app).get(profilePath(platform)).set('Cookie', moved).expect(200);
          await http(app)
            .get('/session')
            .set('Cookie', moved)
            .expect(200, { passport: { user: user.id }, cart: ['book'] });
        }
      });
    },
  );

  it("the adapter's records and tombstones expire on the server when their session does", async () => {
    const adapter = new ExpressSessionStoreAdapter(old.store, { maxSize: 4096 });
    const id = newId();
    await adapter.apply(id, changes({ set: { a: 1 } }), meta(Date.now(), HOUR));
    // The servers keep seconds.
    expect(Math.abs((await old.expiry(id))! - (Date.now() + HOUR))).toBeLessThan(3_000);
    expect(asRecord(await adapter.get(id))?.data).toEqual({ a: 1 });
    await adapter.retire(id, Date.now() + 60_000);
    expect(Math.abs((await old.expiry(id))! - (Date.now() + 60_000))).toBeLessThan(3_000);
    expect(await adapter.get(id)).toBe('retired');
    await adapter.destroy(id);
    expect(await old.expiry(id)).toBeUndefined();
  });

  it('keeps every key of 50 overlapping change sets in one process', async () => {
    const adapter = new ExpressSessionStoreAdapter(old.store);
    const id = newId();
    await adapter.apply(id, changes({ set: { warm: true } }), meta(Date.now(), HOUR));
    const applied = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        adapter.apply(id, changes({ set: { [`k${i}`]: i } }), { ...meta(Date.now(), HOUR), create: false }),
      ),
    );
    expect(applied.every(Boolean)).toBe(true);
    expect(Object.keys(asRecord(await adapter.get(id))!.data)).toHaveLength(51);
    await adapter.destroy(id);
  });
});
