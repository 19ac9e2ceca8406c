/** What the database engines share: the row, the engine contract, and the helpers on rows and statements. */
import type { QueryRunner } from 'typeorm';
import { isBag } from '../../core/json-value.js';
import { SessionTooLargeError } from '../../session.errors.js';
import type { SessionChanges, SessionMeta, SessionRecord, SessionUser } from '../session-store.js';
import { overLimit } from '../user-index.js';
import { readPayload, writePayload } from './payload.js';

/** A row as the drivers return it: PostgreSQL and MySQL give bigint columns as strings. */
export interface Row {
  payload: string;
  created_at: number | string;
  last_activity: number | string;
  expires_at?: number | string;
}

/** A row of a user's list, with its id. */
export interface UserRow extends Row {
  id: string;
}

/** What a binding under users.maxPerUser reads of the user's other live rows. */
export interface MemberRow {
  id: string;
  signed_in_at: number | string | null;
}

/** How one engine runs the statements: each write is one transaction. */
export interface Engine {
  createTable(): Promise<void>;
  get(id: string, now: number): Promise<Row | undefined>;
  /** False, changing nothing, when the row is not live and `meta.create` is false (or it is a tombstone). */
  apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean>;
  /** Replaces a live row by a tombstone kept until `until`; the record it held, or undefined. */
  retire(id: string, until: number, now: number): Promise<SessionRecord | undefined>;
  destroy(id: string): Promise<void>;
  /** The user's live rows (user_id = userId), in one indexed read. */
  listUser(userId: string, now: number): Promise<UserRow[]>;
  /** Deletes a batch of expired rows; resolves to how many went and whether more may be left. */
  pruneBatch(now: number): Promise<{ count: number; more: boolean }>;
  /**
   * When the engine has a faster way through a large backlog of expired rows and there is one, deletes
   * most of them and resolves to how many went (`complete` when none expired by `now` can be left, so
   * no batch need look again); otherwise resolves to 0 at once.
   */
  pruneBacklog?(now: number, stopped: () => boolean): Promise<{ count: number; complete: boolean }>;
}
/**
 * The record a row holds; undefined when its payload is not a session (treated as missing). A row
 * written before the user index has no user and no policy in its payload: an anonymous session.
 */
export function toRecord(row: Row, id?: string): SessionRecord | undefined {
  try {
    const { data, flash, user, policy } = readPayload(row.payload, id);
    if (!isBag(data) || !isBag(flash)) return undefined;
    const record: SessionRecord = {
      data,
      flash,
      createdAt: Number(row.created_at),
      lastActivity: Number(row.last_activity),
    };
    if (isUser(user)) record.user = user;
    if (typeof policy === 'string') record.policy = policy;
    return record;
  } catch {
    return undefined;
  }
}

function isUser(user: unknown): user is SessionUser {
  const u = user as Partial<SessionUser> | undefined;
  return typeof u?.id === 'string' && typeof u.signedInAt === 'number';
}

/** The binding columns of a record: user_id and signed_in_at (both NULL when it is anonymous). */
export function bindingOf(record: SessionRecord | undefined): [string | null, number | null] {
  const user = record?.user;
  return user === undefined ? [null, null] : [user.id, user.signedInAt];
}

/**
 * The user whose bindings must be serialized for this write: the one it binds, when a limit
 * (users.maxPerUser) applies to it.
 */
export function limitedUser(changes: SessionChanges, meta: SessionMeta): string | undefined {
  return meta.limit !== undefined && changes.user ? changes.user.id : undefined;
}

/**
 * Which of the user's other live sessions a binding of `id` must retire to fit meta.limit, earliest
 * sign-ins first (neither `id` nor the session it replaces counts); throws SessionUserLimitError
 * when the limit rejects instead.
 */
export function overUserLimit(members: readonly MemberRow[], id: string, meta: SessionMeta): string[] {
  const others = members
    .filter((m) => m.id !== id && m.id !== meta.limit?.replaces)
    .map((m) => ({ id: m.id, signedInAt: Number(m.signed_in_at ?? 0), expiresAt: Infinity }));
  return overLimit(others, meta.limit).map((entry) => entry.id);
}

/** The payload of a retired id's row, kept until its expires_at: never a session. */
export const TOMBSTONE = 'retired';

/** Whether a row is a retired id's tombstone that has not expired. */
export function isTombstone(row: Row | undefined, now: number): boolean {
  return row !== undefined && row.payload === TOMBSTONE && Number(row.expires_at) > now;
}

/** The record the row of session `id` holds while it is live: not missing, expired or a tombstone. */
export function live(row: Row | undefined, now: number, id?: string): SessionRecord | undefined {
  return row !== undefined && Number(row.expires_at) > now ? toRecord(row, id) : undefined;
}

/** The payload writer: a session's JSON (its user and policy when it has them), refused past maxSize bytes. */
export function payloadOf(maxSize: number): (record: SessionRecord) => string {
  return (record) => {
    const json = writePayload(record.data, record.flash, record.user, record.policy);
    const size = Buffer.byteLength(json);
    if (size > maxSize) throw SessionTooLargeError.inStore(size, maxSize);
    return json;
  };
}

/** Deadlocks and serialization failures: the transaction is run again. */
export function isTransient(error: unknown): boolean {
  const cause = (error as { driverError?: { code?: unknown } }).driverError ?? error;
  const code = (cause as { code?: unknown } | undefined)?.code;
  return code === '40P01' || code === '40001' || code === 'ER_LOCK_DEADLOCK';
}

/**
 * One DELETE of expired rows in a READ COMMITTED transaction (no gap locks: requests inserting
 * sessions never wait on it), run again when it meets another pruner in a deadlock.
 */
export async function pruneStatement(runner: QueryRunner, sql: string, params: unknown[]): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      await runner.startTransaction('READ COMMITTED');
      const affected = (await runner.query(sql, params, true)).affected ?? 0;
      await runner.commitTransaction();
      return affected;
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      if (attempt >= 5 || !isTransient(error)) throw error;
    }
  }
}

/**
 * A read of the expiry index at READ UNCOMMITTED (MySQL/MariaDB). Right after a large delete, InnoDB's
 * purge has not yet removed the deleted rows' entries from the index; a consistent or locking read
 * checks each against its row (reading most of the table from disk), while this one skips them. A
 * dirty answer is harmless: every DELETE checks expires_at again on the committed row.
 */
export async function uncommitted(runner: QueryRunner, sql: string, params: unknown[]): Promise<unknown[]> {
  await runner.startTransaction('READ UNCOMMITTED');
  try {
    return (await runner.query(sql, params)) as unknown[];
  } finally {
    await runner.commitTransaction();
  }
}
