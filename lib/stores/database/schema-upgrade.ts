/**
 * A sessions table made before the user index (by an earlier version, or by a migration written from
 * it) gains its columns and index on first use, without losing a row: nullable columns (existing rows
 * are anonymous sessions) and an index built over the table. Where the database user may not alter
 * the table, first use fails with an error naming the statements to run.
 */
import { errorMessage } from '../../session.errors.js';
import type { SessionSql } from './database.sql.js';

/** The table lacks the user index and this database user could not add it: the statements say what to run. */
export class SchemaOutdatedError extends Error {
  /** What to do: the statements to run, in order. */
  readonly fix: string;

  constructor(table: string, missing: readonly Missing[], cause: unknown) {
    super(
      `the sessions table '${table}' lacks the user index and the database refused to add it: ${errorMessage(cause)}`,
      { cause },
    );
    this.name = 'SchemaOutdatedError';
    const columns = missing.flatMap((m) => (m.column === undefined ? [] : [m.column]));
    const parts = [
      ...(columns.length > 0 ? [`the columns ${columns.join(', ')}`] : []),
      ...(missing.some((m) => m.column === undefined) ? ['the index on user_id'] : []),
    ];
    const statements = missing.map((m) => m.statement).join('; ');
    this.fix = `add ${parts.join(' and ')} to the sessions table '${table}' (the user index): ${statements}`;
  }
}

/** A part of the user index the table lacks: a column, or (no column) the index. */
interface Missing {
  column?: string;
  statement: string;
}

type Query = (sql: string, params?: unknown[]) => Promise<unknown[]>;

/**
 * PostgreSQL, MySQL/MariaDB: adds what the table lacks of the user index. Each part is looked for
 * first, so a table that has it all needs no ALTER privilege. When another process adds a part at
 * the same moment, one may fail: it is looked for again, and is there all the same.
 */
export async function upgradeServerTable(query: Query, sql: SessionSql): Promise<void> {
  const missing = await missingParts(query, sql);
  if (missing.length === 0) return;
  try {
    for (const { statement } of missing) await query(statement);
  } catch (error) {
    const left = await missingParts(query, sql);
    if (left.length > 0) throw new SchemaOutdatedError(sql.table, left, error);
  }
}

async function missingParts(query: Query, sql: SessionSql): Promise<Missing[]> {
  const { upgrade, hasIndex, createIndex } = sql.users;
  const missing: Missing[] = [];
  for (const column of upgrade) {
    if (!(await succeeds(query(column.probe)))) missing.push({ column: column.name, statement: column.add });
  }
  const indexed = hasIndex !== undefined && (await query(hasIndex).catch(() => [])).length > 0;
  if (!indexed) missing.push({ statement: createIndex });
  return missing;
}

function succeeds(work: Promise<unknown>): Promise<boolean> {
  return work.then(
    () => true,
    () => false,
  );
}

/** What the SQLite engine needs of its connection here. */
interface SqliteSchema {
  prepare(sql: string): unknown;
  exec(sql: string): unknown;
}

/**
 * SQLite, inside the transaction that creates the table: adds the columns it lacks and the index
 * (IF NOT EXISTS). SQLite has no privileges: whoever may write the file may alter the table, and what
 * fails here (a read-only file, a full disk) is a fault, answered as one.
 */
export function upgradeSqliteTable(connection: SqliteSchema, sql: SessionSql): void {
  for (const column of sql.users.upgrade) {
    try {
      connection.prepare(column.probe);
    } catch {
      connection.exec(column.add);
    }
  }
  connection.exec(sql.users.createIndex);
}
