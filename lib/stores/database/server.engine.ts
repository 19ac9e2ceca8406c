import type { DataSource, QueryRunner } from 'typeorm';
import type { SessionSql } from './database.sql.js';
import { MysqlBacklog } from './mysql-backlog.js';
import {
  TOMBSTONE,
  current,
  isTombstone,
  isTransient,
  live,
  payloadOf,
  pruneStatement,
  uncommitted,
  type Engine,
  type Row,
} from './rows.js';
import { applyChanges } from '../../core/change-set.js';
import type { SessionChanges, SessionMeta, SessionRecord } from '../session-store.js';

/** PostgreSQL and MySQL/MariaDB: pooled connections, `SELECT … FOR UPDATE` in a READ COMMITTED transaction. */
export class ServerEngine implements Engine {
  private readonly payload: (record: SessionRecord) => string;
  private readonly backlog: MysqlBacklog | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly sql: SessionSql,
    maxSize: number,
  ) {
    this.payload = payloadOf(maxSize);
    this.backlog = sql.backlog === undefined ? undefined : new MysqlBacklog(dataSource, sql.backlog);
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
      return await pruneStatement(runner, this.sql.prune, [now]);
    } finally {
      await runner.release();
    }
  }

  /** MySQL/MariaDB: most of a large backlog first (mysql-backlog.ts); 0 at once elsewhere. */
  pruneBacklog(now: number, stopped: () => boolean): Promise<number> {
    return this.backlog === undefined ? Promise.resolve(0) : this.backlog.prune(now, stopped);
  }

  /**
   * Locks the row (creating it first when missing and meant to be created: insert-or-nothing, then
   * lock), merges, writes.
   */
  private async write(runner: QueryRunner, id: string, changes: SessionChanges, meta: SessionMeta) {
    let [row] = (await runner.query(this.sql.lock, [id])) as Row[];
    if (isTombstone(row, meta.lastActivity)) return false; // retired: never written again
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
