import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { DataSource, type QueryRunner } from 'typeorm';
import { DatabaseStore } from '../../lib/stores/database/database.store.js';
import { seedSessions, idsIn } from '../support/seed-sessions.js';
import { serverDatabase, type TestPlace } from '../support/services.js';

const databases = [serverDatabase('mariadb'), serverDatabase('postgres')];
afterAll(() => Promise.all(databases.map((db) => db.cleanup())));

/**
 * A table made by the store with `expired` expired rows and 3000 live ones (named by `name`, from
 * other positions than the expired ones'); resolves to the live ids.
 */
async function backlog(place: TestPlace, expired: number, name?: (i: number) => string): Promise<string[]> {
  const creator = new DatabaseStore({ ...place, pruneInterval: 0 });
  await creator.get('creates the table');
  await creator.close();
  const now = Date.now();
  await seedSessions(place, 'expired', expired, now - 1000, name);
  return seedSessions(place, 'live', 3000, now + 3_600_000, name && ((i) => name(i + 7)));
}

describe.each(databases)('pruning a backlog on $name', (db) => {
  it('with two stores at once: every expired row goes, once, and no live row does', async () => {
    const place = db.fresh();
    const live = await backlog(place, 50_000);

    const stores = [0, 1].map(() => new DatabaseStore({ ...place, pruneInterval: 0 }));
    await Promise.all(stores.map((store) => store.get('warm')));
    const pruned = await Promise.all(stores.map((store) => store.prune()));
    await Promise.all(stores.map((store) => store.close()));

    // Each row was counted by the store that deleted it: together, exactly the expired ones.
    expect(pruned[0] + pruned[1]).toBe(50_000);
    expect((await idsIn(place)).sort()).toEqual(live.sort());
  }, 120_000);
});

/** The characters of base64url, which session ids are made of. */
const ID_CHARS = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
/** An id like the library's (32 random bytes, base64url), starting with the i-th character round. */
const idStartingAt = (i: number) =>
  ID_CHARS[i % ID_CHARS.length] + randomBytes(32).toString('base64url').slice(1);

describe.each(databases)('pruning a backlog across the whole key space on $name', (db) => {
  it('with three stores at once: expired and live ids interleaved, every first character', async () => {
    const place = db.fresh();
    const live = await backlog(place, 30_000, idStartingAt);

    const stores = [0, 1, 2].map(() => new DatabaseStore({ ...place, pruneInterval: 0 }));
    await Promise.all(stores.map((store) => store.get('warm')));
    const pruned = await Promise.all(stores.map((store) => store.prune()));
    await Promise.all(stores.map((store) => store.close()));

    expect(pruned[0] + pruned[1] + pruned[2]).toBe(30_000);
    expect((await idsIn(place)).sort()).toEqual(live.sort());
  }, 120_000);
});

describe('pruning a backlog on PostgreSQL', () => {
  it('goes through the table in heap order, a range of pages to a DELETE, and keeps the live rows', async () => {
    const place = databases[1].fresh();
    const live = await backlog(place, 30_000, idStartingAt);

    // Every DELETE the store runs, with the rows it deleted.
    const dataSource = await new DataSource(place.dataSource).initialize();
    const deletes: Array<{ sql: string; rows: number }> = [];
    const createQueryRunner = dataSource.createQueryRunner.bind(dataSource);
    jest.spyOn(dataSource, 'createQueryRunner').mockImplementation((mode) => {
      const runner = createQueryRunner(mode);
      const query = runner.query.bind(runner) as (...args: unknown[]) => Promise<{ affected?: number }>;
      runner.query = (async (sql: string, ...rest: unknown[]) => {
        const result = await query(sql, ...rest);
        if (sql.startsWith('DELETE')) deletes.push({ sql, rows: result?.affected ?? 0 });
        return result;
      }) as QueryRunner['query'];
      return runner;
    });
    const store = new DatabaseStore({ dataSource, table: place.table, pruneInterval: 0 });
    expect(await store.prune()).toBe(30_000);
    await store.close();
    await dataSource.destroy();

    const byPages = deletes.filter((d) => d.sql.includes('ctid'));
    expect(byPages.length).toBeGreaterThan(1);
    expect(byPages.reduce((sum, d) => sum + d.rows, 0)).toBe(30_000);
    expect((await idsIn(place)).sort()).toEqual(live.sort());
  }, 120_000);
});
