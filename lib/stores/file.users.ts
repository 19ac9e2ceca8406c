/**
 * The file store's user index: one file per user in the session directory, `<key>.user`, its key the
 * SHA-256 of the user id in base64url (a user id may hold any character: it never becomes a name),
 * holding the user's sessions as `[id, signedInAt, expiresAt]`. Entries are hints, checked against
 * the session files whenever they are read: one whose file is missing, expired, retired or bound to
 * another user is dropped. No live session is ever missing from its user's index, because
 * - a session file becomes bound to a user only under that user's lock, after the entry is written;
 * - an entry is dropped only under that user's lock, once its session file was seen not bound to
 *   that user (and an entry that looks expired is checked too: a request may have extended it).
 * Locks are taken in one order, a user's then a session's, never a user's while holding a session's:
 * retire, destroy and an unbinding change set drop their id once the session's lock is released.
 */
import { createHash } from 'node:crypto';
import type { SessionRecord, SessionUser, UserLimit } from '../core/change-set.js';
import { SESSION_ID, readText, recordOf, removeFile, writeJson, type Stored } from './file.format.js';
import { overLimit, type UserEntry } from './user-index.js';

/** A user's index file, `<key>.user`: the only files the sweep reads as an index. */
export const USER_FILE = /^([A-Za-z0-9_-]{43})\.user$/;

/** The name of a user's index file and lock: SHA-256 of the user id, base64url (43 characters). */
export function userKey(userId: string): string {
  return createHash('sha256').update(userId, 'utf8').digest('base64url');
}

/** What the index needs of the store. */
export interface IndexHost {
  /** Runs `work` holding the lock named `name` (a user's is `<key>.user`), in the checked directory. */
  locked<T>(name: string, work: () => Promise<T>): Promise<T>;
  /** A session file's live content: undefined when it is missing, expired or no session file. */
  read(id: string): Promise<Stored | undefined>;
  /** The path of a file in the session directory. */
  pathOf(name: string): string;
  now(): number;
  /** Told an index update that failed after the change that called for it was done. */
  failed(error: unknown): void;
}

/** A live session file, as `check` found it. */
type Live = SessionRecord & { expiresAt: number };

/** One user's index as read from its file: entries by id, what was dropped, whether to write it. */
class Index {
  changed = false;
  readonly dropped: string[] = [];

  constructor(
    readonly key: string,
    readonly entries: Map<string, UserEntry>,
    /** Whether its file is there. */
    public exists: boolean,
  ) {}

  put(entry: UserEntry): void {
    const old = this.entries.get(entry.id);
    if (old?.signedInAt === entry.signedInAt && old.expiresAt === entry.expiresAt) return;
    this.entries.set(entry.id, entry);
    this.changed = true;
  }

  drop(id: string): void {
    if (this.entries.delete(id)) {
      this.dropped.push(id);
      this.changed = true;
    }
  }
}

export class FileUserIndex {
  constructor(private readonly host: IndexHost) {}

  /**
   * Binds session `entry.id` to `user`. Under the user's lock: counts the user's other live sessions
   * against `limit` (throws SessionUserLimitError, having written nothing, when it rejects); writes
   * the entry; runs `write` (the change set, under the session's lock); then retires with `retire`
   * the sessions the limit revokes, adds their ids to `limit.revoked` and drops them. Resolves to
   * what `write` resolved to; a write refused or failed retires nothing, and its entry is checked
   * again.
   */
  bind(
    user: SessionUser,
    entry: UserEntry,
    limit: UserLimit | undefined,
    write: () => Promise<boolean>,
    retire: (id: string) => Promise<SessionRecord | undefined>,
  ): Promise<boolean> {
    const owns = (found: Live) => found.user?.id === user.id;
    return this.locked(userKey(user.id), async (index) => {
      let revoked: UserEntry[] = [];
      if (limit === undefined) {
        await this.check(index, owns, (e) => e.expiresAt <= this.host.now());
      } else {
        const counted = (e: UserEntry) => e.id !== entry.id && e.id !== limit.replaces;
        revoked = overLimit(await this.check(index, owns, counted), limit);
      }
      index.put(entry);
      await this.save(index);
      // Refused or failed: the entry stays only if the session file is bound to the user all the same.
      const recheck = () => this.check(index, owns, (e) => e.id === entry.id).then(() => this.save(index));
      let written: boolean;
      try {
        written = await write();
      } catch (error) {
        await recheck().catch(() => undefined);
        throw error;
      }
      if (!written) {
        await recheck();
        return false;
      }
      for (const { id } of revoked) {
        if ((await retire(id)) !== undefined) limit!.revoked.push(id);
        index.drop(id);
      }
      await this.save(index);
      return written;
    });
  }

