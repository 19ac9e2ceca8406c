import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { setImmediate as turn } from 'node:timers/promises';
import { DatabaseStore } from '../../lib/stores/database/database.store.js';
import type { SessionChanges, SessionMeta, SessionRecord } from '../../lib/stores/session-store.js';
import { cookiePair, createApp, http, platforms } from '../support/app.js';
import { changes, meta } from '../support/fixtures.js';
import { sqliteDatabase, type TestPlace } from '../support/services.js';
import { SECRET, sessionApp } from '../support/session-app.js';
import { SqliteLocker } from '../support/sqlite-locker.js';
import { extendModule } from '../support/stores.js';
import { asRecord } from '../support/fixtures.js';

const db = sqliteDatabase();
afterAll(() => db.cleanup());

/** The database store, saying when a request has reached it. */
class ObservedStore extends DatabaseStore {
  reached: () => void = () => undefined;
  override get(id: string): Promise<SessionRecord | 'retired' | undefined> {
    this.reached();
    return super.get(id);
  }
  override apply(id: string, change: SessionChanges, at: SessionMeta): Promise<boolean> {
    this.reached();
    return super.apply(id, change, at);
  }
  /** Resolves when the next store call starts. */
  nextCall(): Promise<void> {
    return new Promise((resolve) => (this.reached = resolve));
  }
}

describe('database store on SQLite while another process holds the file', () => {
  let place: TestPlace;
  let locker: SqliteLocker;
  beforeEach(async () => {
    place = db.fresh();
    locker = await SqliteLocker.start(place.dataSource.database as string);
  });
  afterEach(() => locker.stop());

  it('waits for the lock without blocking the process, and goes on once it is released', async () => {
    const store = new DatabaseStore({ ...place, pruneInterval: 0 }, new Logger('Session'), {
      busyTimeout: 60_000,
    });
    await store.apply('a', changes({ set: { before: 1 } }), meta(Date.now()));
    await locker.lock();
    let settled = false;
    const write = store.apply('a', changes({ set: { during: 2 } }), meta(Date.now())).finally(() => {
      settled = true;
    });
    const read = store.get('a');
    // Turns of the event loop go by while both wait: they were refused and wait on a timer.
    for (let i = 0; i < 5; i++) await turn();
    expect(settled).toBe(false);
    await locker.release();
    await write;
    expect(asRecord(await read)?.data).toMatchObject({ before: 1 });
    expect(asRecord(await store.get('a'))?.data).toEqual({ before: 1, during: 2 });
    await store.close();
  }, 30_000);

  it('fails a call once busyTimeout has passed, and works again after', async () => {
    const store = new DatabaseStore({ ...place, pruneInterval: 0 }, new Logger('Session'), {
      busyTimeout: 50,
    });
    await store.apply('a', changes({ set: { x: 1 } }), meta(Date.now()));
    await locker.lock();
    await expect(store.get('a')).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    await expect(store.apply('a', changes({ set: { y: 1 } }), meta(Date.now()))).rejects.toMatchObject({
      code: 'SQLITE_BUSY',
    });
    await expect(store.destroy('a')).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    await expect(store.prune()).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    await locker.release();
    expect(asRecord(await store.get('a'))?.data).toEqual({ x: 1 });
    await store.close();
  }, 30_000);
});

describe.each(platforms)(
  'database driver on SQLite, %s, while another process holds the file',
  (platform) => {
    const BOUND = 1500;

    it('answers 503 to session routes within the bound, serves the others meanwhile, and recovers', async () => {
      const place = db.fresh();
      const locker = await SqliteLocker.start(place.dataSource.database as string);
      const store = new ObservedStore({ ...place, pruneInterval: 0 }, new Logger('Session'), {
        busyTimeout: BOUND,
      });
      const app = await createApp(
        platform,
        sessionApp({ driver: 'sqlite', secret: SECRET }, [extendModule('sqlite', () => store)]),
      );
      try {
        const signIn = await http(app).post('/set').send({ userId: 1 }).expect(200);
        const pair = cookiePair(signIn, 'nest_session')!;
        await locker.lock();

        // A session route reaches the store and waits on the lock...
        let answered = false;
        const started = performance.now();
        const reached = store.nextCall();
        const sessionRoute = http(app)
          .get('/get/userId')
          .set('Cookie', pair)
          .then((res) => ((answered = true), res));
        await reached;
        // ...while a route that does not touch the session is answered, with the lock still held.
        await http(app).get('/untouched').expect(200, 'ok');
        expect(answered).toBe(false);

        const res = await sessionRoute;
        const elapsed = performance.now() - started;
        expect(res.status).toBe(503);
        expect(res.body.message).toMatch(/^SESSION_STORE_UNAVAILABLE: the 'sqlite' session store/);
        // better-sqlite3's own wait would have held the whole process 5 s.
        expect(elapsed).toBeGreaterThanOrEqual(BOUND - 50);
        expect(elapsed).toBeLessThan(4500);
        // A write (no cookie: nothing to load) is refused the same way.
        await http(app).post('/set').send({ fresh: true }).expect(503);

        await locker.release();
        await http(app).get('/get/userId').set('Cookie', pair).expect(200, { value: 1, has: true });
        await http(app).post('/set').set('Cookie', pair).send({ after: true }).expect(200);
        await http(app).get('/get/after').set('Cookie', pair).expect(200, { value: true, has: true });
      } finally {
        await app.close();
        await locker.stop();
      }
    }, 30_000);
  },
);
