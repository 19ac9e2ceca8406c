import type { DataSource, QueryRunner } from 'typeorm';
import { applyChanges, emptyRecord } from '../../core/change-set.js';
import type { SessionChanges, SessionMeta, SessionRecord } from '../session-store.js';
import { PRUNE_BATCH, type SessionSql } from './database.sql.js';
import { MysqlBacklog } from './mysql-backlog.js';
import { PostgresBacklog } from './postgres-backlog.js';
import {
  TOMBSTONE,
  bindingOf,
  isTombstone,
  isTransient,
  limitedUser,
  live,
  overUserLimit,
  payloadOf,
  pruneStatement,
  uncommitted,
  type Engine,
  type MemberRow,
  type Row,
  type UserRow,
} from './rows.js';
import { upgradeServerTable } from './schema-upgrade.js';

/** PostgreSQL and MySQL/MariaDB: pooled connections, `SELECT … FOR UPDATE` in a READ COMMITTED transaction. */
export class ServerEngine implements Engine {
  private readonly payload: (record: SessionRecord) => string;
  private readonly backlog: MysqlBacklog | PostgresBacklog | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly sql: SessionSql,
    maxSize: number,
  ) {
    this.payload = payloadOf(maxSize);
    if (sql.backlog !== undefined) this.backlog = new MysqlBacklog(dataSource, sql.backlog);
    else if (sql.heapBacklog !== undefined) this.backlog = new PostgresBacklog(dataSource, sql.heapBacklog);
  }

  /**
   * Creates the table unless it is there: a table made by a migration needs no CREATE privilege. When
   * two processes create it at the same moment, one may fail on the catalog: the table is there all the
   * same. A table made before the user index gains it (schema-upgrade.ts).
   */
  async createTable(): Promise<void> {
    if (!(await this.exists())) {
      try {
        for (const statement of this.sql.createTable) await this.dataSource.query(statement);
      } catch (error) {
        if (!(await this.exists())) throw error;
      }
    }
    await upgradeServerTable((sql, params) => this.dataSource.query(sql, params), this.sql);
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

  async apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean> {
    const { applied, revoked } = await this.retrying(
      (runner) => this.write(runner, id, changes, meta),
      limitedUser(changes, meta),
    );
    meta.limit?.revoked.push(...revoked);
    return applied;
  }

  retire(id: string, until: number, now: number): Promise<SessionRecord | undefined> {
    return this.retrying((runner) => this.retireRow(runner, id, until, now));
  }

  /** A live row becomes a tombstone kept until `until`, bound to no user; the record it held. */
  private async retireRow(runner: QueryRunner, id: string, until: number, now: number) {
    const [row] = (await runner.query(this.sql.lock, [id])) as Row[];
    const record = live(row, now, id);
    if (record !== undefined)
      await runner.query(this.sql.bind, [TOMBSTONE, until, now, row.created_at, null, null, id]);
    return record;
  }

  /** A transaction, run again on deadlocks and serialization failures. */
  private async retrying<T>(work: (runner: QueryRunner) => Promise<T>, user?: string): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transaction(work, user);
      } catch (error) {
        if (attempt >= 5 || !isTransient(error)) throw error;
      }
    }
  }

  listUser(userId: string, now: number): Promise<UserRow[]> {
    return this.dataSource.query(this.sql.users.list, [userId, now]);
  }

  async destroy(id: string): Promise<void> {
    await this.dataSource.query(this.sql.delete, [id]);
  }

  async pruneBatch(now: number): Promise<{ count: number; more: boolean }> {
    const runner = this.dataSource.createQueryRunner();
    try {
      if (this.sql.pruneProbe !== undefined) {
        const rows = await uncommitted(runner, this.sql.pruneProbe, [now]);
        if (rows.length === 0) return { count: 0, more: false };
      }
      const count = await pruneStatement(runner, this.sql.prune, [now]);
      return { count, more: count === PRUNE_BATCH };
    } finally {
      await runner.release();
    }
  }

  /** Most of a large backlog first (mysql-backlog.ts, postgres-backlog.ts); 0 at once when there is none. */
  async pruneBacklog(now: number, stopped: () => boolean): Promise<{ count: number; complete: boolean }> {
    if (this.backlog instanceof PostgresBacklog) return this.backlog.prune(now, stopped);
    return { count: (await this.backlog?.prune(now, stopped)) ?? 0, complete: false };
  }

  /**
   * Locks the row (creating it first when missing and meant to be created: insert-or-nothing, then
   * lock), merges, writes. A binding under users.maxPerUser holds the user's lock (see transaction())
   * and counts the user's other live rows first: past the limit it throws (the transaction is rolled
   * back: nothing written) or retires the earliest sign-ins in this transaction.
   */
  private async write(runner: QueryRunner, id: string, changes: SessionChanges, meta: SessionMeta) {
    const now = meta.lastActivity;
    const refused = { applied: false, revoked: [] as string[] };
    let [row] = (await runner.query(this.sql.lock, [id])) as Row[];
    if (isTombstone(row, now)) return refused; // retired: never written again
    let record = live(row, now, id);
    const wasLive = record !== undefined;
    if (!meta.create && !wasLive) return refused;
    const userId = limitedUser(changes, meta);
    const revoked =
      userId === undefined
        ? []
        : overUserLimit((await runner.query(this.sql.users.members, [userId, now])) as MemberRow[], id, meta);
    if (row === undefined) {
      await runner.query(this.sql.insert, [
        id,
        '{"data":{},"flash":{}}',
        meta.expiresAt,
        meta.lastActivity,
        meta.createdAt,
        null,
        null,
      ]);
      [row] = (await runner.query(this.sql.lock, [id])) as Row[];
      record = live(row, now, id);
    }
    const merged = applyChanges(record ?? emptyRecord(meta), changes, meta);
    const values = [this.payload(merged), meta.expiresAt, merged.lastActivity, merged.createdAt];
    // The binding columns are written only when the binding may change: a touch leaves the index alone.
    if (changes.user !== undefined || !wasLive)
      await runner.query(this.sql.bind, [...values, ...bindingOf(merged), id]);
    else await runner.query(this.sql.update, [...values, id]);
    const retired: string[] = [];
    for (const other of revoked) {
      if ((await this.retireRow(runner, other, meta.limit!.until, now)) !== undefined) retired.push(other);
    }
    return { applied: true, revoked: retired };
  }

  /**
   * A READ COMMITTED transaction. With `user`, it first takes the lock that serializes that user's
   * bindings (PostgreSQL: an advisory lock the commit gives back; MySQL/MariaDB: a named lock, given
   * back after the commit), so a binding reads the user's sessions only once the previous one is committed.
   */
  private async transaction<T>(work: (runner: QueryRunner) => Promise<T>, user?: string): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    const lock = user === undefined ? undefined : this.sql.users.lock;
    let locked = false;
    try {
      await runner.startTransaction('READ COMMITTED');
      try {
        if (lock !== undefined) {
          const [row] = (await runner.query(lock.take, [user])) as { got?: unknown }[];
          if (row?.got !== undefined && Number(row.got) !== 1) {
            throw new Error('timed out waiting for another sign-in of the same user (users.maxPerUser)');
          }
          locked = true;
        }
        const result = await work(runner);
        await runner.commitTransaction();
        return result;
      } catch (error) {
        await runner.rollbackTransaction().catch(() => undefined);
        throw error;
      }
    } finally {
      try {
        if (locked && lock?.release !== undefined) await runner.query(lock.release, [user]);
      } finally {
        await runner.release();
      }
    }
  }
}
