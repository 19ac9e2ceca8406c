/**
 * A PostgreSQL pass over a large backlog of expired rows in heap order (see HeapBacklogSql in
 * database.sql.ts).
 */
import { randomInt } from 'node:crypto';
import type { DataSource, QueryRunner } from 'typeorm';
import { BACKLOG_MIN, BACKLOG_SLICES, type HeapBacklogSql } from './database.sql.js';
import { pruneStatement } from './rows.js';

/**
 * Rows (expired or not) one DELETE of the pass covers, as pages by the table's rows per page. Each is
 * a transaction of its own, with its commit (300 000 rows of 1 KB: 5.4 s at 2000 rows a DELETE, 4 s
 * at 8000, 3.8 s at 30 000, as fast as the single DELETE beside it, on a server with fsync off; with
 * it on, each commit costs more). Only expired rows are locked, and only until that DELETE commits.
 */
const HEAP_DELETE = 30_000;
/** At most this many pages to a DELETE (32 MB of heap). */
const HEAP_DELETE_PAGES = 4096;

interface HeapSize {
  rows: unknown;
  pages: unknown;
  ranges: unknown;
}

export class PostgresBacklog {
  constructor(
    private readonly dataSource: DataSource,
    private readonly sql: HeapBacklogSql,
  ) {}

  /**
   * When at least BACKLOG_MIN rows and an eighth of the table have expired (and the server has TID
   * range scans, PostgreSQL 14+), one pass over the table's pages as they are now, in BACKLOG_SLICES
   * slices from a random one round. A slice is taken under an advisory lock; one that another
   * pruner holds is left to it. `complete` when this pass went over every page: then no row that had
   * expired by `now` is left (an expired row is never written again, so it cannot move behind the
   * pass), and no batch need walk the expiry index, whose entries for the deleted rows stay until
   * VACUUM (300 000 of them took a second to step over). Otherwise batches in expiry order follow.
   */
  async prune(now: number, stopped: () => boolean): Promise<{ count: number; complete: boolean }> {
    const none = { count: 0, complete: false };
    const runner = this.dataSource.createQueryRunner();
    try {
      const [size] = (await runner.query(this.sql.size)) as HeapSize[];
      const pages = Number(size?.pages ?? 0);
      if (size?.ranges !== true || pages === 0) return none;
      // reltuples is -1 until the table was first vacuumed or analyzed: then a guess of 100 a page.
      const known = Number(size.rows ?? -1);
      const rows = Math.max(1, known >= 0 ? known : pages * 100);
      const cap = Math.max(BACKLOG_MIN, Math.ceil(rows / 8));
      const [expired] = (await runner.query(this.sql.count, [now, cap])) as { n: unknown }[];
      if (Number(expired?.n) < cap) return none;
      const step = Math.min(HEAP_DELETE_PAGES, Math.max(1, Math.round((HEAP_DELETE * pages) / rows)));
      const first = randomInt(BACKLOG_SLICES);
      let count = 0;
      let complete = true;
      for (let i = 0; i < BACKLOG_SLICES; i++) {
        const slice = (first + i) % BACKLOG_SLICES;
        const from = Math.floor((slice * pages) / BACKLOG_SLICES);
        // The last slice runs to the end of the table, rows added since the size was read included.
        const last = slice === BACKLOG_SLICES - 1;
        const to = last ? Infinity : Math.floor(((slice + 1) * pages) / BACKLOG_SLICES);
        const done = await this.pruneSlice(runner, slice, from, to, step, now, stopped);
        if (done === undefined) complete = false;
        else count += done;
      }
      return { count, complete: complete && !stopped() };
    } finally {
      await runner.release();
    }
  }

  /**
   * The expired rows on pages from <= page < to, `step` pages to a DELETE, under the slice's lock;
   * undefined when another pruner holds it.
   */
  private async pruneSlice(
    runner: QueryRunner,
    slice: number,
    from: number,
    to: number,
    step: number,
    now: number,
    stopped: () => boolean,
  ): Promise<number | undefined> {
    if (stopped()) return undefined;
    const [lock] = (await runner.query(this.sql.lockSlice, [slice])) as { got: unknown }[];
    if (lock?.got !== true) return undefined;
    let total = 0;
    try {
      const end = Number.isFinite(to) ? to : from + (await this.pagesAfter(runner, from));
      for (let page = from; page < end && !stopped(); page += step) {
        const upper = Math.min(page + step, end);
        // The last DELETE of the last slice reaches past any page the table has.
        const open = upper === end && !Number.isFinite(to);
        const range = [`(${page},0)`, open ? `(${2 ** 32 - 1},0)` : `(${upper},0)`];
        total += await pruneStatement(runner, this.sql.deleteRange, [...range, now]);
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      await runner.query(this.sql.unlockSlice, [slice]);
    }
    return total;
  }

  /** The table's pages from `from` on, as it is now. */
  private async pagesAfter(runner: QueryRunner, from: number): Promise<number> {
    const [size] = (await runner.query(this.sql.size)) as HeapSize[];
    return Math.max(1, Number(size?.pages ?? 0) - from);
  }
}
