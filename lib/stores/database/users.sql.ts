/**
 * The SQL of the user index (UserIndexedSessionStore) in the sessions table: two nullable columns,
 * written by the statement that writes the row, and an index on user_id.
 *
 * - user_id: the user the session is bound to; NULL for an anonymous session and for a tombstone.
 * - signed_in_at: when it was bound (ms), to pick the earliest sign-ins under users.maxPerUser.
 *
 * The index holds only bound rows where the database can leave NULLs out (PostgreSQL, SQLite: a
 * partial index). It is on user_id alone: a touch, which moves expires_at, never changes it.
 */
/** How long a binding waits for another binding of the same user (MySQL/MariaDB's named lock), in seconds. */
export const USER_LOCK_WAIT = 10;

/** The table's names as the dialect writes them. */
export interface TableNames {
  /** The table, quoted ('schema.table' as "schema"."table"). */
  table: string;
  /** The table as given ('sessions', 'schema.sessions'). */
  given: string;
  /** The table's own name (without its schema). */
  name: string;
  /** The schema it names, if any. */
  schema?: string;
  quote(identifier: string): string;
  /** The n-th positional parameter (1-based). */
  param(n: number): string;
}

/** One column of the user index: how to tell it is there and how to add it. */
export interface UserColumn {
  name: string;
  /** Selects nothing; fails when the column is missing. */
  probe: string;
  add: string;
}

export interface UserSql {
  /** The columns' definitions for CREATE TABLE (and, on MySQL/MariaDB, the index's). */
  columns: string;
  /** The columns a table made before the user index gains. */
  upgrade: UserColumn[];
  /** (): a row when the table has an index that starts with user_id; none: CREATE INDEX IF NOT EXISTS answers. */
  hasIndex?: string;
  /** Creates the index on user_id (IF NOT EXISTS where the dialect has it). */
  createIndex: string;
  /** (user_id, now): the user's live rows with their records. */
  list: string;
  /** (user_id, now): id and signed_in_at of the user's live rows, for a binding under users.maxPerUser. */
  members: string;
  /**
   * (user_id): takes the lock that serializes the bindings of one user under users.maxPerUser, before
   * `members` is read; `release` gives it back after the commit. None on SQLite, where every write
   * transaction is serialized already (BEGIN IMMEDIATE).
   */
  lock?: { take: string; release?: string };
}

/** The columns' types in each dialect. */
const TYPES = {
  postgres: ['varchar(256)', 'bigint'],
  // Bytes, compared exactly (no collation, no trailing-space padding): a user id of 256 UTF-16 units is at most 768.
  mysql: ['varbinary(1024)', 'bigint'],
  sqlite: ['text', 'integer'],
} as const;

export function userSql(dialect: keyof typeof TYPES, names: TableNames): UserSql {
  const { table: t, quote: q, param: p } = names;
  const index = q(`${names.name}_user_id_idx`);
  const live = `FROM ${t} WHERE user_id = ${p(1)} AND expires_at > ${p(2)}`;
  const columns = ['user_id', 'signed_in_at'].map((name, i) => ({ name, type: TYPES[dialect][i] }));
  const common = {
    columns: columns.map((c) => `${c.name} ${c.type}`).join(', '),
    upgrade: columns.map((c) => ({
      name: c.name,
      probe: `SELECT ${c.name} FROM ${t} WHERE 1 = 0`,
      add: `ALTER TABLE ${t} ADD COLUMN ${c.name} ${c.type}`,
    })),
    list: `SELECT id, payload, created_at, last_activity, expires_at ${live}`,
    members: `SELECT id, signed_in_at ${live}`,
  };
  switch (dialect) {
    case 'postgres':
      return {
        ...common,
        hasIndex:
          'SELECT 1 AS found FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] ' +
          `WHERE i.indrelid = '${t}'::regclass AND a.attname = 'user_id' LIMIT 1`,
        createIndex: `CREATE INDEX IF NOT EXISTS ${index} ON ${t} (user_id) WHERE user_id IS NOT NULL`,
        // A transaction-level advisory lock on a 64-bit hash of the table and the user: held until the
        // commit, on every connection of every process. Two users whose hashes meet only wait in turn.
        lock: { take: `SELECT pg_advisory_xact_lock(hashtextextended('${names.given}@' || $1, 0))` },
      };
    case 'mysql': {
      const lockName = `CONCAT('nest-session:', SHA1(CONCAT(IFNULL(DATABASE(), ''), '/', '${names.given}', '@', ?)))`;
      return {
        ...common,
        columns: `${common.columns}, KEY ${index} (user_id)`,
        hasIndex:
          'SELECT 1 AS found FROM information_schema.STATISTICS WHERE ' +
          `TABLE_SCHEMA = ${names.schema === undefined ? 'DATABASE()' : `'${names.schema}'`} AND ` +
          `TABLE_NAME = '${names.name}' AND COLUMN_NAME = 'user_id' AND SEQ_IN_INDEX = 1 LIMIT 1`,
        createIndex: `CREATE INDEX ${index} ON ${t} (user_id)`,
        // A named lock is server-wide and outside the transaction: it is given back after the commit,
        // so the next binding of the user reads what this one wrote.
        lock: {
          take: `SELECT GET_LOCK(${lockName}, ${USER_LOCK_WAIT}) AS got`,
          release: `SELECT RELEASE_LOCK(${lockName}) AS released`,
        },
      };
    }
    case 'sqlite':
      return {
        ...common,
        createIndex:
          `CREATE INDEX IF NOT EXISTS ${names.schema === undefined ? '' : `${q(names.schema)}.`}${index} ` +
          `ON ${q(names.name)} (user_id) WHERE user_id IS NOT NULL`,
      };
  }
}
