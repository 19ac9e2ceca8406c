import type { DataSource, QueryRunner } from 'typeorm';
import { randomInt } from 'node:crypto';
import { SessionTooLargeError } from '../session.errors.js';
import {
  BACKLOG_MIN,
  BACKLOG_SLICES,
  BACKLOG_WORKERS,
  type BacklogSql,
  type SessionSql,
} from './database.schema.js';
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
  /**
   * When the engine has a faster way through a large backlog of expired rows and there is one, deletes
   * most of them and resolves to how many went; otherwise resolves to 0 at once.
   */
  pruneBacklog?(now: number, stopped: () => boolean): Promise<number>;
}
/** Above every session id (base64url), for the end of a key range. */
const LAST_KEY = '\u007f';
/** The characters of base64url in ASCII order: session ids start with one of them. */
const ID_CHARS = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';

/** [from, to) of a slice of the key space: together the slices cover every id from '' to LAST_KEY. */
function sliceBounds(slice: number): [string, string] {
  const at = (k: number) => ID_CHARS[Math.floor((k * ID_CHARS.length) / BACKLOG_SLICES)];
  return [slice === 0 ? '' : at(slice), slice === BACKLOG_SLICES - 1 ? LAST_KEY : at(slice + 1)];
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
      if (this.sql.pruneProbe !== undefined) {
        const rows = await uncommitted(runner, this.sql.pruneProbe, [now]);
        if (rows.length === 0) return 0;
      }
      return await this.pruneStatement(runner, this.sql.prune, [now]);
    } finally {
      await runner.release();
    }
  }

  /**
   * MySQL/MariaDB: when at least BACKLOG_MIN rows and an eighth of the table have expired, one pass
   * over the BACKLOG_SLICES slices of the key space, from a random one round, by BACKLOG_WORKERS
   * workers at once (a connection each): a slice whose named lock another pruner holds is skipped,
   * and waited for once the others are done (it is then cheap: the expiry index shows what is left).
   * Pruners in other processes thus work on other slices, and never on the same rows at once.
   */
  async pruneBacklog(now: number, stopped: () => boolean): Promise<number> {
    const backlog = this.sql.backlog;
    if (backlog === undefined || !(await this.hasBacklog(backlog, now))) return 0;
    const first = randomInt(BACKLOG_SLICES);
    const free = Array.from({ length: BACKLOG_SLICES }, (_, i) => (first + i) % BACKLOG_SLICES);
    const held: number[] = [];
    let total = 0;
    const worker = async (): Promise<void> => {
      const runner = this.dataSource.createQueryRunner();
      try {
        const take = async (slice: number, wait: number): Promise<boolean> => {
          const [row] = (await runner.query(backlog.lockSlice, [slice, wait])) as { got: unknown }[];
          if (Number(row?.got) !== 1) return false;
          try {
            // Read total only once the slice is done: the workers add to it concurrently.
            const pruned = await this.pruneSlice(runner, backlog, slice, now, stopped);
            total += pruned;
          } finally {
            await runner.query(backlog.unlockSlice, [slice]);
          }
          return true;
        };
        for (let slice = free.shift(); slice !== undefined && !stopped(); slice = free.shift()) {
          if (!(await take(slice, 0))) held.push(slice);
        }
        // The slices other pruners had: each once it is free (a second's wait at a time, in turn).
        for (let slice = held.shift(); slice !== undefined && !stopped(); slice = held.shift()) {
          if (!(await take(slice, 1))) held.push(slice);
        }
      } finally {
        await runner.release();
      }
    };
    await Promise.all(Array.from({ length: BACKLOG_WORKERS }, worker));
    return total;
  }

  /**
   * The expired rows of one slice, in key order: each step finds the id BACKLOG_DELETE rows on and
   * deletes, in one short transaction, the expired rows before it (the DELETE checks expires_at on
   * the latest row, so a session made live meanwhile stays); the next step starts at that id.
   */
  private async pruneSlice(
    runner: QueryRunner,
    backlog: BacklogSql,
    slice: number,
    now: number,
    stopped: () => boolean,
  ): Promise<number> {
    const [from, to] = sliceBounds(slice);
    // A slice another pruner has done since (or that had nothing expired) is not walked again.
    if ((await uncommitted(runner, backlog.pending, [now, from, to])).length === 0) return 0;
    let total = 0;
    for (let lower = from; !stopped();) {
      const [row] = (await runner.query(backlog.step, [lower, to])) as { id: string }[];
      const upper = row === undefined ? to : row.id;
      total += await this.pruneStatement(runner, backlog.deleteRange, [lower, upper, now]);
      if (row === undefined) break;
      lower = upper;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return total;
  }

  /**
   * One DELETE of expired rows in a READ COMMITTED transaction (no gap locks: requests inserting
   * sessions never wait on it), run again when it meets another pruner in a deadlock.
   */
  private async pruneStatement(runner: QueryRunner, sql: string, params: unknown[]): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        await runner.startTransaction('READ COMMITTED');
        const affected = (await runner.query(sql, params, true)).affected ?? 0;
        await runner.commitTransaction();
        return affected;
      } catch (error) {
        if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
        if (attempt >= 5 || !isTransient(error)) throw error;
      }
    }
  }

  private async hasBacklog(backlog: BacklogSql, now: number): Promise<boolean> {
    let tableRows: number;
    try {
      const [row] = (await this.dataSource.query(backlog.tableRows)) as { n?: unknown }[];
      tableRows = Number(row?.n ?? 0) || 0;
    } catch {
      return false; // no estimate: batches in expiry order are never wrong
    }
    const cap = Math.max(BACKLOG_MIN, Math.ceil(tableRows / 8));
    const runner = this.dataSource.createQueryRunner();
    try {
      const [row] = (await uncommitted(runner, backlog.count, [now, cap])) as { n: unknown }[];
      return Number(row.n) >= cap;
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
  pluck(): SqliteStatement;
}

interface SqliteConnection {
  readonly inTransaction: boolean;
  prepare(sql: string): SqliteStatement;
  exec(sql: string): unknown;
  pragma(source: string): unknown;
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

interface BusyPragmas {
  connection: SqliteConnection;
  read: SqliteStatement;
  off: SqliteStatement;
}

/** How long the SQLite engine keeps trying a statement the file's lock refuses, in ms, unless told. */
export const SQLITE_BUSY_TIMEOUT = 2000;
/** The first wait after a refusal; each next one doubles, up to SQLITE_BUSY_MAX_WAIT. */
const SQLITE_BUSY_FIRST_WAIT = 2;
const SQLITE_BUSY_MAX_WAIT = 50;

export interface SqliteEngineOptions {
  /** How long a statement is retried while another process holds the file's lock, in ms (default 2000). */
  busyTimeout?: number;
}

/**
 * SQLite through better-sqlite3, whose TypeORM driver has one connection for everything. Each write
 * runs synchronously as one `BEGIN IMMEDIATE` transaction on that connection, so nothing else in the
 * process can interleave with it, and the database serializes it against other processes.
 *
 * better-sqlite3 waits for a lock by blocking the thread (its `busy_timeout`, 5 s by default), which
 * would freeze every request of the app while another process holds the file. So the engine's
 * statements run with `busy_timeout` 0 (the connection's own value is put back afterwards, for an app
 * sharing it) and a refused one (SQLITE_BUSY) is tried again on a timer, up to `busyTimeout` ms in
 * all; then it fails, and the request that needed it gets a 503.
 */
export class SqliteEngine implements Engine {
  private prepared: Prepared | undefined;
  private readonly payload: (record: SessionRecord) => string;
  private busyPragmas: BusyPragmas | undefined;
  private readonly busyTimeout: number;

  constructor(
    private readonly dataSource: DataSource,
    private readonly sql: SessionSql,
    maxSize: number,
    options: SqliteEngineOptions = {},
  ) {
    this.payload = payloadOf(maxSize);
    this.busyTimeout = options.busyTimeout ?? SQLITE_BUSY_TIMEOUT;
  }

  async createTable(): Promise<void> {
    await this.run(true, (connection) => {
      for (const statement of this.sql.createTable) connection.exec(statement);
    });
  }

  get(id: string, now: number): Promise<Row | undefined> {
    return this.run(false, (connection) => this.statements(connection).get.get(id, now) as Row | undefined);
  }

  apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean> {
    return this.run(true, (connection) => this.statements(connection).write(id, changes, meta));
  }

  retire(id: string, until: number, now: number): Promise<SessionRecord | undefined> {
    return this.run(true, (connection) => this.statements(connection).retire(id, until, now));
  }

  async destroy(id: string): Promise<void> {
    await this.run(true, (connection) => this.statements(connection).delete.run(id));
  }

  pruneBatch(now: number): Promise<number> {
    return this.run(true, (connection) => this.statements(connection).prune.run(now).changes);
  }

  /**
   * Runs `work` synchronously on the connection without ever blocking on the file's lock: refused,
   * it is tried again after a short wait (2, 4, 8 … 50 ms) until `busyTimeout` has passed.
   */
  private async run<T>(write: boolean, work: (connection: SqliteConnection) => T): Promise<T> {
    const start = performance.now();
    let wait = SQLITE_BUSY_FIRST_WAIT;
    for (;;) {
      // A write waits for a transaction the app has open on a shared connection; a read joins it.
      const connection = write ? await this.idle() : this.connection();
      try {
        return this.withoutBusyWait(connection, work);
      } catch (error) {
        const left = this.busyTimeout - (performance.now() - start);
        if (!isBusy(error) || left <= 0) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(wait, left)));
        wait = Math.min(wait * 2, SQLITE_BUSY_MAX_WAIT);
      }
    }
  }

  /** Runs `work` with the connection's busy_timeout at 0 (SQLITE_BUSY at once), then puts it back. */
  private withoutBusyWait<T>(connection: SqliteConnection, work: (connection: SqliteConnection) => T): T {
    if (this.busyPragmas?.connection !== connection) {
      this.busyPragmas = {
        connection,
        read: connection.prepare('PRAGMA busy_timeout').pluck(),
        off: connection.prepare('PRAGMA busy_timeout = 0'),
      };
    }
    const previous = Number(this.busyPragmas.read.get());
    if (previous === 0) return work(connection);
    this.busyPragmas.off.run();
    try {
      return work(connection);
    } finally {
      connection.pragma(`busy_timeout = ${previous}`);
    }
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

/** SQLITE_BUSY and its extended codes: another connection holds the lock this statement needs. */
function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
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

/**
 * A read of the expiry index at READ UNCOMMITTED (MySQL/MariaDB). Right after a large delete, InnoDB's
 * purge has not yet removed the deleted rows' entries from the index; a consistent or locking read
 * checks each against its row (reading most of the table from disk), while this one skips them. A
 * dirty answer is harmless: every DELETE checks expires_at again on the committed row.
 */
async function uncommitted(runner: QueryRunner, sql: string, params: unknown[]): Promise<unknown[]> {
  await runner.startTransaction('READ UNCOMMITTED');
  try {
    return (await runner.query(sql, params)) as unknown[];
  } finally {
    await runner.commitTransaction();
  }
}
