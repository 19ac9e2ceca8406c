import type { DataSource } from 'typeorm';
import { applyChanges, emptyRecord } from '../../core/change-set.js';
import type { SessionChanges, SessionMeta, SessionRecord } from '../session-store.js';
import { PRUNE_BATCH, type SessionSql } from './database.sql.js';
import {
  TOMBSTONE,
  bindingOf,
  isTombstone,
  limitedUser,
  live,
  overUserLimit,
  payloadOf,
  type Engine,
  type MemberRow,
  type Row,
  type UserRow,
} from './rows.js';
import { upgradeSqliteTable } from './schema-upgrade.js';

interface SqliteStatement {
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
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
  list: SqliteStatement;
  write: (id: string, changes: SessionChanges, meta: SessionMeta) => { applied: boolean; revoked: string[] };
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

/**
 * The CPU time one prune statement should take, in ms: it runs on the event loop, so every request of
 * the app waits behind it. The rows each statement deletes follow the CPU time the last one took,
 * between SQLITE_PRUNE_MIN and PRUNE_BATCH (1 KB rows: about 100 a statement). CPU time, not wall
 * time: on a busy machine both a statement and the requests are slowed alike, and smaller statements
 * would only make the sweep longer.
 */
export const SQLITE_PRUNE_SLICE = 5;
const SQLITE_PRUNE_MIN = 50;
const SQLITE_PRUNE_FIRST = 100;

/** The process's CPU time (user and system), in ms. */
const cpuTime = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

export interface SqliteEngineOptions {
  /** How long a statement is retried while another process holds the file's lock, in ms (default 2000). */
  busyTimeout?: number;
  /** The CPU time one prune statement should take, in ms (default SQLITE_PRUNE_SLICE). */
  pruneSlice?: number;
  /** The clock prune statements are timed by, in ms (default: the process's CPU time). */
  timer?: () => number;
  /** The driver opened the DataSource: its busy_timeout is set to 0 once, not around each statement. */
  owned?: boolean;
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
  private readonly pruneSlice: number;
  private readonly timer: () => number;
  private readonly owned: boolean;
  /** The rows the next prune statement deletes at most. */
  private pruneLimit = SQLITE_PRUNE_FIRST;

  constructor(
    private readonly dataSource: DataSource,
    private readonly sql: SessionSql,
    maxSize: number,
    options: SqliteEngineOptions = {},
  ) {
    this.payload = payloadOf(maxSize);
    this.busyTimeout = options.busyTimeout ?? SQLITE_BUSY_TIMEOUT;
    this.pruneSlice = options.pruneSlice ?? SQLITE_PRUNE_SLICE;
    this.timer = options.timer ?? cpuTime;
    this.owned = options.owned ?? false;
  }

  /** Creates the table, or adds the user index to one made before it, in one transaction. */
  async createTable(): Promise<void> {
    await this.run(true, (connection) =>
      connection
        .transaction(() => {
          for (const statement of this.sql.createTable) connection.exec(statement);
          upgradeSqliteTable(connection, this.sql);
        })
        .immediate(),
    );
  }

  get(id: string, now: number): Promise<Row | undefined> {
    return this.run(false, (connection) => this.statements(connection).get.get(id, now) as Row | undefined);
  }

  async apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean> {
    const { applied, revoked } = await this.run(true, (connection) =>
      this.statements(connection).write(id, changes, meta),
    );
    meta.limit?.revoked.push(...revoked);
    return applied;
  }

  retire(id: string, until: number, now: number): Promise<SessionRecord | undefined> {
    return this.run(true, (connection) => this.statements(connection).retire(id, until, now));
  }

  async destroy(id: string): Promise<void> {
    await this.run(true, (connection) => this.statements(connection).delete.run(id));
  }

  listUser(userId: string, now: number): Promise<UserRow[]> {
    return this.run(false, (connection) => this.statements(connection).list.all(userId, now) as UserRow[]);
  }

  /**
   * One statement of at most `pruneLimit` expired rows, then the next limit: scaled by how far the
   * CPU time it took was from `pruneSlice`, at most halved or doubled at a time (kept when none went).
   */
  async pruneBatch(now: number): Promise<{ count: number; more: boolean }> {
    const limit = this.pruneLimit;
    const start = this.timer();
    const count = await this.run(
      true,
      (connection) => this.statements(connection).prune.run(now, limit).changes,
    );
    if (count > 0) {
      const scale = this.pruneSlice / Math.max(this.timer() - start, 0.01);
      const next = Math.round(limit * Math.min(2, Math.max(0.5, scale)));
      this.pruneLimit = Math.min(PRUNE_BATCH, Math.max(SQLITE_PRUNE_MIN, next));
    }
    return { count, more: count === limit };
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

  /**
   * Runs `work` with the connection's busy_timeout at 0 (SQLITE_BUSY at once), then puts it back; on
   * a connection the driver owns, it is set to 0 once and left there (a PRAGMA costs about as much as
   * the statement it guards).
   */
  private withoutBusyWait<T>(connection: SqliteConnection, work: (connection: SqliteConnection) => T): T {
    if (this.busyPragmas?.connection !== connection) {
      this.busyPragmas = {
        connection,
        read: connection.prepare('PRAGMA busy_timeout').pluck(),
        off: connection.prepare('PRAGMA busy_timeout = 0'),
      };
      if (this.owned) this.busyPragmas.off.run();
    }
    if (this.owned) return work(connection);
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
    const bind = connection.prepare(this.sql.bind);
    const members = connection.prepare(this.sql.users.members);
    /** A live row becomes a tombstone kept until `until`, bound to no user; the record it held. */
    const retireRow = (id: string, until: number, now: number) => {
      const row = lock.get(id) as Row | undefined;
      const record = live(row, now, id);
      if (record !== undefined) bind.run(TOMBSTONE, until, now, row!.created_at, null, null, id);
      return record;
    };
    // BEGIN IMMEDIATE: the database serializes every write transaction, in this process and the others,
    // so the user's sessions counted under users.maxPerUser cannot change before this one commits.
    const write = connection.transaction((id: string, changes: SessionChanges, meta: SessionMeta) => {
      const now = meta.lastActivity;
      const refused = { applied: false, revoked: [] };
      const row = lock.get(id) as Row | undefined;
      if (isTombstone(row, now)) return refused; // retired: never written again
      const record = live(row, now, id);
      if (!meta.create && record === undefined) return refused;
      const wasLive = record !== undefined;
      const merged = applyChanges(record ?? emptyRecord(meta), changes, meta);
      const values = [this.payload(merged), meta.expiresAt, merged.lastActivity, merged.createdAt];
      const userId = limitedUser(changes, meta);
      const revoked =
        userId === undefined ? [] : overUserLimit(members.all(userId, now) as MemberRow[], id, meta);
      if (row === undefined) insert.run(id, ...values, ...bindingOf(merged));
      // The binding columns are written only when the binding may change: a touch leaves the index alone.
      else if (changes.user !== undefined || !wasLive) bind.run(...values, ...bindingOf(merged), id);
      else update.run(...values, id);
      // In the same transaction: the earliest sign-ins that make room ('revoke-oldest').
      const retired = revoked.filter((other) => retireRow(other, meta.limit!.until, now) !== undefined);
      return { applied: true, revoked: retired };
    });
    const retire = connection.transaction(retireRow);
    this.prepared = {
      connection,
      get: connection.prepare(this.sql.get),
      delete: connection.prepare(this.sql.delete),
      prune: connection.prepare(this.sql.prune),
      list: connection.prepare(this.sql.users.list),
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
