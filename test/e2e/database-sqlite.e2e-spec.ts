import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionManager, type PrunableSessionStore } from 'nest-session';
import { DataSource } from 'typeorm';
import { cookiePair, createApp, http } from '../support/app.js';
import { sessionConformance } from '../support/conformance.js';
import { countRows, databaseCases, seedRows } from '../support/database-cases.js';
import { conformanceOf, testDriver } from '../support/drivers.js';
import { SECRET, sessionApp } from '../support/session-app.js';

const sqlite = testDriver('sqlite');
const db = sqlite.database;
afterAll(() => sqlite.cleanup());

sessionConformance('database driver on SQLite', conformanceOf(sqlite));

databaseCases(db);

describe('database driver on SQLite, by default', () => {
  const cwd = process.cwd();
  const dir = mkdtempSync(join(tmpdir(), 'nest-session-default-'));
  afterAll(() => {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  });

  it("forRoot('database') alone keeps sessions in ./sessions.sqlite, created on first use", async () => {
    process.chdir(dir);
    const app = await createApp('express', sessionApp({ driver: 'database', secret: SECRET }));
    try {
      expect(existsSync(join(dir, 'sessions.sqlite'))).toBe(false);
      const res = await http(app).post('/set').send({ a: 1 }).expect(200);
      expect(existsSync(join(dir, 'sessions.sqlite'))).toBe(true);
      const pair = cookiePair(res, 'nest_session')!;
      await http(app).get('/get/a').set('Cookie', pair).expect(200, { value: 1, has: true });
    } finally {
      await app.close();
      process.chdir(cwd);
    }
    const place = {
      dataSource: { type: 'better-sqlite3', database: join(dir, 'sessions.sqlite') },
      table: 'sessions',
    } as const;
    expect(await countRows(place)).toBe(1);
  });
});

describe('database driver on SQLite, pruning', () => {
  it('prunes 100 000 expired rows in batches while requests keep being answered', async () => {
    const place = db.fresh();
    // The app's own DataSource, which the rows are seeded through: one connection to the file.
    const dataSource = await new DataSource(place.dataSource).initialize();
    const app = await createApp(
      'express',
      sessionApp({
        driver: 'database',
        secret: SECRET,
        database: { dataSource, table: place.table, pruneInterval: 0 },
      }),
    );
    try {
      const res = await http(app).post('/set').send({ live: true }).expect(200);
      const pair = cookiePair(res, 'nest_session')!;
      await seedRows({ ...place, dataSource }, 100_000, Date.now() - 1000);

      const started = performance.now();
      let done = false;
      const store = app.get(SessionManager).store('database') as PrunableSessionStore;
      const pruning = store.prune().finally(() => (done = true));
      pruning.catch(() => undefined); // a failure fails the test below, not the process
      const latencies: number[] = [];
      while (!done) {
        const t = performance.now();
        await http(app).get('/get/live').set('Cookie', pair).expect(200, { value: true, has: true });
        latencies.push(performance.now() - t);
      }
      expect(await pruning).toBe(100_000);
      const took = performance.now() - started;
      expect(latencies.length).toBeGreaterThan(5);
      expect(Math.max(...latencies)).toBeLessThan(Math.max(250, took / 4));
      expect(await countRows({ ...place, dataSource })).toBe(1);
    } finally {
      await app.close();
      await dataSource.destroy();
    }
  }, 60_000);
});