  /**
   * The user's live sessions, read without the lock (files are replaced whole), and the ids of the
   * entries found stale, for `drop` to check again under the lock.
   */
  async list(
    userId: string,
  ): Promise<{ found: Array<{ id: string; record: SessionRecord }>; stale: string[] }> {
    const index = await this.load(userKey(userId));
    const live = await this.check(
      index,
      (found) => found.user?.id === userId,
      () => true,
    );
    return { found: live.map(({ id, found }) => ({ id, record: recordOf(found) })), stale: index.dropped };
  }

  /**
   * Under the user's lock, drops the entries of `ids` whose session files are not bound to the user
   * (any more), and the expired ones; the file goes with its last entry.
   */
  drop(userId: string, ids: readonly string[]): Promise<void> {
    const now = this.host.now();
    return this.locked(userKey(userId), async (index) => {
      await this.check(
        index,
        (found) => found.user?.id === userId,
        (e) => ids.includes(e.id) || e.expiresAt <= now,
      );
      await this.save(index);
    });
  }

  /**
   * `drop` once the change that takes the ids from the user is done (never while holding a session's
   * lock): a failure is told to `failed`, and the entries go when the index is next read or pruned.
   */
  async leave(userId: string, ids: string | readonly string[]): Promise<void> {
    await this.drop(userId, typeof ids === 'string' ? [ids] : ids).catch((error: unknown) =>
      this.host.failed(error),
    );
  }

  /** For prune(): checks every entry of the index file `<key>.user`; removes the file when none is live. */
  sweep(key: string): Promise<void> {
    return this.locked(key, async (index) => {
      await this.check(
        index,
        (found) => found.user !== undefined && userKey(found.user.id) === key,
        () => true,
      );
      await this.save(index);
    });
  }

  /**
   * Reads the session files of the entries `which` picks: each live one bound to the user (`owns`)
   * gets its file's sign-in time and expiry; the others are dropped.
   */
  private async check(
    index: Index,
    owns: (found: Live) => boolean,
    which: (entry: UserEntry) => boolean,
  ): Promise<Array<UserEntry & { found: Live }>> {
    const live: Array<UserEntry & { found: Live }> = [];
    for (const entry of [...index.entries.values()].filter(which)) {
      const found = await this.host.read(entry.id);
      if (found === undefined || 'retired' in found || !owns(found)) {
        index.drop(entry.id);
        continue;
      }
      const checked = { id: entry.id, signedInAt: found.user!.signedInAt, expiresAt: found.expiresAt };
      if (checked.signedInAt !== entry.signedInAt || checked.expiresAt !== entry.expiresAt) {
        index.entries.set(entry.id, checked);
        index.changed = true;
      }
      live.push({ ...checked, found });
    }
    return live;
  }

  private locked<T>(key: string, work: (index: Index) => Promise<T>): Promise<T> {
    return this.host.locked(`${key}.user`, async () => work(await this.load(key)));
  }

  /** The index file of `key`; one that is missing, or not an index, holds no entry. */
  private async load(key: string): Promise<Index> {
    const text = await readText(this.host.pathOf(`${key}.user`));
    const entries = new Map<string, UserEntry>();
    for (const [id, signedInAt, expiresAt] of parse(text)) entries.set(id, { id, signedInAt, expiresAt });
    return new Index(key, entries, text !== undefined);
  }

  /** Writes the index when it changed (0600, through a temp file); removes it once it has no entry. */
  private async save(index: Index): Promise<void> {
    const empty = index.entries.size === 0;
    if (!index.changed && !(empty && index.exists)) return;
    const file = this.host.pathOf(`${index.key}.user`);
    if (empty) await removeFile(file);
    else
      await writeJson(
        file,
        [...index.entries.values()].map((e) => [e.id, e.signedInAt, e.expiresAt]),
      );
    index.changed = false;
    index.exists = !empty;
  }
}

/** The entries of an index file's text: `[[id, signedInAt, expiresAt], ...]`; whatever else is none. */
function parse(text: string | undefined): Array<[string, number, number]> {
  let value: unknown;
  try {
    value = text === undefined ? [] : JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(value)) return [];
  return value.filter(
    (e): e is [string, number, number] =>
      Array.isArray(e) &&
      typeof e[0] === 'string' &&
      SESSION_ID.test(e[0]) &&
      typeof e[1] === 'number' &&
      typeof e[2] === 'number',
  );
}
