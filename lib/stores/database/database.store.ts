import { Logger } from '@nestjs/common';
import type { DataSource, DataSourceOptions } from 'typeorm';
import { interval } from '../../core/option-checks.js';
import { SessionConfigError, errorMessage } from '../../session.errors.js';
import type {
  ClosableSessionStore,
  DiagnosingSessionStore,
  PrunableSessionStore,
  SessionChanges,
  SessionMeta,
  SessionRecord,
  StartupCheckedSessionStore,
  UserIndexedSessionStore,
} from '../session-store.js';
import { Sweeper } from '../sweeper.js';
import { dialectOf, sessionSql, type Dialect, type SessionSql } from './database.sql.js';
import { TOMBSTONE, toRecord, type Engine } from './rows.js';
import { SchemaOutdatedError } from './schema-upgrade.js';
import { ServerEngine } from './server.engine.js';
import { SqliteEngine, type SqliteEngineOptions } from './sqlite.engine.js';

/** `forRoot({ database })`. */
export interface DatabaseDriverOptions {
  /**
   * The app's own initialized TypeORM DataSource (never closed by the driver), or options for one the
   * driver opens on first use and closes on shutdown. PostgreSQL, MySQL/MariaDB or better-sqlite3.
   * Default { type: 'better-sqlite3', database: 'sessions.sqlite', enableWAL: true }.
   */
  dataSource?: DataSource | DataSourceOptions;
  /** The table, created on first use when missing ('schema.table' works). Default 'sessions'. */
  table?: string;
  /** How often expired rows are swept, in ms; 0 turns the sweep off. Default 15 minutes. */
  pruneInterval?: number;
}

export const DATABASE_DEFAULTS = {
  dataSource: { type: 'better-sqlite3', database: 'sessions.sqlite', enableWAL: true } as DataSourceOptions,
  table: 'sessions',
  pruneInterval: 15 * 60 * 1000,
};

/**
 * The database driver's options with their defaults. A DataSource type it does not speak, a table
 * name that is not a plain identifier or a bad pruneInterval is a start-up error.
 */
export function resolveDatabaseOptions(input: DatabaseDriverOptions = {}): Required<DatabaseDriverOptions> {
  const resolved = {
    dataSource: input.dataSource ?? DATABASE_DEFAULTS.dataSource,
    table: input.table ?? DATABASE_DEFAULTS.table,
    pruneInterval: input.pruneInterval ?? DATABASE_DEFAULTS.pruneInterval,
  };
  sessionSql(dialectOf(sourceOptions(resolved.dataSource)?.type), resolved.table);
  interval('database.pruneInterval', resolved.pruneInterval);
  return resolved;
}

/** What the driver gives a store beyond the user's options (tests give more). */
export interface DatabaseStoreInternals extends SqliteEngineOptions {
  /** Bytes of one session's JSON past which a change is refused. Default: no limit. */
  maxSize?: number;
  /** How optional packages are imported (for the start-up check). */
  importer?: (name: string) => Promise<unknown>;
  /** The clock (ms since the epoch). Default Date.now. */
  now?: () => number;
  /** Told how many expired rows each prune that dropped some dropped. */
  pruned?: (count: number) => void;
}

/** The client package TypeORM loads for each dialect. */
const CLIENTS = { sqlite: 'better-sqlite3', postgres: 'pg', mysql: 'mysql2' } as const;

/**
 * Sessions in a table of a TypeORM DataSource: the app's own (never closed here) or one it opens on
 * first use (closed on application shutdown); SQLite in `sessions.sqlite` by default. Constructing it
 * touches nothing: typeorm is imported, the DataSource opened and the table created on first use.
 */
