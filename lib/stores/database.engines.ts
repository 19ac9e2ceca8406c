import type { DataSource, QueryRunner } from 'typeorm';
import { SessionTooLargeError } from '../session.errors.js';
import type { SessionSql } from './database.schema.js';
import {
  applyChanges,
  emptyRecord,
  type SessionChanges,
  type SessionMeta,
  type SessionRecord,
} from './session-store.js';

/** A row as the drivers return it: PostgreSQL and MySQL give bigint columns as strings. */
export interface Row {
  payload: string;
  created_at: number | string;
  last_activity: number | string;
  expires_at?: number | string;
}

/** How one engine runs the statements: each write is one transaction. */
export interface Engine {
  createTable(): Promise<void>;
  get(id: string, now: number): Promise<Row | undefined>;
  /** False, changing nothing, when the row is not live and `meta.create` is false (or it is a tombstone). */
  apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean>;
  /** Replaces a live row by a tombstone kept until `until`; the record it held, or undefined. */
  retire(id: string, until: number, now: number): Promise<SessionRecord | undefined>;
  destroy(id: string): Promise<void>;
  /** Deletes at most PRUNE_BATCH expired rows; resolves to how many went. */
  pruneBatch(now: number): Promise<number>;
}
/** PostgreSQL and MySQL/MariaDB: pooled connections, `SELECT … FOR UPDATE` in a READ COMMITTED transaction. */
export class ServerEngine implements Engine {
  private readonly payload: (record: SessionRecord) => string;

  constructor(
    private readonly dataSource: DataSource,
    private readonly sql: SessionSql,
    maxSize: number,
  ) {
    this.payload = payloadOf(maxSize);
  }

  /**
   * Creates the table unless it is there: a table made by a migration needs no CREATE privilege. When
   * two processes create it at the same moment, one may fail on the catalog: the table is there all the same.
   */
  async createTable(): Promise<void> {
    if (await this.exists()) return;
    try {
      for (const statement of this.sql.createTable) await this.dataSource.query(statement);
    } catch (error) {
      if (!(await this.exists())) throw error;
    }
  }

  private exists(): Promise<boolean> {
    return this.dataSource.query(this.sql.probe).then(
      () => true,
      () => false,
    );
  }

  async get(id: string, now: number): Promise<Row | undefined> {
    const rows: Row[] = await this.dataSource.query(this.sql.get, [id, now]);
    return rows[0];
  }

  apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean> {
    return this.retrying((runner) => this.write(runner, id, changes, meta));
  }

  retire(id: string, until: number, now: number): Promise<SessionRecord | undefined> {
    return this.retrying(async (runner) => {
      const [row] = (await runner.query(this.sql.lock, [id])) as Row[];
      const record = live(row, now);
      if (record !== undefined)
        await runner.query(this.sql.update, [TOMBSTONE, until, now, row.created_at, id]);
      return record;
    });
  }

  /** A transaction, run again on deadlocks and serialization failures. */
  private async retrying<T>(work: (runner: QueryRunner) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transaction(work);
      } catch (error) {
        if (attempt >= 5 || !isTransient(error)) throw error;
      }
    }
  }

  async destroy(id: string): Promise<void> {
    await this.dataSource.query(this.sql.delete, [id]);
  }

  async pruneBatch(now: number): Promise<number> {
    const runner = this.dataSource.createQueryRunner();
    try {
      return (await runner.query(this.sql.prune, [now], true)).affected ?? 0;
    } finally {
      await runner.release();
    }
  }

  /**
   * Locks the row (creating it first when missing and meant to be created: insert-or-nothing, then
   * lock), merges, writes.
   */
  private async write(runner: QueryRunner, id: string, changes: SessionChanges, meta: SessionMeta) {
    let [row] = (await runner.query(this.sql.lock, [id])) as Row[];
    if (!meta.create && live(row, meta.lastActivity) === undefined) return false;
    if (row === undefined) {
      await runner.query(this.sql.insert, [
        id,
        '{"data":{},"flash":{}}',
        meta.expiresAt,
        meta.lastActivity,
        meta.createdAt,
      ]);
      [row] = (await runner.query(this.sql.lock, [id])) as Row[];
    }
    const merged = applyChanges(current(row, meta), changes, meta);
    await runner.query(this.sql.update, [
      this.payload(merged),
      meta.expiresAt,
      merged.lastActivity,
      merged.createdAt,
      id,
    ]);
    return true;
  }

  private async transaction<T>(work: (runner: QueryRunner) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.startTransaction('READ COMMITTED');
      try {
        const result = await work(runner);
        await runner.commitTransaction();
        return result;
      } catch (error) {
        await runner.rollbackTransaction().catch(() => undefined);
        throw error;
      }
    } finally {
      await runner.release();
    }
  }
}

interface SqliteStatement {
  get(...params: unknown[]): unknown;
  run(...params: unknown[]): { changes: number };
}

interface SqliteConnection {
  readonly inTransaction: boolean;
  prepare(sql: string): SqliteStatement;
  exec(sql: string): unknown;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): { immediate(...args: A): R };
}

interface Prepared {
  connection: SqliteConnection;
  get: SqliteStatement;
  delete: SqliteStatement;
  prune: SqliteStatement;
  write: (id: string, changes: SessionChanges, meta: SessionMeta) => boolean;
  retire: (id: string, until: number, now: number) => SessionRecord | undefined;
}

