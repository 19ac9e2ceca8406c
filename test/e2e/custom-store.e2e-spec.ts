import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication, LoggerService } from '@nestjs/common';
import type { SessionStore } from 'nest-session';
import { agent, cookiePair, createApp, http, platforms, type Platform } from '../support/app.js';
import { sessionConformance } from '../support/conformance.js';
import { conformanceOf, testDriver } from '../support/drivers.js';
import { RecordingLogger } from '../support/logger.js';
import { Keyring } from '../../lib/crypto/keyring.js';
import { SECRET, barrier, gate, sessionApp } from '../support/session-app.js';
import { SessionManager } from 'nest-session';
import { HeldStore, MapStore, SwitchableStore, WholeRecordStore, extendModule } from '../support/stores.js';

const custom = testDriver('custom');
afterAll(() => custom.cleanup());

sessionConformance('a custom store registered with extend()', conformanceOf(custom));

/** An app on `platform` whose default driver is `store`, registered with extend() as `name`. */
function appWith(
  platform: Platform,
  name: string,
  store: () => SessionStore,
  logger: LoggerService | false = false,
): { app: INestApplication } {
  const ref = {} as { app: INestApplication };
  beforeAll(async () => {
    ref.app = await createApp(
      platform,
      sessionApp({ driver: name, secret: SECRET }, [extendModule(name, store)]),
      logger,
    );
  });
  afterAll(() => ref.app.close());
  return ref;
}

describe.each(platforms)('custom stores on %s', (platform) => {
  describe('a store that writes whole records instead of change sets', () => {
    const ref = appWith(platform, 'naive', () => new WholeRecordStore());

    it('loses keys under the overlapping-requests test, so the test proves what it claims', async () => {
      const first = await http(ref.app).post('/set').send({ warm: true }).expect(200);
      const pair = cookiePair(first, 'nest_session')!;
      barrier.reset(100);
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          http(ref.app).post(`/concurrent/k${i}`).set('Cookie', pair).expect(200),
        ),
      );
      const state = await http(ref.app).get('/state').set('Cookie', pair).expect(200);
      expect(Object.keys(state.body.data).length).toBeLessThan(101);
    });
  });

  describe('a store that goes down and comes back', () => {
    const store = new SwitchableStore();
    const ref = appWith(platform, 'flaky', () => store);

    it('answers 503 where the session is used, serves the rest, and recovers', async () => {
      store.up = true;
      const a = agent(ref.app);
      await a.post('/set').send({ userId: 1 }).expect(200);
      store.up = false;
      const down = await a.get('/state').expect(503);
      expect(down.body.message).toMatch(/SESSION_STORE_UNAVAILABLE.*'flaky'/);
      await a.get('/untouched').expect(200, 'ok');
      await a.post('/set').send({ lost: 1 }).expect(503);
      store.up = true;
      const back = await a.get('/state').expect(200);
      expect(back.body.data).toEqual({ userId: 1 });
    });

    it('answers 503 when the store fails at commit, rather than a success it never kept', async () => {
      store.up = true;
      const res = await http(ref.app).post('/set').send({ a: 1 }).expect(200);
      const pair = cookiePair(res, 'nest_session')!;
      barrier.reset(2);
      gate.reset(2);
      const pending = http(ref.app)
        .post('/gated/late')
        .set('Cookie', pair)
        .then((r) => r);
      await barrier.arrive(); // the handler has loaded the session
      store.up = false; // and the store goes down before its commit
      await gate.arrive();
      const failed = await pending;
      expect(failed.status).toBe(503);
      expect(failed.body.message).toMatch(/SESSION_STORE_UNAVAILABLE/);
      expect(failed.headers['set-cookie']).toBeUndefined();
      store.up = true;
      const state = await http(ref.app).get('/state').set('Cookie', pair).expect(200);
      expect(state.body.data).toEqual({ a: 1 });
    });
  });

  describe('a driver that cannot be built, reached through its cookie', () => {
    const logger = new RecordingLogger();
    const ref = appWith(platform, 'memory', () => new MapStore(), logger);
    // The memory default, plus 'broken', whose factory throws the first time a request brings its cookie.
    beforeAll(() => {
      ref.app.get(SessionManager).extend('broken', () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
      });
    });
    const cookie = `nest_session_broken=${new Keyring([SECRET]).sign('nest_session_broken', 'a'.repeat(43))}`;

    it('fails where that driver is used (503) and nowhere else', async () => {
      const a = agent(ref.app);
      await a.post('/set').send({ a: 1 }).expect(200);
      await a.get('/state').set('Cookie', cookie).expect(200);
      const res = await a.get('/driver/broken').set('Cookie', cookie).expect(503);
      expect(res.body.message).toMatch(/SESSION_STORE_UNAVAILABLE.*'broken'/);
      expect(JSON.stringify(res.body)).not.toContain('ECONNREFUSED');
      const state = await a.get('/state').expect(200);
      expect(state.body.data).toEqual({ a: 1 });
      // Without its cookie too: the route that asks for it gets the same clear 503.
      await a.get('/driver/broken').expect(503);
      // The cause is for the operator: logged once, not per request.
      expect(
        logger.count('error', "The 'broken' session driver could not be built: connect ECONNREFUSED"),
      ).toBe(1);
    });
  });

  describe('a slow store under a streamed response', () => {
    const store = new HeldStore();
    const ref = appWith(platform, 'slow', () => store);

    /** A StreamableFile response whose session write the store holds until `settle` decides. */
    async function streamWith(settle: (held: ReturnType<HeldStore['hold']>) => void) {
      const a = agent(ref.app);
      await a.post('/set').send({ a: 1 }).expect(200);
      const held = store.hold();
      const response = a
        .post('/flash-stream')
        .send({ note: 'x' })
        .then((r) => r);
      await held.applying;
      settle(held);
      return { a, res: await response };
    }

    it('sends the StreamableFile once the store has kept the session', async () => {
      const { a, res } = await streamWith((held) => held.release());
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('file body');
      await a.get('/get/streamed').expect(200, { value: true, has: true });
    });

    it('answers 503 instead of the file when the store write fails', async () => {
      const { a, res } = await streamWith((held) =>
        held.fail(new Error('connect ECONNREFUSED 127.0.0.1:5432')),
      );
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body.message).toMatch(/SESSION_STORE_UNAVAILABLE.*'slow'/);
      const state = await a.get('/state').expect(200);
      expect(state.body.data).toEqual({ a: 1 });
    });
  });
});
