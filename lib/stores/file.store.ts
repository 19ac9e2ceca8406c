import { Logger } from '@nestjs/common';
import { join, resolve } from 'node:path';
import { errorMessage } from '../session.errors.js';
import {
  SESSION_ID,
  checkId,
  readStored,
  recordOf,
  removeFile,
  writeStored,
  type Stored,
} from './file.format.js';
import type {
  ClosableSessionStore,
  DiagnosingSessionStore,
  PrunableSessionStore,
  StartupCheckedSessionStore,
  SessionChanges,
  SessionMeta,
  SessionRecord,
  UserIndexedSessionStore,
} from './session-store.js';
import { CheckedDirectory, UNSAFE_DIRECTORY_FIX, UnsafeDirectoryError } from './file.directory.js';
import { Batches, applyToFile, type ChangeSet, type Outcome, type Pending } from './file.batch.js';
import { describeFailure } from './file.errors.js';
import { resolveFileOptions, type FileStoreOptions } from './file.options.js';
import { SessionLocks } from './file.locks.js';
import { sweepDirectory } from './file.sweep.js';
import { FileUserIndex } from './file.users.js';
import { Sweeper } from './sweeper.js';

export {
  FILE_DEFAULTS,
  resolveFileOptions,
  type FileDriverOptions,
  type FileStoreOptions,
} from './file.options.js';

/**
 * One JSON file per session in a directory, as Laravel's, AdonisJS's and Lucid's file drivers keep
 * them, for several processes on one machine sharing that directory:
 * - every write goes to a temp file renamed over `<id>.json`, so a reader sees the old file or the
 *   new one, never half of one: reads take no lock;
 * - change sets are applied under a lock per session: in the process, a queue per id; between
 *   processes, a lock directory `<id>.lock` (proper-lockfile), so no process loses another's change;
 *   the change sets that waited for the lock are applied together, in order, with one write;
 * - a retired id's file holds a tombstone until its session would have expired;
 * - a user's sessions are listed in an index file per user, `<key>.user` (file.users.ts);
 * - file names come only from ids of the expected shape (base64url, 20 to 128 characters): anything
 *   else is never a path (reads find nothing, writes are refused).
 * Only the app's user can read them: the directory it creates is 0700, each file 0600, and a
 * directory it finds must be the app's user's alone (file.directory.ts), checked at start-up when it
 * is there, on first use, and after any failure. Constructing it touches nothing: the directory is
 * created and the sweep started on first write.
 */
