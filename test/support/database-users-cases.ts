import { describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { DatabaseStore } from '../../lib/stores/database/database.store.js';
import { BinderProcess } from './binder-process.js';
import { countRows, seedRows } from './database-cases.js';
import { asRecord, changes, meta } from './fixtures.js';
import type { TestDatabase, TestPlace } from './services.js';
import { newId } from './store-contract.js';

const HOUR = 3_600_000;

/** The sessions table as the schema of b5f0479 (before the user index) made it, for each engine. */
function oldSchema(db: TestDatabase['name'], table: string): string[] {
  switch (db) {
    case 'postgres':
      return [
        `CREATE TABLE IF NOT EXISTS "${table}" (id varchar(128) PRIMARY KEY, payload text NOT NULL, ` +
          'expires_at bigint NOT NULL, last_activity bigint NOT NULL, created_at bigint NOT NULL)',
        `CREATE INDEX IF NOT EXISTS "${table}_expires_at_idx" ON "${table}" (expires_at)`,
      ];
    case 'mariadb':
      return [
        `CREATE TABLE IF NOT EXISTS \`${table}\` (id varchar(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY, ` +
          'payload longtext NOT NULL, expires_at bigint NOT NULL, last_activity bigint NOT NULL, ' +
          `created_at bigint NOT NULL, KEY \`${table}_expires_at_idx\` (expires_at)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
      ];
    case 'sqlite':
      return [
        `CREATE TABLE IF NOT EXISTS "${table}" (id text PRIMARY KEY NOT NULL, payload text NOT NULL, ` +
          'expires_at integer NOT NULL, last_activity integer NOT NULL, created_at integer NOT NULL)',
        `CREATE INDEX IF NOT EXISTS "${table}_expires_at_idx" ON "${table}" (expires_at)`,
      ];
  }
}

/** The definitions of the table's indexes, as the database's catalog tells them. */
async function indexes(dataSource: DataSource, db: TestDatabase['name'], table: string): Promise<string[]> {
  switch (db) {
    case 'postgres': {
      const rows = await dataSource.query('SELECT indexdef FROM pg_indexes WHERE tablename = $1', [table]);
      return rows.map((r: { indexdef: string }) => r.indexdef);
    }
    case 'mariadb': {
      const rows = await dataSource.query(`SHOW INDEX FROM \`${table}\``);
      return rows.map((r: { Key_name: string; Column_name: string }) => `${r.Key_name} (${r.Column_name})`);
    }
    case 'sqlite': {
      const rows = await dataSource.query(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
        [table],
      );
      return rows.flatMap((r: { sql: string | null }) => (r.sql === null ? [] : [r.sql]));
    }
  }
}

/**
 * A table as an earlier version made it, holding sessions: a live one with data and flash, a tombstone,
 * and `seeded` more live ones.
 */
async function oldTable(db: TestDatabase, place: TestPlace, dataSource: DataSource, seeded: number) {
  for (const statement of oldSchema(db.name, place.table)) await dataSource.query(statement);
  const p = (n: number) => (db.name === 'postgres' ? `$${n}` : '?');
  const now = Date.now();
  const insert =
    `INSERT INTO ${place.table} (id, payload, expires_at, last_activity, created_at) ` +
    `VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`;
  const live = { data: { cart: [1, 2] }, flash: { info: 'hello' } };
  await dataSource.query(insert, ['old-live', JSON.stringify(live), now + HOUR, now - 1000, now - 5000]);
  await dataSource.query(insert, ['old-retired', 'retired', now + HOUR, now - 1000, now - 5000]);
  await seedRows({ dataSource, table: place.table }, seeded, now + HOUR);
  return { live, rows: seeded + 2 };
}

/** The database store's own user index cases, beyond the contract and the users suite, on one engine. */
export function databaseUserCases(db: TestDatabase): void {
  describe(`database store on ${db.name}, the user index`, () => {
    it('gives a table made before the user index its columns and index on first use, keeping every row', async () => {
      const place = db.fresh();
      const dataSource = await new DataSource(place.dataSource).initialize();
      const store = new DatabaseStore({ dataSource, table: place.table, pruneInterval: 0 });
      try {
        const { live, rows } = await oldTable(db, place, dataSource, 1000);
        expect((await indexes(dataSource, db.name, place.table)).join('\n')).not.toContain('user_id');

        expect(asRecord(await store.get('old-live'))).toMatchObject(live);
        expect(asRecord(await store.get('old-live'))?.user).toBeUndefined();
        expect(await store.get('old-retired')).toBe('retired');
        expect(asRecord(await store.get('seed-999'))?.data).toEqual({ n: 1 });
        expect(await countRows({ dataSource, table: place.table })).toBe(rows);
        expect((await indexes(dataSource, db.name, place.table)).join('\n')).toMatch(/user_id/);

        // An old session signs in where it is, and is listed with what it held.
        const user = `upgraded-${newId().slice(0, 8)}`;
        const bind = changes({ user: { id: user, signedInAt: Date.now() } });
        expect(await store.apply('old-live', bind, { ...meta(Date.now(), HOUR), create: false })).toBe(true);
        const [found] = await store.listUser(user);
        expect(found).toMatchObject({ id: 'old-live', record: { ...live, user: { id: user } } });
        expect(
          await store.apply('seed-1', changes({ set: { n: 2 } }), { ...meta(Date.now()), create: false }),
        ).toBe(true);
        expect(asRecord(await store.get('seed-1'))?.data).toEqual({ n: 2 });

        // Another process starting on the upgraded table changes nothing.
        const next = new DatabaseStore({ dataSource, table: place.table, pruneInterval: 0 });
        expect((await next.listUser(user)).map(({ id }) => id)).toEqual(['old-live']);
        await next.close();
        expect(await countRows({ dataSource, table: place.table })).toBe(rows);
      } finally {
        await store.close();
        await dataSource.destroy();
      }
    }, 30_000);

    it('lets no two processes bind past users.maxPerUser at once', async () => {
      const place = db.fresh();
      const user = `processes-${newId().slice(0, 8)}`;
      const store = new DatabaseStore({ ...place, pruneInterval: 0 });
      const bindings = (count: number) =>
        Promise.allSettled(
          Array.from({ length: count }, () => {
            const limit = { max: 3, onLimit: 'reject' as const, until: Date.now(), revoked: [] };
            const bind = changes({ user: { id: user, signedInAt: Date.now() } });
            return store.apply(newId(), bind, { ...meta(Date.now(), HOUR), limit });
          }),
        );
      await store.apply(
        newId(),
        changes({ user: { id: user, signedInAt: Date.now() } }),
        meta(Date.now(), HOUR),
      );
      const other = await BinderProcess.start(place, { userId: user, count: 3, max: 3 });
      try {
        // Three bindings in the other process and three in this one, all at once.
        const [there, here] = await Promise.all([other.bind(), bindings(3)]);
        const passedHere = here.filter((r) => r.status === 'fulfilled').length;
        expect(there.passed + passedHere).toBe(2);
        const refused = [
          ...there.refused,
          ...here.flatMap((r) => (r.status === 'rejected' ? [(r.reason as { code?: string }).code] : [])),
        ];
        expect(refused).toEqual(Array(4).fill('SESSION_USER_LIMIT'));
        expect(await store.listUser(user)).toHaveLength(3);
      } finally {
        await other.stop();
        await store.close();
      }
    }, 60_000);

    // SQLite has no privileges: whoever may write the file may alter the table.
    if (db.name === 'sqlite') return;

    it('fails first use with the statements to run when it may not alter an old table; runs once they are', async () => {
      const place = db.fresh();
      const dataSource = await new DataSource(place.dataSource).initialize();
      const store = new DatabaseStore({ dataSource, table: place.table, pruneInterval: 0 });
      // A view over the old table: ALTER TABLE and CREATE INDEX are refused on it, as on a table the
      // database user may read and write but not alter.
      const real = `${place.table}_real`;
      try {
        await oldTable(db, { ...place, table: real }, dataSource, 0);
        await dataSource.query(`CREATE VIEW ${place.table} AS SELECT * FROM ${real}`);

        const error = (await store.get('old-live').catch((e: unknown) => e)) as Error;
        const fix = store.misconfiguration(error)!;
        expect(fix).toContain(
          `add the columns user_id, signed_in_at and the index on user_id to the sessions table '${place.table}'`,
        );
        expect(error.message).toContain('lacks the user index and the database refused to add it');
        // Every call fails the same way until the table is fixed.
        await expect(store.listUser('anyone')).rejects.toThrow(error.message);

        // What the message says to run, run on the table.
        await dataSource.query(`DROP VIEW ${place.table}`);
        await dataSource.query(`ALTER TABLE ${real} RENAME TO ${place.table}`);
        for (const statement of fix.slice(fix.indexOf(': ') + 2).split('; '))
          await dataSource.query(statement);
        expect(asRecord(await store.get('old-live'))?.data).toEqual({ cart: [1, 2] });
      } finally {
        await store.close();
        await dataSource.query(`DROP VIEW IF EXISTS ${place.table}`).catch(() => undefined);
        await dataSource.query(`DROP TABLE IF EXISTS ${real}`);
        await dataSource.destroy();
      }
    }, 30_000);
  });
}
