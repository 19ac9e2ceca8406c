/**
 * A MySQL/MariaDB pass over a large backlog of expired rows, one slice of the key space at a time,
 * walked in key order (see BacklogSql in database.sql.ts).
 */
import { randomInt } from 'node:crypto';
import type { DataSource, QueryRunner } from 'typeorm';
import { BACKLOG_MIN, BACKLOG_SLICES, BACKLOG_WORKERS, type BacklogSql } from './database.sql.js';
import { pruneStatement, uncommitted } from './rows.js';

/** Above every session id (base64url), for the end of a key range. */
const LAST_KEY = '\u007f';
/** The characters of base64url in ASCII order: session ids start with one of them. */
const ID_CHARS = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';

/** [from, to) of a slice of the key space: together the slices cover every id from '' to LAST_KEY. */
function sliceBounds(slice: number): [string, string] {
  const at = (k: number) => ID_CHARS[Math.floor((k * ID_CHARS.length) / BACKLOG_SLICES)];
  return [slice === 0 ? '' : at(slice), slice === BACKLOG_SLICES - 1 ? LAST_KEY : at(slice + 1)];
}

export class MysqlBacklog {
  constructor(
    private readonly dataSource: DataSource,
    private readonly sql: BacklogSql,
  ) {}

  /**
   * MySQL/MariaDB: when at least BACKLOG_MIN rows and an eighth of the table have expired, one pass
   * over the BACKLOG_SLICES slices of the key space, from a random one round, by BACKLOG_WORKERS
   * workers at once (a connection each): a slice whose named lock another pruner holds is skipped,
   * and waited for once the others are done (it is then cheap: the expiry index shows what is left).
   * Pruners in other processes thus work on other slices, and never on the same rows at once.
   */
  async prune(now: number, stopped: () => boolean): Promise<number> {
    const backlog = this.sql;
    if (!(await this.hasBacklog(backlog, now))) return 0;
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
      total += await pruneStatement(runner, backlog.deleteRange, [lower, upper, now]);
      if (row === undefined) break;
      lower = upper;
      await new Promise((resolve) => setImmediate(resolve));
    }
    return total;
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
}