/**
 * SQLite through better-sqlite3, whose TypeORM driver has one connection for everything. Each write
 * runs synchronously as one `BEGIN IMMEDIATE` transaction on that connection, so nothing else in the
 * process can interleave with it, and the database serializes it against other processes.
 */
export class SqliteEngine implements Engine {
  private prepared: Prepared | undefined;
  private readonly payload: (record: SessionRecord) => string;

  constructor(
    private readonly dataSource: DataSource,
    private readonly sql: SessionSql,
    maxSize: number,
  ) {
    this.payload = payloadOf(maxSize);
  }

  async createTable(): Promise<void> {
    const connection = await this.idle();
    for (const statement of this.sql.createTable) connection.exec(statement);
  }

  async get(id: string, now: number): Promise<Row | undefined> {
    return this.statements(this.connection()).get.get(id, now) as Row | undefined;
  }

  async apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean> {
    return this.statements(await this.idle()).write(id, changes, meta);
  }

  async retire(id: string, until: number, now: number): Promise<SessionRecord | undefined> {
    return this.statements(await this.idle()).retire(id, until, now);
  }

  async destroy(id: string): Promise<void> {
    this.statements(await this.idle()).delete.run(id);
  }

  async pruneBatch(now: number): Promise<number> {
    return this.statements(await this.idle()).prune.run(now).changes;
  }

  private connection(): SqliteConnection {
    const connection = (this.dataSource.driver as unknown as { databaseConnection?: SqliteConnection })
      .databaseConnection;
    if (connection === undefined) throw new Error('the SQLite DataSource has no open connection');
    return connection;
  }

  /**
   * The connection once no transaction is open on it: an app sharing its DataSource may be inside one
   * (awaiting between its queries), and a write made then would join it.
   */
  private async idle(): Promise<SqliteConnection> {
    const deadline = performance.now() + 5000;
    for (;;) {
      const connection = this.connection();
      if (!connection.inTransaction) return connection;
      if (performance.now() > deadline) {
        throw new Error('the SQLite connection stayed inside another transaction for 5 s');
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  private statements(connection: SqliteConnection): Prepared {
    if (this.prepared?.connection === connection) return this.prepared;
    const lock = connection.prepare(this.sql.lock);
    const insert = connection.prepare(this.sql.insert);
    const update = connection.prepare(this.sql.update);
    const write = connection.transaction((id: string, changes: SessionChanges, meta: SessionMeta) => {
      const row = lock.get(id) as Row | undefined;
      if (!meta.create && live(row, meta.lastActivity) === undefined) return false;
      const merged = applyChanges(current(row, meta), changes, meta);
      const values = [this.payload(merged), meta.expiresAt, merged.lastActivity, merged.createdAt];
      if (row === undefined) insert.run(id, ...values);
      else update.run(...values, id);
      return true;
    });
    const retire = connection.transaction((id: string, until: number, now: number) => {
      const row = lock.get(id) as Row | undefined;
      const record = live(row, now);
      if (record !== undefined) update.run(TOMBSTONE, until, now, row!.created_at, id);
      return record;
    });
    this.prepared = {
      connection,
      get: connection.prepare(this.sql.get),
      delete: connection.prepare(this.sql.delete),
      prune: connection.prepare(this.sql.prune),
      write: (id, changes, meta) => write.immediate(id, changes, meta),
      retire: (id, until, now) => retire.immediate(id, until, now),
    };
    return this.prepared;
  }
}

/** The record a row holds; undefined when its payload is not a session (treated as missing). */
export function toRecord(row: Row): SessionRecord | undefined {
  try {
    const { data, flash } = JSON.parse(row.payload) as Partial<SessionRecord>;
    if (typeof data !== 'object' || data === null || typeof flash !== 'object' || flash === null)
      return undefined;
    return { data, flash, createdAt: Number(row.created_at), lastActivity: Number(row.last_activity) };
  } catch {
    return undefined;
  }
}

/** The payload of a retired id's row, kept until its expires_at: never a session. */
export const TOMBSTONE = 'retired';

/** The record a row holds while it is live: not missing, expired or a tombstone. */
function live(row: Row | undefined, now: number): SessionRecord | undefined {
  return row !== undefined && Number(row.expires_at) > now ? toRecord(row) : undefined;
}

/** What a change set applies to: the live record, or an empty one when the row is missing or expired. */
function current(row: Row | undefined, meta: SessionMeta): SessionRecord {
  return live(row, meta.lastActivity) ?? emptyRecord(meta);
}

/** The payload writer: a session's JSON, refused past maxSize bytes. */
function payloadOf(maxSize: number): (record: SessionRecord) => string {
  return (record) => {
    const json = JSON.stringify({ data: record.data, flash: record.flash });
    const size = Buffer.byteLength(json);
    if (size > maxSize) throw SessionTooLargeError.inStore(size, maxSize);
    return json;
  };
}

/** Deadlocks and serialization failures: the transaction is run again. */
function isTransient(error: unknown): boolean {
  const cause = (error as { driverError?: { code?: unknown } }).driverError ?? error;
  const code = (cause as { code?: unknown } | undefined)?.code;
  return code === '40P01' || code === '40001' || code === 'ER_LOCK_DEADLOCK';
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
