import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';

export type ServiceVariable =
  | 'NEST_SESSION_PG_URL'
  | 'NEST_SESSION_MARIADB_URL'
  | 'NEST_SESSION_REDIS_URL'
  /** Comma-separated redis:// URLs of the masters of a Redis Cluster (each has a replica). */
  | 'NEST_SESSION_REDIS_CLUSTER_URLS'
  /** Comma-separated host:port of three Sentinels watching a master with one replica. */
  | 'NEST_SESSION_REDIS_SENTINELS'
  /** The name the Sentinels know that master by. */
  | 'NEST_SESSION_REDIS_SENTINEL_NAME';

/**
 * The URL of a server the services suite runs against. A missing one fails the suite (it never skips),
 * saying how to start the servers.
 */
export function serviceUrl(name: ServiceVariable): string {
  const url = process.env[name];
  if (url) return url;
  throw new Error(
    `${name} is not set. The services suite runs against real PostgreSQL, MariaDB and Redis servers ` +
      '(a single Redis, a Redis Cluster and a Sentinel group) and ' +
      'never skips: start private ones with `bash .ci/services.sh start && source .ci/tmp/services.env` ' +
      '(Debian packages postgresql, mariadb-server, redis-server; .ci/run installs them), run ' +
      '`npm run test:services`, then `bash .ci/services.sh stop`. Or point the variable at a server of your own.',
  );
}

/** Where one test keeps its sessions: a DataSource's options and a table nobody else uses. */
export interface TestPlace {
  dataSource: DataSourceOptions;
  table: string;
}

export interface TestDatabase {
  readonly name: 'sqlite' | 'postgres' | 'mariadb';
  /** A place of its own: a new SQLite file in a temp dir, or a new table on the server. */
  fresh(): TestPlace;
  /** Drops what fresh() made. */
  cleanup(): Promise<void>;
}

export interface ServerDatabase extends TestDatabase {
  readonly url: string;
  /** Options for a connection to `url` instead of the server's (a proxy in front of it). */
  via(url: string): DataSourceOptions;
}

/** SQLite files in a temp dir of their own, one per fresh(). */
export function sqliteDatabase(): TestDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'nest-session-'));
  let files = 0;
  return {
    name: 'sqlite',
    fresh: () => ({
      dataSource: { type: 'better-sqlite3', database: join(dir, `sessions-${++files}.sqlite`) },
      table: 'sessions',
    }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The PostgreSQL or MariaDB server named by the environment, one new table per fresh(). */
export function serverDatabase(name: 'postgres' | 'mariadb'): ServerDatabase {
  const url = serviceUrl(name === 'postgres' ? 'NEST_SESSION_PG_URL' : 'NEST_SESSION_MARIADB_URL');
  const options = (at: string): DataSourceOptions =>
    name === 'postgres'
      ? { type: 'postgres', url: at, connectTimeoutMS: 5000 }
      : { type: 'mariadb', url: at, connectTimeout: 5000 };
  const tables: string[] = [];
  return {
    name,
    url,
    fresh: () => {
      const table = `t${process.pid}_${tables.length}_${Math.random().toString(36).slice(2, 8)}`;
      tables.push(table);
      return { dataSource: options(url), table };
    },
    via: options,
    cleanup: async () => {
      const dataSource = await new DataSource(options(url)).initialize();
      try {
        for (const table of tables.splice(0)) await dataSource.query(`DROP TABLE IF EXISTS ${table}`);
      } finally {
        await dataSource.destroy();
      }
    },
  };
}
