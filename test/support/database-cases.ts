import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { Controller, Get, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { existsSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { Session, SessionManager, SessionModule } from 'nest-session';
import { DatabaseStore } from '../../lib/stores/database/database.store.js';
import { cookiePair, createApp, http, platforms } from './app.js';
import { asRecord, changes, meta } from './fixtures.js';
import type { TestDatabase, TestPlace } from './services.js';
import { FeatureModule, SECRET, sessionApp } from './session-app.js';

const change = changes;

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A handler that holds the request between loading the session and committing it, until released. */
const hold = { loaded: deferred(), release: deferred() };

@Controller('race')
class RaceController {
  constructor(private readonly session: Session) {}

  @Get('hold')
  async hold() {
    const seen = this.session.flashes();
    hold.loaded.resolve();
    await hold.release.promise;
    return seen;
  }
}

@Module({ controllers: [RaceController] })
class RaceModule {}

/** A place, or the same table through a DataSource the caller opened (and closes). */
type TestPlaceOrOpen = TestPlace | { dataSource: DataSource; table: string };

const opened = new WeakSet<DataSource>();

/** The place's DataSource: the caller's own, or one opened here (closed by done()). */
async function open(place: TestPlaceOrOpen): Promise<DataSource> {
  if (place.dataSource instanceof DataSource) return place.dataSource;
  const dataSource = await new DataSource(place.dataSource).initialize();
  opened.add(dataSource);
  return dataSource;
}

async function done(dataSource: DataSource): Promise<void> {
  if (opened.has(dataSource)) await dataSource.destroy();
}

/** Writes `count` rows straight into the table (expired when `expiresAt` is in the past), in a few statements. */
export async function seedRows(place: TestPlaceOrOpen, count: number, expiresAt: number): Promise<void> {
  const dataSource = await open(place);
  const postgres = dataSource.options.type === 'postgres';
  try {
    await dataSource.transaction(async (manager) => {
      for (let start = 0; start < count; start += 500) {
        const size = Math.min(500, count - start);
        const params: unknown[] = [];
        const rows = Array.from({ length: size }, (_, i) => {
          params.push(
            `seed-${start + i}`,
            '{"data":{"n":1},"flash":{}}',
            expiresAt,
            expiresAt - 1000,
            expiresAt - 2000,
          );
          const at = (k: number) => (postgres ? `$${params.length - 4 + k}` : '?');
          return `(${at(0)}, ${at(1)}, ${at(2)}, ${at(3)}, ${at(4)})`;
        });
        await manager.query(
          `INSERT INTO ${place.table} (id, payload, expires_at, last_activity, created_at) VALUES ${rows.join(', ')}`,
          params,
        );
      }
    });
  } finally {
    await done(dataSource);
  }
}

/** How many rows the table holds; undefined when it does not exist. */
export async function countRows(place: TestPlaceOrOpen): Promise<number | undefined> {
  const dataSource = await open(place);
  try {
    const [row] = await dataSource.query(`SELECT COUNT(*) AS n FROM ${place.table}`);
    return Number(row.n);
  } catch {
    return undefined;
  } finally {
    await done(dataSource);
  }
}

/** The database driver's own cases, beyond the conformance suite, on one engine. */
export function databaseCases(db: TestDatabase): void {
  afterAll(() => db.cleanup());

  describe(`database store on ${db.name}`, () => {
    it('touches nothing when constructed, and creates its table (under the name given) on first use', async () => {
      const place = db.fresh();
      const store = new DatabaseStore({ ...place, pruneInterval: 0 });
      if (db.name === 'sqlite') expect(existsSync(place.dataSource.database as string)).toBe(false);
      else expect(await countRows(place)).toBeUndefined();
      expect(asRecord(await store.get('missing'))).toBeUndefined();
      expect(await countRows(place)).toBe(0);
      await store.apply('a', change({ set: { x: 1 } }), meta(Date.now()));
      expect(await countRows(place)).toBe(1);
      await store.close();
    });

    it('prunes only expired rows, in batches, and says how many went', async () => {
      const place = db.fresh();
      const store = new DatabaseStore({ ...place, pruneInterval: 0 });
      await store.apply('live', change({ set: { a: 1 } }), meta(Date.now()));
      await seedRows(place, 2500, Date.now() - 1000);
      expect(await store.prune()).toBe(2500);
      expect(await countRows(place)).toBe(1);
      expect(asRecord(await store.get('live'))?.data).toEqual({ a: 1 });
      await store.close();
    });

    it('sweeps expired rows every pruneInterval on a timer that does not keep the process alive', async () => {
      const place = db.fresh();
      const creator = new DatabaseStore({ ...place, pruneInterval: 0 });
      asRecord(await creator.get('create the table'));
      await creator.close();
      await seedRows(place, 3, Date.now() - 1000);
      const store = new DatabaseStore({ ...place, pruneInterval: 20 });
      const run = store.sweeper.run.bind(store.sweeper);
      const swept = new Promise<number>((resolve) => {
        jest.spyOn(store.sweeper, 'run').mockImplementation(() => run().then((n) => (resolve(n), n)));
      });
      asRecord(await store.get('first use starts the timer'));
      expect(store.sweeper.scheduled).toBe(true);
      expect(store.sweeper.keepsProcessAlive).toBe(false);
      expect(await swept).toBe(3);
      await store.close();
      expect(await countRows(place)).toBe(0);
    });
  });

  describe.each(platforms)(`database driver on ${db.name}, %s`, (platform) => {
    const options = (place: TestPlace) => ({ driver: 'database', secret: SECRET, database: place });

    it('keeps a flash written by a concurrent request when another clears the one it saw', async () => {
      const app = await createApp(platform, sessionApp(options(db.fresh()), [{ module: RaceModule }]));
      try {
        const first = await http(app).post('/flash-redirect').send({ msg: 'old' }).expect(302);
        const pair = cookiePair(first, 'nest_session')!;
        hold.loaded = deferred();
        hold.release = deferred();
        const held = http(app)
          .get('/race/hold')
          .set('Cookie', pair)
          .then((res) => res);
        await hold.loaded.promise;
        await http(app).post('/flash-redirect').set('Cookie', pair).send({ msg: 'new' }).expect(302);
        hold.release.resolve();
        const cleared = await held;
        expect(cleared.status).toBe(200);
        expect(cleared.body).toEqual({ msg: 'old' });
        await http(app).get('/poll').set('Cookie', pair).expect(200, { msg: 'new' });
      } finally {
        await app.close();
      }
    });

    it('keeps a session written before app.close() for the next app on the same database', async () => {
      const place = db.fresh();
      const before = await createApp(platform, sessionApp(options(place)));
      const res = await http(before).post('/set').send({ userId: 7 }).expect(200);
      await http(before)
        .post('/flash-redirect')
        .set('Cookie', cookiePair(res, 'nest_session')!)
        .send({ hi: 1 });
      await before.close();
      const after = await createApp(platform, sessionApp(options(place)));
      try {
        const state = await http(after)
          .get('/state')
          .set('Cookie', cookiePair(res, 'nest_session')!)
          .expect(200);
        expect(state.body).toMatchObject({ isNew: false, data: { userId: 7 }, flash: { hi: 1 } });
      } finally {
        await after.close();
      }
    });

    it("works on the app's own DataSource from TypeOrmModule (forRootAsync + inject)", async () => {
      const place = db.fresh();
      @Module({
        imports: [
          TypeOrmModule.forRoot(place.dataSource),
          SessionModule.forRootAsync({
            inject: [DataSource],
            useFactory: (dataSource: DataSource) => ({
              driver: 'database',
              secret: SECRET,
              database: { dataSource, table: place.table },
            }),
          }),
          FeatureModule,
        ],
      })
      class TypeOrmApp {}
      const app = await createApp(platform, TypeOrmApp);
      try {
        const res = await http(app).post('/set').send({ via: 'typeorm' }).expect(200);
        const pair = cookiePair(res, 'nest_session')!;
        await http(app).get('/get/via').set('Cookie', pair).expect(200, { value: 'typeorm', has: true });
        expect(await countRows(place)).toBe(1);
      } finally {
        await app.close();
      }
    });

    it('never closes a DataSource it was given, and closes the one it opened on shutdown', async () => {
      const place = db.fresh();
      const given = await new DataSource(place.dataSource).initialize();
      const withGiven = await createApp(
        platform,
        sessionApp({ ...options(place), database: { dataSource: given, table: place.table } }),
      );
      await http(withGiven).post('/set').send({ a: 1 }).expect(200);
      await withGiven.close();
      expect(given.isInitialized).toBe(true);
      await given.destroy();

      const app = await createApp(platform, sessionApp(options(place)));
      await http(app).post('/set').send({ a: 1 }).expect(200);
      const store = app.get(SessionManager).store('database') as unknown as { opened?: DataSource };
      const opened = store.opened!;
      expect(opened.isInitialized).toBe(true);
      await app.close();
      expect(opened.isInitialized).toBe(false);
    });
  });
}
