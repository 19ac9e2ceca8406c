import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { sessionSql } from '../../../lib/stores/database/database.sql.js';
import { DatabaseStore } from '../../../lib/stores/database/database.store.js';
import { seedRows } from '../../support/database-cases.js';
import { asRecord, changes, meta } from '../../support/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'nest-session-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sqlite = (name: string) => ({ type: 'better-sqlite3', database: join(dir, name) }) as const;

describe('DatabaseStore', () => {
  it('never imports typeorm as a value outside a dynamic import, so apps without typeorm load the library', () => {
    const files = readdirSync('lib', { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    for (const file of files) {
      const source = readFileSync(join('lib', file), 'utf8');
      const imports = source.match(/^import [^;]*from 'typeorm';/gm) ?? [];
      for (const line of imports) expect(`${file}: ${line}`).toMatch(/^[^:]+: import type /);
    }
  });

  it.each([
    [{ dataSource: { type: 'sqlite', database: 'x' } }, 'SESSION_DATABASE_UNSUPPORTED'],
    [{ table: 'sessions; DROP TABLE users' }, 'SESSION_DATABASE_TABLE_INVALID'],
    [{ table: 'a.b.c' }, 'SESSION_DATABASE_TABLE_INVALID'],
    [{ pruneInterval: -1 }, 'SESSION_OPTION_INVALID'],
    [{ pruneInterval: Number.NaN }, 'SESSION_OPTION_INVALID'],
  ] as const)('rejects %j at construction with %s', (options, code) => {
    expect(() => new DatabaseStore(options as never)).toThrow(expect.objectContaining({ code }));
  });

  it('says so when the DataSource it was given is not initialized', async () => {
    const store = new DatabaseStore({ dataSource: new DataSource(sqlite('never.sqlite')), pruneInterval: 0 });
    await expect(store.get('x')).rejects.toMatchObject({ code: 'SESSION_DATABASE_NOT_INITIALIZED' });
    await store.close();
  });

  it('runs no sweep with pruneInterval 0, and refuses work once closed', async () => {
    const store = new DatabaseStore({ dataSource: sqlite('closed.sqlite'), pruneInterval: 0 });
    asRecord(await store.get('x'));
    expect(store.sweeper.scheduled).toBe(false);
    await store.close();
    await store.close();
    await expect(store.get('x')).rejects.toThrow('closed');
  });

  it("keeps what the app's own SQLite transaction writes apart from its own writes", async () => {
    const dataSource = await new DataSource(sqlite('shared.sqlite')).initialize();
    const store = new DatabaseStore({ dataSource, pruneInterval: 0 });
    asRecord(await store.get('create'));
    let written: Promise<boolean> | undefined;
    await expect(
      dataSource.transaction(async (manager) => {
        await manager.query('CREATE TABLE app_table (n integer)');
        written = store.apply('s', changes({ set: { a: 1 } }), meta(Date.now()));
        await manager.query('INSERT INTO app_table VALUES (1)');
        throw new Error('the app rolls back');
      }),
    ).rejects.toThrow('the app rolls back');
    await written;
    expect(asRecord(await store.get('s'))?.data).toEqual({ a: 1 });
    await store.close();
    expect(dataSource.isInitialized).toBe(true);
    await dataSource.destroy();
  });

  it("puts an app's own SQLite connection's busy_timeout back after each statement, and sets its own to 0 once", async () => {
    type Connection = { pragma(source: string, options: { simple: true }): unknown };
    const connectionOf = (source: DataSource) =>
      (source.driver as unknown as { databaseConnection: Connection }).databaseConnection;
    const set = changes({ set: { a: 1 } });

    const shared = await new DataSource(sqlite('busy-shared.sqlite')).initialize();
    connectionOf(shared).pragma('busy_timeout = 1234', { simple: true });
    const given = new DatabaseStore({ dataSource: shared, pruneInterval: 0 });
    await given.apply('s', set, meta(Date.now()));
    expect(asRecord(await given.get('s'))?.data).toEqual({ a: 1 });
    expect(connectionOf(shared).pragma('busy_timeout', { simple: true })).toBe(1234);
    await given.close();
    await shared.destroy();

    const own = new DatabaseStore({ dataSource: sqlite('busy-own.sqlite'), pruneInterval: 0 });
    await own.apply('s', set, meta(Date.now()));
    expect(asRecord(await own.get('s'))?.data).toEqual({ a: 1 });
    const opened = (own as unknown as { opened: DataSource }).opened;
    expect(connectionOf(opened).pragma('busy_timeout', { simple: true })).toBe(0);
    await own.close();
  });

  it('sizes each SQLite prune statement by the time the last one took, as it holds the event loop', async () => {
    const dataSource = await new DataSource(sqlite('slices.sqlite')).initialize();
    // A clock that a prune statement moves by `perRow` ms for each row it deletes.
    let clock = 0;
    let perRow = 0.1;
    const batches: number[] = [];
    const connection = (
      dataSource.driver as unknown as { databaseConnection: { prepare(sql: string): unknown } }
    ).databaseConnection;
    const prepare = connection.prepare.bind(connection) as (sql: string) => { run(...p: unknown[]): any };
    jest.spyOn(connection, 'prepare').mockImplementation((sql: string) => {
      const statement = prepare(sql);
      if (!sql.startsWith('DELETE FROM "sessions" WHERE id IN')) return statement;
      const run = statement.run.bind(statement);
      statement.run = (...params: unknown[]) => {
        const result = run(...params);
        batches.push(result.changes);
        clock += result.changes * perRow;
        return result;
      };
      return statement;
    });
    const store = new DatabaseStore({ dataSource, pruneInterval: 0 }, undefined, {
      pruneSlice: 5,
      timer: () => clock,
    });
    asRecord(await store.get('create'));
    await seedRows({ dataSource, table: 'sessions' }, 2500, Date.now() - 1000);
    // Slow rows: 100 take 10 ms, so the next statements delete the 50 that take 5 ms.
    expect(await store.prune()).toBe(2500);
    expect(batches.slice(0, 3)).toEqual([100, 50, 50]);
    expect(new Set(batches.slice(1, -1))).toEqual(new Set([50]));
    // Fast rows: each statement may take twice as many as the last, up to 1000.
    batches.length = 0;
    perRow = 0.001;
    await seedRows({ dataSource, table: 'sessions' }, 2500, Date.now() - 1000);
    expect(await store.prune()).toBe(2500);
    expect(batches).toEqual([50, 100, 200, 400, 800, 950]);
    await store.close();
    await dataSource.destroy();
  });
});

describe('sessionSql', () => {
  it('quotes schema-qualified tables and numbers parameters per dialect', () => {
    expect(sessionSql('postgres', 'app.sessions').get).toBe(
      'SELECT payload, created_at, last_activity FROM "app"."sessions" WHERE id = $1 AND expires_at > $2',
    );
    expect(sessionSql('mysql', 'app.sessions').delete).toBe('DELETE FROM `app`.`sessions` WHERE id = ?');
    expect(sessionSql('sqlite', 'main.sessions').createTable[1]).toBe(
      'CREATE INDEX IF NOT EXISTS "main"."sessions_expires_at_idx" ON "sessions" (expires_at)',
    );
  });
});
