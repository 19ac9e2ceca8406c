import { SessionConfigError } from '../../session.errors.js';
import { userSql, type UserSql } from './users.sql.js';

/** The SQL families the database driver speaks. */
export type Dialect = 'postgres' | 'mysql' | 'sqlite';

/** TypeORM driver types the database driver supports, by dialect. */
const DIALECTS: Record<string, Dialect> = {
  postgres: 'postgres',
  mysql: 'mysql',
  mariadb: 'mysql',
  'better-sqlite3': 'sqlite',
};

export function dialectOf(type: unknown): Dialect {
  const dialect = typeof type === 'string' ? DIALECTS[type] : undefined;
  if (dialect === undefined) {
    throw new SessionConfigError(
      'SESSION_DATABASE_UNSUPPORTED',
      `the database driver supports TypeORM types ${Object.keys(DIALECTS)
        .map((t) => `'${t}'`)
        .join(
          ', ',
        )}, not '${String(type)}'; use another DataSource or SessionManager.extend() a store of your own`,
    );
  }
  return dialect;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Rows pruned by one statement: small enough that requests waiting on the table are not held long. */
export const PRUNE_BATCH = 1000;
/** Expired rows below which a backlog is never worth a pass over the whole table (MySQL/MariaDB). */
export const BACKLOG_MIN = 10_000;
/** Rows (expired or not) one DELETE of a backlog pass covers, in key order: a short transaction. */
export const BACKLOG_DELETE = 2000;
/**
 * Slices of the key space a backlog pass works through, each by one worker at a time (MySQL/MariaDB). A slice's
 * rows are about 1/16 of the table, so its pages stay in the buffer pool while they are deleted.
 */
export const BACKLOG_SLICES = 16;
/**
 * Slices one store works on at once, each on a connection of its own (MySQL/MariaDB): a pass waits
 * mostly on page reads, and a few at once keep the disk busy. The pool's other connections serve requests.
 */
export const BACKLOG_WORKERS = 3;

/**
 * A pass over a large backlog (MySQL/MariaDB), one slice of the key space at a time, walked in key
 * order: each step finds where the next BACKLOG_DELETE rows end and deletes the expired ones of that
 * range of the primary key. Each page of the table is thus read and changed once, and InnoDB's purge
 * follows on pages still in the buffer pool. A slice is worked on by one pruner at a time, under a
 * named lock (GET_LOCK), so pruners in several processes take different slices and never wait on
 * each other's rows.
 */
export interface BacklogSql {
  /** (now, cap): how many expired rows there are, counting no further than cap (index only). */
  count: string;
  /** (): the engine's estimate of the table's rows, or nothing. */
  tableRows: string;
  /** (now, from, to): a row when the slice from <= id < to has an expired row (index only). */
  pending: string;
  /** (from, to): the id BACKLOG_DELETE rows after from, with from <= id < to (nothing when there are fewer). */
  step: string;
  /** (from, upper, now): deletes the expired rows with from <= id < upper. */
  deleteRange: string;
  /** (slice, seconds): 1 when this connection got the slice's named lock within `seconds`. */
  lockSlice: string;
  /** (slice): gives the slice's named lock back. */
  unlockSlice: string;
}

/**
 * A PostgreSQL pass over a large backlog in heap order: each DELETE covers a range of the table's pages
 * (a TID range scan, PostgreSQL 14+), so each page is read and changed once, in the order it sits on
 * disk, as the peers' single DELETE does with its sequential scan; batches in expiry order change a
 * page again for each of its rows, about 7 times for 1 KB rows (300 000 rows of 1 KB: 24 s against
 * the single DELETE's 2.6 s). A DELETE leaves the indexes to VACUUM, so the heap is all it writes.
 */
export interface HeapBacklogSql {
  /** (now, cap): how many expired rows there are, counting no further than cap (index only). */
  count: string;
  /** (): the table's estimated rows, its pages, and whether the server has TID range scans. */
  size: string;
  /** (from, to, now): deletes the expired rows whose ctid is in [from, to) ('(page,0)' TIDs). */
  deleteRange: string;
  /** (slice): true when this connection got the slice's advisory lock (never waits). */
  lockSlice: string;
  /** (slice): gives the slice's advisory lock back. */
  unlockSlice: string;
}

/** Every statement the store runs, for one table in one dialect. Parameters are positional. */
export interface SessionSql {
  /** The table, as the options name it. */
  table: string;
  createTable: string[];
  /** (id, now): a record that has not expired. */
  get: string;
  /** (id): the row, locked for the rest of the transaction where the engine can lock rows. */
  lock: string;
  /** (id, payload, expires_at, last_activity, created_at, user_id, signed_in_at): inserts unless the id exists. */
  insert: string;
  /** (payload, expires_at, last_activity, created_at, id): the binding (user_id, signed_in_at) is left as it is. */
  update: string;
  /** (payload, expires_at, last_activity, created_at, user_id, signed_in_at, id): binds, unbinds or retires. */
  bind: string;
  /** (id) */
  delete: string;
  /** (now): deletes at most PRUNE_BATCH expired rows; SQLite (now, limit): at most `limit`. */
  prune: string;
  /**
   * MySQL/MariaDB, (now): a row when an expired row is left, read at READ UNCOMMITTED before `prune`.
   * Right after a large delete, InnoDB's purge has not yet removed the deleted rows' entries from the
   * expiry index: the locking scan of `prune` checks each against its row (reading most of the table
   * from disk, some 20 s for 300 000 rows of 1 KB), while this read skips them.
   */
  pruneProbe?: string;
  /** Selects nothing; fails when the table is missing. */
  probe: string;
  /** MySQL/MariaDB: the backlog pass. */
  backlog?: BacklogSql;
  /** PostgreSQL: the backlog pass. */
  heapBacklog?: HeapBacklogSql;
  /** The user index: its columns, index, reads and lock (users.sql.ts). */
  users: UserSql;
}

/** The SQL of the sessions table (`table` may be `schema.table`); rejects names that are not plain identifiers. */
export function sessionSql(dialect: Dialect, table: string): SessionSql {
  const parts = table.split('.');
  if (parts.length > 2 || !parts.every((part) => IDENTIFIER.test(part))) {
    throw new SessionConfigError(
      'SESSION_DATABASE_TABLE_INVALID',
      `database.table must be a table name such as 'sessions' or 'schema.sessions' (letters, digits, _), not '${table}'`,
    );
  }
  const q = (name: string) => (dialect === 'mysql' ? `\`${name}\`` : `"${name}"`);
  const t = parts.map(q).join('.');
  const index = `${parts[parts.length - 1]}_expires_at_idx`;
  const p = (n: number) => (dialect === 'postgres' ? `$${n}` : '?');
  const columns = 'id, payload, expires_at, last_activity, created_at, user_id, signed_in_at';
  const values = `${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}`;
  const set = `payload = ${p(1)}, expires_at = ${p(2)}, last_activity = ${p(3)}, created_at = ${p(4)}`;
  const users = userSql(dialect, {
    table: t,
    given: table,
    name: parts[parts.length - 1],
    schema: parts.length === 2 ? parts[0] : undefined,
    quote: q,
    param: p,
  });
  const common = {
    table,
    get: `SELECT payload, created_at, last_activity FROM ${t} WHERE id = ${p(1)} AND expires_at > ${p(2)}`,
    update: `UPDATE ${t} SET ${set} WHERE id = ${p(5)}`,
    bind: `UPDATE ${t} SET ${set}, user_id = ${p(5)}, signed_in_at = ${p(6)} WHERE id = ${p(7)}`,
    delete: `DELETE FROM ${t} WHERE id = ${p(1)}`,
    probe: `SELECT id FROM ${t} WHERE 1 = 0`,
    users,
  };
  const select = `SELECT payload, created_at, last_activity, expires_at FROM ${t} WHERE id = ${p(1)}`;
  switch (dialect) {
    case 'postgres':
      return {
        ...common,
        createTable: [
          `CREATE TABLE IF NOT EXISTS ${t} (id varchar(128) PRIMARY KEY, payload text NOT NULL, ` +
            `expires_at bigint NOT NULL, last_activity bigint NOT NULL, created_at bigint NOT NULL, ${users.columns})`,
          `CREATE INDEX IF NOT EXISTS ${q(index)} ON ${t} (expires_at)`,
          users.createIndex,
        ],
        lock: `${select} FOR UPDATE`,
        insert: `INSERT INTO ${t} (${columns}) VALUES (${values}) ON CONFLICT (id) DO NOTHING`,
        // Rows a request holds are skipped, and the outer condition is checked again on the latest row.
        prune:
          `DELETE FROM ${t} WHERE id IN (SELECT id FROM ${t} WHERE expires_at <= $1 ` +
          `LIMIT ${PRUNE_BATCH} FOR UPDATE SKIP LOCKED) AND expires_at <= $1`,
        heapBacklog: {
          count: `SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${t} WHERE expires_at <= $1 LIMIT $2) expired`,
          size:
            `SELECT c.reltuples AS rows, pg_relation_size(c.oid) / current_setting('block_size')::int AS pages, ` +
            `current_setting('server_version_num')::int >= 140000 AS ranges FROM pg_class c WHERE c.oid = '${t}'::regclass`,
          deleteRange: `DELETE FROM ${t} WHERE ctid >= $1::tid AND ctid < $2::tid AND expires_at <= $3`,
          // Advisory locks are database-wide: the first key says which table, the second which slice.
          lockSlice: `SELECT pg_try_advisory_lock(hashtext('nest-session:${table}'), $1) AS got`,
          unlockSlice: `SELECT pg_advisory_unlock(hashtext('nest-session:${table}'), $1) AS released`,
        },
      };
    case 'mysql':
      return {
        ...common,
        createTable: [
          `CREATE TABLE IF NOT EXISTS ${t} (id varchar(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY, ` +
            'payload longtext NOT NULL, expires_at bigint NOT NULL, last_activity bigint NOT NULL, ' +
            `created_at bigint NOT NULL, ${users.columns}, KEY ${q(index)} (expires_at)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
        ],
        lock: `${select} FOR UPDATE`,
        // An existing row is locked exclusively (a no-op update), never shared: no lock upgrade to deadlock on.
        insert: `INSERT INTO ${t} (${columns}) VALUES (${values}) ON DUPLICATE KEY UPDATE id = id`,
        prune: `DELETE FROM ${t} WHERE expires_at <= ? ORDER BY expires_at LIMIT ${PRUNE_BATCH}`,
        pruneProbe: `SELECT expires_at FROM ${t} FORCE INDEX (${q(index)}) WHERE expires_at <= ? LIMIT 1`,
        backlog: {
          count: `SELECT COUNT(*) AS n FROM (SELECT id FROM ${t} WHERE expires_at <= ? LIMIT ?) expired`,
          tableRows:
            'SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE ' +
            `TABLE_SCHEMA = ${parts.length === 2 ? `'${parts[0]}'` : 'DATABASE()'} AND TABLE_NAME = '${parts[parts.length - 1]}'`,
          pending: `SELECT id FROM ${t} FORCE INDEX (${q(index)}) WHERE expires_at <= ? AND id >= ? AND id < ? LIMIT 1`,
          // Reads the rows the next DELETE will visit, in key order: their pages are then in the pool.
          step: `SELECT id FROM ${t} FORCE INDEX (PRIMARY) WHERE id >= ? AND id < ? ORDER BY id LIMIT 1 OFFSET ${BACKLOG_DELETE}`,
          deleteRange: `DELETE FROM ${t} WHERE id >= ? AND id < ? AND expires_at <= ?`,
          // Named locks are server-wide: the name says which database and table (at most 64 characters).
          lockSlice: `SELECT GET_LOCK(CONCAT('nest-session:', SHA1(CONCAT(DATABASE(), '/', '${table}', '#', ?))), ?) AS got`,
          unlockSlice: `SELECT RELEASE_LOCK(CONCAT('nest-session:', SHA1(CONCAT(DATABASE(), '/', '${table}', '#', ?)))) AS released`,
        },
      };
    case 'sqlite': {
      const schema = parts.length === 2 ? `${q(parts[0])}.` : '';
      return {
        ...common,
        createTable: [
          `CREATE TABLE IF NOT EXISTS ${t} (id text PRIMARY KEY NOT NULL, payload text NOT NULL, ` +
            `expires_at integer NOT NULL, last_activity integer NOT NULL, created_at integer NOT NULL, ${users.columns})`,
          `CREATE INDEX IF NOT EXISTS ${schema}${q(index)} ON ${q(parts[parts.length - 1])} (expires_at)`,
        ],
        // Writes are serialized by the database (BEGIN IMMEDIATE) and, in-process, by running synchronously.
        lock: select,
        insert: `INSERT INTO ${t} (${columns}) VALUES (${values}) ON CONFLICT (id) DO NOTHING`,
        prune: `DELETE FROM ${t} WHERE id IN (SELECT id FROM ${t} WHERE expires_at <= ? LIMIT ?)`,
      };
    }
  }
}
