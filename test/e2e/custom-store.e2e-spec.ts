import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { agent, cookiePair, createApp, http, platforms } from '../support/app.js';
import { sessionConformance } from '../support/conformance.js';
import { SECRET, barrier, gate, sessionApp } from '../support/session-app.js';
import { MapStore, SwitchableStore, WholeRecordStore, extendModule } from '../support/stores.js';

sessionConformance('a custom store registered with extend()', {
  options: { driver: 'custom', secret: SECRET },
  imports: () => [extendModule('custom', () => new MapStore())],
  serverSide: true,
});

describe.each(platforms)('custom stores on %s', (platform) => {
  describe('a store that writes whole records instead of change sets', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await createApp(
        platform,
        sessionApp({ driver: 'naive', secret: SECRET }, [
          extendModule('naive', () => new WholeRecordStore()),
        ]),
      );
    });
    afterAll(() => app.close());

    it('loses keys under the overlapping-requests test, so the test proves what it claims', async () => {
      const first = await http(app).post('/set').send({ warm: true }).expect(200);
      const pair = cookiePair(first, 'nest_session')!;
      barrier.reset(100);
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          http(app).post(`/concurrent/k${i}`).set('Cookie', pair).expect(200),
        ),
      );
      const state = await http(app).get('/state').set('Cookie', pair).expect(200);
      expect(Object.keys(state.body.data).length).toBeLessThan(101);
    });
  });

  describe('a store that goes down and comes back', () => {
    const store = new SwitchableStore();
    let app: INestApplication;
    beforeAll(async () => {
      app = await createApp(
        platform,
        sessionApp({ driver: 'flaky', secret: SECRET }, [extendModule('flaky', () => store)]),
      );
    });
    afterAll(() => app.close());

    it('answers 503 where the session is used, serves the rest, and recovers', async () => {
      store.up = true;
      const a = agent(app);
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
      const res = await http(app).post('/set').send({ a: 1 }).expect(200);
      const pair = cookiePair(res, 'nest_session')!;
      barrier.reset(2);
      gate.reset(2);
      const pending = http(app)
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
      const state = await http(app).get('/state').set('Cookie', pair).expect(200);
      expect(state.body.data).toEqual({ a: 1 });
    });
  });
});
