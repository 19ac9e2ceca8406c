import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import type { SessionModuleOptions } from 'nest-session';
import { agent, cookiePair, createApp, http, platforms } from '../support/app.js';
import { EventRecorder, eventsApp, manualClock } from '../support/events-app.js';
import { SECRET, hold } from '../support/session-app.js';
import { HeldStore, MapStore, SwitchableStore, extendModule } from '../support/stores.js';

const MINUTE = 60_000;
const DATA = 'private-value-5c1e';

let users = 0;
const newUser = (what: string) => `${what}-${process.pid}-${++users}`;

/** The sync store (memory: the commit's work is done at once) and an async one (a custom store). */
const drivers: Array<
  [string, () => Partial<SessionModuleOptions>, () => Array<ReturnType<typeof extendModule>>]
> = [
  ['memory', () => ({ driver: 'memory' }), () => []],
  [
    'an async custom store',
    () => ({ driver: 'map' }),
    () => [extendModule('map', (options) => new MapStore(options.maxSize))],
  ],
];

describe.each(platforms)('session events on %s', (platform) => {
  describe.each(drivers)('on %s', (_label, options, imports) => {
    const clock = manualClock();
    let app: INestApplication;
    let recorder: EventRecorder;
    beforeAll(async () => {
      app = await createApp(
        platform,
        eventsApp({ secret: SECRET, clock: clock.now, maxSize: 4096, ...options() }, imports()),
      );
      recorder = app.get(EventRecorder);
    });
    afterAll(() => app.close());
    beforeEach(() => recorder.clear());
    afterEach(() => hold.reset());

    it('created, regenerated, signedIn, signedOut, destroyed: once each, after the commit, with handle, user, driver, time', async () => {
      const driver = options().driver;
      const browser = agent(app);
      clock.advance(MINUTE);
      await browser.post('/set').send({ note: DATA }).expect(200);
      const first = (await browser.get('/users/me').expect(200)).body.handle as string;
      const createdAt = clock.now();
      expect(recorder.events).toEqual([
        { name: 'created', driver, handle: first, userId: undefined, time: createdAt },
      ]);

      clock.advance(MINUTE);
      const user = newUser('life');
      const signedIn = await browser.post(`/users/sign-in/${user}`).expect(200);
      const second = signedIn.body.handle as string;
      clock.advance(MINUTE);
      const third = (await browser.post('/users/regenerate').expect(200)).body.handle as string;
      const { id } = (await browser.get('/state').expect(200)).body as { id: string };
      clock.advance(MINUTE);
      await browser.post('/users/sign-out').expect(200);

      const t = createdAt;
      expect(recorder.events).toEqual([
        { name: 'created', driver, handle: first, userId: undefined, time: t },
        {
          name: 'regenerated',
          driver,
          handle: second,
          previousHandle: first,
          userId: user,
          time: t + MINUTE,
        },
        { name: 'signedIn', driver, handle: second, userId: user, policy: undefined, time: t + MINUTE },
        {
          name: 'regenerated',
          driver,
          handle: third,
          previousHandle: second,
          userId: user,
          time: t + 2 * MINUTE,
        },
        { name: 'destroyed', driver, handle: third, userId: user, time: t + 3 * MINUTE },
        { name: 'signedOut', driver, handle: third, userId: user, time: t + 3 * MINUTE },
      ]);
      // A handle, never the id; none of the data.
      const told = JSON.stringify(recorder.events);
      expect(told).not.toContain(id);
      expect(told).not.toContain(DATA);
    });

    it('a request that changes nothing reports nothing; a sign-in on a new session is created, then signedIn', async () => {
      const browser = agent(app);
      await browser.get('/state').expect(200);
      await browser.get('/untouched').expect(200);
      expect(recorder.events).toEqual([]);
      const user = newUser('fresh');
      const res = await browser.post(`/users/sign-in/${user}`).expect(200);
      expect(recorder.names()).toEqual(['created', 'signedIn']);
      expect(recorder.of('signedIn')[0]).toMatchObject({ handle: res.body.handle, userId: user });
    });

    it('a 409 reports conflict, never the regenerate it refused', async () => {
      const first = await http(app).post('/set').send({ a: 1 }).expect(200);
      const cookie = cookiePair(first, 'nest_session')!;
      const handle = (await http(app).get('/users/me').set('Cookie', cookie).expect(200)).body.handle;
      recorder.clear();
      const held = http(app)
        .post('/held/regenerate')
        .set('Cookie', cookie)
        .then((r) => r);
      await hold.held(1);
      await http(app).post('/regenerate').set('Cookie', cookie).expect(200);
      hold.release(['regenerate']);
      expect((await held).status).toBe(409);
      expect(recorder.names()).toEqual(['regenerated', 'conflict']);
      expect(recorder.of('regenerated')[0].previousHandle).toBe(handle);
      expect(recorder.of('conflict')[0]).toMatchObject({ handle, driver: options().driver });
    });

    it('a session too large reports tooLarge and nothing it would have done', async () => {
      const browser = agent(app);
      await browser.post('/set').send({ a: 1 }).expect(200);
      const handle = (await browser.get('/users/me').expect(200)).body.handle;
      recorder.clear();
      expect((await browser.post('/regenerate-big?bytes=8000')).status).toBe(500);
      expect(recorder.events).toEqual([
        { name: 'tooLarge', driver: options().driver, handle, userId: undefined, time: clock.now() },
      ]);
      const fresh = await http(app).post('/big/x?bytes=8000');
      expect(fresh.status).toBe(500);
      expect(recorder.names()).toEqual(['tooLarge', 'tooLarge']);
      expect(recorder.of('tooLarge')[1].handle).toBeUndefined();
    });
  });

  describe('after the store work the response waits for', () => {
    const store = new HeldStore();
    let app: INestApplication;
    beforeAll(async () => {
      app = await createApp(
        platform,
        eventsApp({ driver: 'held', secret: SECRET }, [extendModule('held', () => store)]),
      );
    });
    afterAll(() => app.close());

    it('reports created once the store has kept it, and nothing of a write that failed', async () => {
      const recorder = app.get(EventRecorder);
      const write = store.hold();
      const kept = http(app)
        .post('/set')
        .send({ a: 1 })
        .then((r) => r);
      await write.applying;
      expect(recorder.events).toEqual([]);
      write.release();
      expect((await kept).status).toBe(200);
      expect(recorder.names()).toEqual(['created']);
      recorder.clear();
      const failing = store.hold();
      const refused = http(app)
        .post('/set')
        .send({ b: 2 })
        .then((r) => r);
      await failing.applying;
      failing.fail(new Error('connection reset'));
      expect((await refused).status).toBe(503);
      expect(recorder.names()).toEqual(['store.down']);
    });
  });

  describe('revocations and expiry (memory)', () => {
    const clock = manualClock();
    let app: INestApplication;
    let limited: INestApplication;
    beforeAll(async () => {
      app = await createApp(
        platform,
        eventsApp({ secret: SECRET, clock: clock.now, idleTimeout: 10 * MINUTE }),
      );
      limited = await createApp(
        platform,
        eventsApp({ secret: SECRET, clock: clock.now, users: { maxPerUser: 1 } }),
      );
    });
    afterAll(async () => {
      await app.close();
      await limited.close();
    });

    it("revoked: by 'user' from the user's own session, by 'admin' from elsewhere", async () => {
      const recorder = app.get(EventRecorder);
      const user = newUser('rev');
      const [a, b, c] = [agent(app), agent(app), agent(app)];
      const handles: string[] = [];
      for (const d of [a, b, c])
        handles.push((await d.post(`/users/sign-in/${user}`).expect(200)).body.handle);
      recorder.clear();
      await b.post('/users/revoke-others').expect(200, { revoked: 2 });
      const byUser = recorder.of('revoked');
      expect(byUser.map((e) => e.handle).sort()).toEqual([handles[0], handles[2]].sort());
      for (const event of byUser) {
        expect(event).toEqual({
          name: 'revoked',
          driver: 'memory',
          handle: event.handle,
          userId: user,
          by: 'user',
          time: clock.now(),
        });
      }
      recorder.clear();
      await http(app).post(`/users/revoke-all/${user}`).expect(200, { revoked: 1 });
      expect(recorder.events).toEqual([
        {
          name: 'revoked',
          driver: 'memory',
          handle: handles[1],
          userId: user,
          by: 'admin',
          time: clock.now(),
        },
      ]);
      // revoke(userId, handle) from the user's own session: the user's doing.
      const [d, e] = [agent(app), agent(app)];
      await d.post(`/users/sign-in/${user}`).expect(200);
      const other = (await e.post(`/users/sign-in/${user}`).expect(200)).body.handle;
      recorder.clear();
      await d.post(`/users/revoke/${user}/${other}`).expect(200, { revoked: true });
      expect(recorder.events).toMatchObject([{ name: 'revoked', handle: other, by: 'user' }]);
    });

    it("revoked: by 'limit', when a sign-in past users.maxPerUser signs the earliest out", async () => {
      const recorder = limited.get(EventRecorder);
      const user = newUser('limit');
      const first = (await agent(limited).post(`/users/sign-in/${user}`).expect(200)).body.handle;
      recorder.clear();
      const second = (await agent(limited).post(`/users/sign-in/${user}`).expect(200)).body.handle;
      expect(recorder.names()).toEqual(['created', 'signedIn', 'revoked']);
      expect(recorder.of('revoked')[0]).toEqual({
        name: 'revoked',
        driver: 'memory',
        handle: first,
        userId: user,
        by: 'limit',
        time: clock.now(),
      });
      expect(recorder.of('signedIn')[0].handle).toBe(second);
    });

    it('expired, seen by a prune: one event with the count it dropped', async () => {
      const recorder = app.get(EventRecorder);
      for (let i = 0; i < 3; i++) await http(app).post('/set').send({ i }).expect(200);
      clock.advance(11 * MINUTE);
      recorder.clear();
      const { pruned } = (await http(app).post('/admin/prune').expect(200)).body as { pruned: number };
      expect(pruned).toBeGreaterThanOrEqual(3);
      expect(recorder.events).toEqual([
        {
          name: 'expired',
          driver: 'memory',
          handle: undefined,
          userId: undefined,
          seenBy: 'prune',
          reason: undefined,
          count: pruned,
          time: clock.now(),
        },
      ]);
      // Nothing left to drop: no event.
      await http(app).post('/admin/prune').expect(200, { pruned: 0 });
      expect(recorder.events).toHaveLength(1);
    });
  });

  // Stores that keep a record past its end (a custom store, file, database) and the cookie driver;
  // the memory store and Redis drop it themselves, so a request finds nothing to report.
  describe.each([
    ['the cookie driver', 'cookie', () => []],
    ['an async custom store', 'map', () => [extendModule('map', (o) => new MapStore(o.maxSize))]],
  ])('expired, seen by a request (%s)', (_label, driver, imports) => {
    const clock = manualClock();
    let app: INestApplication;
    beforeAll(async () => {
      app = await createApp(
        platform,
        eventsApp(
          { driver, secret: SECRET, clock: clock.now, idleTimeout: 10 * MINUTE, lifetime: 25 * MINUTE },
          imports(),
        ),
      );
    });
    afterAll(() => app.close());

    it("'idle': the idle window closed first", async () => {
      const recorder = app.get(EventRecorder);
      const browser = agent(app);
      const user = newUser('idle');
      const handle = (await browser.post(`/users/sign-in/${user}`).expect(200)).body.handle;
      clock.advance(10 * MINUTE + 1);
      recorder.clear();
      const after = await browser.get('/users/me').expect(200);
      expect(after.body.userId).toBeNull();
      expect(recorder.events).toEqual([
        {
          name: 'expired',
          driver,
          handle,
          userId: user,
          seenBy: 'request',
          reason: 'idle',
          count: 1,
          time: clock.now(),
        },
      ]);
    });

    it("'lifetime': used every few minutes, it still ends with its lifetime", async () => {
      const recorder = app.get(EventRecorder);
      const browser = agent(app);
      await browser.post('/set').send({ a: 1 }).expect(200);
      const handle = (await browser.get('/users/me').expect(200)).body.handle;
      for (let i = 0; i < 3; i++) {
        clock.advance(8 * MINUTE);
        await browser.get('/state').expect(200); // extends its idle window
      }
      clock.advance(2 * MINUTE);
      recorder.clear();
      await browser.get('/state').expect(200);
      expect(recorder.events).toMatchObject([
        { name: 'expired', handle, reason: 'lifetime', seenBy: 'request' },
      ]);
    });
  });

  describe('store.down and store.up', () => {
    const clock = manualClock();
    const store = new SwitchableStore();
    let app: INestApplication;
    beforeAll(async () => {
      app = await createApp(
        platform,
        eventsApp({ driver: 'switch', secret: SECRET, clock: clock.now }, [
          extendModule('switch', () => store),
        ]),
      );
    });
    afterAll(() => app.close());

    it('a 503 reports store.down once per outage, and nothing it would have done; store.up once it answers again', async () => {
      const recorder = app.get(EventRecorder);
      const browser = agent(app);
      await browser.post('/set').send({ a: 1 }).expect(200);
      recorder.clear();
      store.up = false;
      await browser.post('/set').send({ b: 2 }).expect(503);
      await http(app).post('/set').send({ c: 3 }).expect(503);
      expect(recorder.events).toEqual([
        { name: 'store.down', driver: 'switch', handle: undefined, userId: undefined, time: clock.now() },
      ]);
      store.up = true;
      await browser.post('/set').send({ d: 4 }).expect(200);
      expect(recorder.names()).toEqual(['store.down']);
      clock.advance(5_000);
      await browser.post('/set').send({ e: 5 }).expect(200);
      expect(recorder.events).toEqual([
        {
          name: 'store.down',
          driver: 'switch',
          handle: undefined,
          userId: undefined,
          time: clock.now() - 5_000,
        },
        { name: 'store.up', driver: 'switch', handle: undefined, userId: undefined, time: clock.now() },
      ]);
    });
  });
});
