import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import type { SessionModuleOptions } from 'nest-session';
import { agent, createApp, platforms, setCookies } from '../support/app.js';
import { eventsApp, manualClock } from '../support/events-app.js';
import { SECRET } from '../support/session-app.js';
import { MapStore, extendModule } from '../support/stores.js';

const MINUTE = 60_000;

/** A store whose work is done at once, one that awaits (a custom store), and the sealed cookie. */
const drivers: Array<[string, Partial<SessionModuleOptions>, () => Array<ReturnType<typeof extendModule>>]> =
  [
    ['memory', { driver: 'memory' }, () => []],
    ['an async custom store', { driver: 'map' }, () => [extendModule('map', (o) => new MapStore(o.maxSize))]],
    ['cookie', { driver: 'cookie' }, () => []],
  ];

describe.each(platforms)('idle warnings on %s', (platform) => {
  describe.each(drivers)('on %s', (_label, options, imports) => {
    const clock = manualClock();
    let app: INestApplication;
    beforeAll(async () => {
      app = await createApp(
        platform,
        eventsApp(
          { secret: SECRET, clock: clock.now, idleTimeout: 10 * MINUTE, lifetime: 60 * MINUTE, ...options },
          imports(),
        ),
      );
    });
    afterAll(() => app.close());

    it('a @NoTouch() poll reads the time left and never extends the session: it ends on time', async () => {
      const browser = agent(app);
      await browser.post('/set').send({ a: 1 }).expect(200);
      for (const left of [6, 2]) {
        clock.advance(4 * MINUTE);
        const poll = await browser.get('/idle/left').expect(200);
        expect(poll.body).toEqual({
          idle: left * MINUTE,
          absolute: (60 - (10 - left)) * MINUTE,
          isNew: false,
        });
        expect(setCookies(poll)).toEqual([]);
      }
      clock.advance(2 * MINUTE + 1);
      const ended = await browser.get('/idle/left').expect(200);
      expect(ended.body).toEqual({ idle: 10 * MINUTE, absolute: 60 * MINUTE, isNew: true });
      expect(setCookies(ended)).toEqual([]);
      expect((await browser.get('/state').expect(200)).body.data).toEqual({});
    });

    it('the same poll without @NoTouch() extends the session each time', async () => {
      const browser = agent(app);
      await browser.post('/set').send({ a: 1 }).expect(200);
      for (let i = 0; i < 3; i++) {
        clock.advance(8 * MINUTE);
        const poll = await browser.get('/idle/left-touching').expect(200);
        expect(poll.body).toMatchObject({ idle: 2 * MINUTE, isNew: false });
      }
      expect((await browser.get('/state').expect(200)).body.data).toEqual({ a: 1 });
    });

    it('@NoTouch() on a controller covers its routes', async () => {
      const browser = agent(app);
      await browser.post('/set').send({ a: 1 }).expect(200);
      clock.advance(6 * MINUTE);
      expect((await browser.get('/quiet/left').expect(200)).body.idle).toBe(4 * MINUTE);
      clock.advance(3 * MINUTE);
      expect((await browser.get('/quiet/left').expect(200)).body.idle).toBe(MINUTE);
    });

    it('a poll keeps the flash it saw: the user has not seen it yet', async () => {
      const browser = agent(app);
      await browser.post('/flash-redirect').send({ success: 'Saved' }).expect(302);
      for (let i = 0; i < 2; i++)
        expect((await browser.get('/idle/flash').expect(200)).body).toEqual({ success: 'Saved' });
      expect((await browser.get('/state').expect(200)).body.flash).toEqual({ success: 'Saved' });
      expect((await browser.get('/state').expect(200)).body.flash).toEqual({});
    });

    it('a change made on a @NoTouch() route is kept, and its write counts as activity', async () => {
      const browser = agent(app);
      await browser.post('/set').send({ a: 1 }).expect(200);
      clock.advance(4 * MINUTE);
      await browser
        .post('/idle/note')
        .send({ note: 'draft' })
        .expect(200, {
          idle: 6 * MINUTE,
          absolute: 56 * MINUTE,
        });
      clock.advance(4 * MINUTE);
      expect((await browser.get('/idle/left').expect(200)).body.idle).toBe(6 * MINUTE);
      expect((await browser.get('/state').expect(200)).body.data).toEqual({ a: 1, note: 'draft' });
    });
  });
});