export class DatabaseStore
  implements
    PrunableSessionStore,
    ClosableSessionStore,
    StartupCheckedSessionStore,
    DiagnosingSessionStore,
    UserIndexedSessionStore
{
  readonly table: string;
  readonly dialect: Dialect;
  private readonly given: DataSource | undefined;
  private readonly sourceOptions: DataSourceOptions | undefined;
  private readonly sql: SessionSql;
  private readonly pruneInterval: number;
  private engine: Promise<Engine> | undefined;
  private opened: DataSource | undefined;
  /** @internal */
  readonly sweeper: Sweeper;
  private closed = false;
  private readonly now: () => number;

  /**
   * `engine.busyTimeout`: how long a SQLite statement is retried, on a timer, while another process
   * holds the file's lock (default 2000 ms); then the request that needed it gets a 503.
   */
  constructor(
    options: DatabaseDriverOptions = {},
    private readonly logger: Logger = new Logger('Session'),
    private readonly internals: DatabaseStoreInternals = {},
  ) {
    this.now = internals.now ?? (() => Date.now());
    const resolved = resolveDatabaseOptions(options);
    const source = resolved.dataSource;
    this.given = isDataSource(source) ? source : undefined;
    this.sourceOptions = isDataSource(source) ? undefined : source;
    this.dialect = dialectOf(sourceOptions(source)?.type);
    this.table = resolved.table;
    this.sql = sessionSql(this.dialect, this.table);
    this.pruneInterval = resolved.pruneInterval;
    this.sweeper = new Sweeper(
      () => this.sweep(),
      this.pruneInterval,
      (error) => this.logger.warn(`Pruning expired sessions failed: ${errorMessage(error)}`),
      internals.pruned,
    );
  }

  async get(id: string): Promise<SessionRecord | 'retired' | undefined> {
    const row = await (await this.ready()).get(id, this.now());
    if (row === undefined) return undefined;
    return row.payload === TOMBSTONE ? 'retired' : toRecord(row, id);
  }

  async apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean> {
    return (await this.ready()).apply(id, changes, meta);
  }

  async retire(id: string, until: number): Promise<SessionRecord | undefined> {
    return (await this.ready()).retire(id, until, this.now());
  }

  async destroy(id: string): Promise<void> {
    await (await this.ready()).destroy(id);
  }

  /** The user's live sessions: one indexed SELECT on user_id (users.sql.ts). */
  async listUser(userId: string): Promise<Array<{ id: string; record: SessionRecord }>> {
    const rows = await (await this.ready()).listUser(userId, this.now());
    return rows.flatMap(({ id, ...row }) => {
      const record = toRecord(row, id);
      // The payload says who the session is bound to: a row whose payload disagrees is not listed.
      return record?.user?.id === userId ? [{ id, record }] : [];
    });
  }

  /** What a database error says about the setup, when it is a setup mistake rather than an outage. */
  misconfiguration(error: unknown): string | undefined {
    if (error instanceof SchemaOutdatedError) return error.fix;
    const cause = (error as { driverError?: unknown }).driverError ?? error;
    const code = String((cause as { code?: unknown } | undefined)?.code ?? '');
    if (['28P01', '28000', 'ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR'].includes(code)) {
      return 'the database refused the user or password of database.dataSource';
    }
    if (['3D000', 'ER_BAD_DB_ERROR'].includes(code)) {
      return 'the database named in database.dataSource does not exist: create it, or name another';
    }
    return undefined;
  }

  /**
   * At start-up: typeorm and the database's client must be installed when the driver opens its own
   * DataSource (nothing is connected here).
   */
  async checkAtStartup(): Promise<void> {
    if (this.given !== undefined) return;
    const client = CLIENTS[this.dialect];
    for (const name of ['typeorm', client]) {
      try {
        await (this.internals.importer ?? ((n: string) => import(n)))(name);
      } catch (error) {
        throw new SessionConfigError(
          'SESSION_DATABASE_TYPEORM_MISSING',
          `the database driver needs ${name}: npm install typeorm ${client} (${errorMessage(error)})`,
        );
      }
    }
  }

  /**
   * Deletes expired rows in batches, yielding to requests between batches: 1000 rows on PostgreSQL and
   * MySQL/MariaDB, where a large backlog goes first, in the table's own order, one slice at a time (see
   * ServerEngine.pruneBacklog); on SQLite, whose statements hold the app's event loop, as many as take
   * about SQLITE_PRUNE_SLICE ms.
   */
  prune(): Promise<number> {
    return this.sweeper.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.sweeper.stop();
    await this.engine?.catch(() => undefined);
    const opened = this.opened;
    this.opened = undefined;
    if (opened?.isInitialized) await opened.destroy();
  }

  private async sweep(): Promise<number> {
    const engine = await this.ready();
    const now = this.now();
    const backlog = await engine.pruneBacklog?.(now, () => this.closed);
    let total = backlog?.count ?? 0;
    for (;;) {
      if (backlog?.complete || this.closed) return total;
      const { count, more } = await engine.pruneBatch(now);
      total += count;
      if (!more) return total;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** The engine, started on first use; a failed start (database down) is tried again by the next call. */
  private ready(): Promise<Engine> {
    if (this.closed) return Promise.reject(new Error('the database session store is closed'));
    this.engine ??= this.start().catch((error: unknown) => {
      this.engine = undefined;
      throw error;
    });
    return this.engine;
  }

  private async start(): Promise<Engine> {
    const dataSource = this.given ?? (await this.open());
    if (!dataSource.isInitialized) {
      throw new SessionConfigError(
        'SESSION_DATABASE_NOT_INITIALIZED',
        'the DataSource given as database.dataSource is not initialized: call initialize() first (TypeOrmModule does)',
      );
    }
    try {
      const engine =
        this.dialect === 'sqlite'
          ? new SqliteEngine(dataSource, this.sql, this.internals.maxSize ?? Infinity, {
              ...this.internals,
              owned: dataSource === this.opened,
            })
          : new ServerEngine(dataSource, this.sql, this.internals.maxSize ?? Infinity);
      await engine.createTable();
      this.sweeper.start();
      return engine;
    } catch (error) {
      await this.release(dataSource);
      throw error;
    }
  }

  private async open(): Promise<DataSource> {
    let typeorm: typeof import('typeorm');
    try {
      typeorm = await import('typeorm');
    } catch (error) {
      throw new SessionConfigError(
        'SESSION_DATABASE_TYPEORM_MISSING',
        `the database driver needs typeorm and the database's client: npm install typeorm better-sqlite3 (or pg, mysql2) (${errorMessage(error)})`,
      );
    }
    const dataSource = new typeorm.DataSource({ ...this.sourceOptions! });
    this.opened = dataSource;
    try {
      await dataSource.initialize();
    } catch (error) {
      await this.release(dataSource);
      throw error;
    }
    return dataSource;
  }

  /** Closes a DataSource this store opened whose start failed, so the next try opens a fresh one. */
  private async release(dataSource: DataSource): Promise<void> {
    if (this.opened !== dataSource) return;
    this.opened = undefined;
    if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
  }
}

function isDataSource(source: DataSource | DataSourceOptions): source is DataSource {
  return typeof (source as Partial<DataSource>).initialize === 'function';
}

/** The options of a DataSource, or the options given for one. */
function sourceOptions(source: DataSource | DataSourceOptions): DataSourceOptions | undefined {
  return isDataSource(source) ? source.options : source;
}