export class FileStore
  implements
    PrunableSessionStore,
    ClosableSessionStore,
    StartupCheckedSessionStore,
    DiagnosingSessionStore,
    UserIndexedSessionStore
{
  readonly directory: string;
  private readonly pruneInterval: number;
  private readonly maxSize: number;
  /** @internal */
  readonly locks: SessionLocks;
  /** Per id, the change sets waiting for its lock, to be applied together. */
  private readonly batches = new Batches();
  /** The user index: one `<key>.user` file per user (file.users.ts). */
  private readonly users: FileUserIndex;
  /** The calls under way, which close() waits for (with the index work that follows their writes). */
  private readonly running = new Set<Promise<unknown>>();
  /** The directory as last checked (file.directory.ts). */
  private readonly dir: CheckedDirectory;
  /** @internal */
  readonly sweeper: Sweeper;
  private closed = false;

  constructor(
    options: FileStoreOptions = {},
    private readonly logger: Logger = new Logger('Session'),
    private readonly now: () => number = () => Date.now(),
  ) {
    const resolved = resolveFileOptions(options);
    this.directory = resolve(resolved.directory);
    // The sweep starts with the first write.
    this.dir = new CheckedDirectory(this.directory, logger, () => this.sweeper.start());
    this.pruneInterval = resolved.pruneInterval;
    this.maxSize = options.maxSize ?? Infinity;
    this.locks = new SessionLocks(logger);
    this.users = new FileUserIndex({
      locked: (name, work) => this.locked(name, work),
      read: (id) => this.read(id),
      pathOf: (name) => join(this.dir.location, name),
      now: this.now,
      failed: (error) =>
        this.logger.warn(
          `Updating a user's session index failed; it is set right when next read: ${errorMessage(describeFailure(error))}`,
        ),
    });
    this.sweeper = new Sweeper(
      () => this.sweep(),
      this.pruneInterval,
      (error) =>
        this.logger.warn(`Pruning expired session files failed: ${errorMessage(describeFailure(error))}`),
      options.pruned,
    );
  }

  async get(id: string): Promise<SessionRecord | 'retired' | undefined> {
    if (!SESSION_ID.test(id)) return undefined;
    this.checkOpen();
    const stored = await this.dir
      .found()
      .then((found) => (found === undefined ? undefined : this.read(id)))
      .catch(this.failed);
    if (stored === undefined) return undefined;
    return 'retired' in stored ? 'retired' : recordOf(stored);
  }

  /**
   * A change set that binds the session to a user (`changes.user`) is applied under the user's lock
   * (file.users.ts); the others wait for the session's lock and are applied together. One that leaves
   * a user takes the id out of that user's index once the session's lock is released.
   */
  async apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean> {
    checkId(id);
    this.checkOpen();
    const done = changes.user
      ? this.bind(id, changes, meta)
      : this.batches.add(id, changes, meta, (take) => this.applyQueued(id, take));
    return this.track(done.catch(this.failed));
  }

  async retire(id: string, until: number): Promise<SessionRecord | undefined> {
    if (!SESSION_ID.test(id)) return undefined;
    this.checkOpen();
    return this.track(
      this.locked(id, () => this.retireLocked(id, until)).then(async (record) => {
        if (record?.user !== undefined) await this.users.leave(record.user.id, id);
        return record;
      }, this.failed),
    );
  }

  async destroy(id: string): Promise<void> {
    if (!SESSION_ID.test(id)) return;
    this.checkOpen();
    const removed = this.locked(id, async () => {
      const stored = await readStored(this.fileOf(id));
      await removeFile(this.fileOf(id));
      return stored === undefined || 'retired' in stored ? undefined : stored.user?.id;
    });
    await this.track(
      removed.then(async (user) => {
        if (user !== undefined) await this.users.leave(user, id);
      }, this.failed),
    );
  }

  /** The user's live sessions; the index entries found stale are dropped afterwards. */
  async listUser(userId: string): Promise<Array<{ id: string; record: SessionRecord }>> {
    this.checkOpen();
    if (typeof userId !== 'string') return [];
    const listed = this.dir.found().then(async (location) => {
      if (location === undefined) return [];
      const { found, stale } = await this.users.list(userId);
      if (stale.length > 0) await this.users.leave(userId, stale);
      return found;
    });
    return this.track(listed.catch(this.failed));
  }

  /** Deletes expired session files (and tombstones), and the temp files and locks a dead process left. */
  prune(): Promise<number> {
    return this.sweeper.run().catch(this.failed);
  }

  /**
   * At start-up: a session directory that is there already is checked now, so one that is not the
   * app's user's alone stops the app. A missing one is made on first write; a failed check (an I/O
   * error) is left to the requests, which answer 503 until it passes.
   */
  async checkAtStartup(): Promise<void> {
    await this.dir.found().catch((error: unknown) => {
      if (error instanceof UnsafeDirectoryError) throw error;
    });
  }

  /** A refused directory is a misconfiguration (500, logged once with the path and the fix), not an outage. */
  misconfiguration(error: unknown): string | undefined {
    return error instanceof UnsafeDirectoryError ? UNSAFE_DIRECTORY_FIX : undefined;
  }

  /** Stops the sweep and waits for the work under way; the store refuses work afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await this.sweeper.stop();
    await Promise.allSettled(this.running);
    await this.locks.idle();
  }

  /** Binds the session to `changes.user` under the user's lock, the limit checked inside it. */
  private async bind(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean> {
    const user = changes.user!;
    let left: string | undefined;
    const write = async () => {
      const applied = await this.locked(id, () => this.applyAll(id, [{ changes, meta }]));
      left = applied.left;
      const [outcome] = applied.outcomes;
      if (typeof outcome !== 'boolean') throw outcome.error;
      return outcome;
    };
    const entry = { id, signedInAt: user.signedInAt, expiresAt: meta.expiresAt };
    const until = meta.limit?.until ?? this.now();
    const retire = (other: string) => this.locked(other, () => this.retireLocked(other, until));
    const bound = await this.users.bind(user, entry, meta.limit, write, retire);
    if (left !== undefined) await this.users.leave(left, id);
    return bound;
  }

  /** The change sets that waited for the session's lock, applied together. */
  private async applyQueued(id: string, take: () => Pending[]): Promise<Outcome[]> {
    const { outcomes, left } = await this.locked(id, () => this.applyAll(id, take()));
    if (left !== undefined) await this.users.leave(left, id);
    return outcomes;
  }

  /** Applies change sets on the session's file, holding its lock (file.batch.ts). */
  private applyAll(id: string, pending: readonly ChangeSet[]) {
    return applyToFile(
      pending,
      this.maxSize,
      () => this.read(id),
      (stored) => this.write(id, stored),
    );
  }

  /** Retires the id, holding its lock: the live record it held, or undefined. */
  private async retireLocked(id: string, until: number): Promise<SessionRecord | undefined> {
    const stored = await this.read(id);
    if (stored === undefined || 'retired' in stored) return undefined;
    await this.write(id, { retired: true, expiresAt: until });
    return recordOf(stored);
  }

  /** Keeps a call under way in `running` until it settles, for close(). */
  private track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    const settled = () => void this.running.delete(work);
    work.then(settled, settled);
    return work;
  }

  private async sweep(): Promise<number> {
    return sweepDirectory(await this.dir.ready(), {
      read: (id) => this.read(id),
      locked: (name, work) => this.locked(name, work),
      sweepUser: (key) => this.users.sweep(key),
      now: this.now,
      closed: () => this.closed,
    });
  }

  /** Runs `work` holding the lock of `name` (file.locks.ts), once the directory is there. */
  private locked<T>(name: string, work: () => Promise<T>): Promise<T> {
    return this.locks.run(name, () => this.dir.ready(), work);
  }

  /**
   * What a call failed with, told for the log (FileStoreError); after an I/O failure the next call
   * checks the directory again, so a directory removed while the app runs is made again.
   */
  private readonly failed = (error: unknown): never => {
    const described = describeFailure(error);
    if (described !== error) this.dir.forget();
    throw described;
  };

  /** The live content of a session file: undefined when missing, expired or unreadable as a session. */
  private async read(id: string): Promise<Stored | undefined> {
    const stored = await readStored(this.fileOf(id));
    return stored === undefined || stored.expiresAt <= this.now() ? undefined : stored;
  }

  private write(id: string, stored: Stored): Promise<void> {
    return writeStored(this.fileOf(id), stored);
  }

  private fileOf(id: string): string {
    return join(this.dir.location, `${id}.json`);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('the file session store is closed');
  }
}
