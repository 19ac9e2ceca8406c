import { afterAll, describe, expect, it } from '@jest/globals';
import type { SessionModuleOptions } from 'nest-session';
import { agent, cookiePair, createApp, http, platforms, setCookies } from '../support/app.js';
import { conformanceOf, testDriver } from '../support/drivers.js';
import { RecordingLogger } from '../support/logger.js';
import { SECRET } from '../support/session-app.js';
import { MapStore, SwitchableStore, extendModule } from '../support/stores.js';
import { usersApp } from '../support/users-app.js';
import { usersConformance } from '../support/users-conformance.js';

const cookie = testDriver('cookie');
afterAll(() => cookie.cleanup());

// The cookie driver made revocable: each user's revocation record in the memory driver's store.
usersConformance('cookie driver, revocation record in memory', {
  ...conformanceOf(cookie),
  options: () => ({ ...cookie.options(), users: { revocationStore: 'memory' } }),
});

/** A store that counts its reads. */
class CountingStore extends MapStore {
  reads = 0;
  override async get(id: string) {
    this.reads++;
    return super.get(id);
  }
}

/** The cookie driver with its records in `store`, registered as the 'records' driver. */
const recordsApp = (
  platform: 'express' | 'fastify',
  store: MapStore,
  logger: RecordingLogger | false = false,
) =>
  createApp(
    platform,
    usersApp({ driver: 'cookie', secret: SECRET, users: { revocationStore: 'records' } }, [
      extendModule('records', () => store),
    ]),
    logger,
  );

describe.each(platforms)('the cookie driver revocation record, on %s', (platform) => {
  it('reads the record once per signed-in request, never for an anonymous one', async () => {
    const store = new CountingStore();
    const app = await recordsApp(platform, store);
    try {
      const browser = agent(app);
      await browser.post('/users/set').send({ a: 1 }).expect(200);
      await browser.get('/users/me').expect(200);
      expect(store.reads).toBe(0);
      await browser.post('/users/sign-in/u1').expect(200);
      const afterSignIn = store.reads;
      for (let i = 0; i < 3; i++) await browser.get('/users/me').expect(200);
      expect(store.reads - afterSignIn).toBe(3);
      // A driver whose cookie does not verify reads nothing either.
      await http(app).get('/users/me').set('Cookie', 'nest_session=forged').expect(200);
      expect(store.reads - afterSignIn).toBe(3);
    } finally {
      await app.close();
    }
  });

  it('a revoked cookie is cleared, or replaced by the fresh session the request fills', async () => {
    const app = await recordsApp(platform, new MapStore());
    try {
      const [phone, laptop] = [agent(app), agent(app)];
      const signedIn = await phone.post('/users/sign-in/u2').expect(200);
      const pair = cookiePair(signedIn, 'nest_session')!;
      await laptop.post('/users/sign-in/u2').expect(200);
      await laptop.post(`/users/revoke/u2/${signedIn.body.handle}`).expect(200, { revoked: true });
      const cleared = await http(app).get('/users/me').set('Cookie', pair).expect(200);
      expect(cleared.body).toMatchObject({ userId: null, data: {} });
      expect(setCookies(cleared).some((c) => c.startsWith('nest_session=;'))).toBe(true);
      const filled = await http(app).post('/users/set').set('Cookie', pair).send({ b: 2 }).expect(200);
      const fresh = cookiePair(filled, 'nest_session')!;
      expect(fresh).not.toBe(pair);
      const me = await http(app).get('/users/me').set('Cookie', fresh).expect(200);
      expect(me.body).toMatchObject({ userId: null, data: { b: 2 } });
    } finally {
      await app.close();
    }
  });

  it('fails closed while the record store is down: 503 where the session is used, then recovers', async () => {
    const store = new SwitchableStore();
    const logger = new RecordingLogger();
    const app = await recordsApp(platform, store, logger);
    try {
      const laptop = agent(app);
      const signedIn = await laptop.post('/users/sign-in/u3').expect(200);
      store.up = false;
      const down = await laptop.get('/users/me').expect(503);
      expect(down.body.code).toBe('SESSION_STORE_UNAVAILABLE');
      expect(down.body.message).toMatch(/'records'/);
      expect(setCookies(down)).toEqual([]);
      // A route that does not use the session, and anonymous requests, do not need the record.
      await laptop.get('/users/untouched').expect(200, 'ok');
      await http(app)
        .get('/users/me')
        .expect(200)
        .expect((r) => expect(r.body.userId).toBe(null));
      // Nothing is signed in, listed or revoked while it is down.
      const refused = await agent(app).post('/users/sign-in/u3');
      expect(refused.status).toBe(503);
      expect(setCookies(refused)).toEqual([]);
      await http(app).get('/users/list/u3').expect(503);
      await http(app).post(`/users/revoke/u3/${signedIn.body.handle}`).expect(503);
      expect(logger.count('error', "The 'records' session store is unavailable")).toBe(1);
      store.up = true;
      await laptop
        .get('/users/me')
        .expect(200)
        .expect((r) => expect(r.body.userId).toBe('u3'));
      await http(app).get('/users/count/u3').expect(200, { count: 1 });
    } finally {
      await app.close();
    }
  });

  describe('start-up', () => {
    const start = (options: SessionModuleOptions) =>
      createApp(
        platform,
        usersApp({ secret: SECRET, ...options }, [extendModule('records', () => new MapStore())]),
      );

    it('refuses a configuration that cannot keep the record, naming the fix', async () => {
      await expect(start({ driver: 'cookie', users: {} })).rejects.toThrow(
        /^SESSION_USERS_UNSUPPORTED: the 'cookie' driver keeps sessions in cookies: name a server-side driver to keep its revocation record, forRoot\(\{ users: \{ revocationStore: 'redis' \} \}\)/,
      );
      const fix =
        /set users\.revocationStore to a server-side driver \('redis', 'database', 'memory', 'file'\) or to one registered with SessionManager\.extend\(\)/;
      for (const [revocationStore, why] of [
        ['mongo', /the 'cookie' driver cannot keep its revocation record in 'mongo', which names no driver/],
        ['cookie', /the 'cookie' driver cannot keep its revocation record in its own cookies/],
      ] as const) {
        const failed = start({ driver: 'cookie', users: { revocationStore } });
        await expect(failed).rejects.toThrow(why);
        await expect(failed).rejects.toThrow(fix);
        // Also where the cookie driver is not the default one.
        await expect(start({ driver: 'memory', users: { revocationStore } })).rejects.toThrow(why);
      }
    });

    it('takes any server-side driver, one registered with extend() included', async () => {
      const app = await start({ driver: 'cookie', users: { revocationStore: 'records' } });
      try {
        await agent(app).post('/users/sign-in/u4').expect(200);
        await http(app).get('/users/count/u4').expect(200, { count: 1 });
      } finally {
        await app.close();
      }
    });
  });
});
