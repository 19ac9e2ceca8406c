import { Logger } from '@nestjs/common';
import { opendir, rmdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { errorMessage } from '../session.errors.js';
import {
  LOCK_DIR,
  SESSION_FILE,
  SESSION_ID,
  TEMP_FILE,
  checkId,
  isMissing,
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
} from './session-store.js';
import { UNSAFE_DIRECTORY_FIX, UnsafeDirectoryError, openDirectory } from './file.directory.js';
import { Batches, applyBatch, type Outcome, type Pending } from './file.batch.js';
import { describeFailure } from './file.errors.js';
import { resolveFileOptions, type FileStoreOptions } from './file.options.js';
import { SessionLocks } from './file.locks.js';
import { Sweeper } from './sweeper.js';

export {
  FILE_DEFAULTS,
  resolveFileOptions,
  type FileDriverOptions,
  type FileStoreOptions,
} from './file.options.js';

/** A temp file or lock this old belongs to no work still under way (locks are refreshed every 5 s): prune() removes it. */
const LEFTOVER_STALE_MS = 60_000;

/**
 * One JSON file per session in a directory, as Laravel's, AdonisJS's and Lucid's file drivers keep
 * them, for several processes on one machine sharing that directory:
 * - every write goes to a temp file renamed over `<id>.json`, so a reader sees the old file or the
 *   new one, never half of one: reads take no lock;
 * - change sets are applied under a lock per session: in the process, a queue per id; between
 *   processes, a lock directory `<id>.lock` (proper-lockfile), so no process loses another's change;
 *   the change sets that waited for the lock are applied together, in order, with one write;
 * - a retired id's file holds a tombstone until its session would have expired;
 * - file names come only from ids of the expected shape (base64url, 20 to 128 characters): anything
 *   else is never a path (reads find nothing, writes are refused).
 * Only the app's user can read them: the directory it creates is 0700, each file 0600, and a
 * directory it finds must be the app's user's alone (file.directory.ts), checked at start-up when it
 * is there, on first use, and after any failure. Constructing it touches nothing: the directory is
 * created and the sweep started on first write.
 */
export class FileStore
  implements PrunableSessionStore, ClosableSessionStore, StartupCheckedSessionStore, DiagnosingSessionStore
{
  readonly directory: string;
  private readonly pruneInterval: number;
  private readonly maxSize: number;
  /** @internal */
  readonly locks: SessionLocks;
  /** Per id, the change sets waiting for its lock, to be applied together. */
  private readonly batches = new Batches();
  /** The directory's check (file.directory.ts): its real path, or undefined while it does not exist. */
  private checked: Promise<string | undefined> | undefined;
  /** Where the session files are: the real path the last check found. */
  private location: string;
  /** @internal */
  readonly sweeper: Sweeper;
  private closed = false;

  constructor(
    options: FileStoreOptions = {},
    private readonly logger: Logger = new Logger('Session'),
    private readonly now: () => number = () => Date.now(),
    pruned?: (count: number) => void,
  ) {
    const resolved = resolveFileOptions(options);
    this.directory = resolve(resolved.directory);
    this.location = this.directory;
    this.pruneInterval = resolved.pruneInterval;
    this.maxSize = options.maxSize ?? Infinity;
    this.locks = new SessionLocks(logger);
    this.sweeper = new Sweeper(
      () => this.sweep(),
      this.pruneInterval,
      (error) =>
        this.logger.warn(`Pruning expired session files failed: ${errorMessage(describeFailure(error))}`),
      pruned,
    );
  }

  async get(id: string): Promise<SessionRecord | 'retired' | undefined> {
    if (!SESSION_ID.test(id)) return undefined;
    this.checkOpen();
    const stored = await this.found()
      .then((found) => (found === undefined ? undefined : this.read(id)))
      .catch(this.failed);
    if (stored === undefined) return undefined;
    return 'retired' in stored ? 'retired' : recordOf(stored);
  }

  async apply(id: string, changes: SessionChanges, meta: SessionMeta): Promise<boolean> {
    checkId(id);
    this.checkOpen();
    return this.batches
      .add(id, changes, meta, (take) => this.exclusive(id, () => this.applyAll(id, take())))
      .catch(this.failed);
  }

  async retire(id: string, until: number): Promise<SessionRecord | undefined> {
    if (!SESSION_ID.test(id)) return undefined;
    return this.exclusive(id, async () => {
      const stored = await this.read(id);
      if (stored === undefined || 'retired' in stored) return undefined;
      await this.write(id, { retired: true, expiresAt: until });
      return recordOf(stored);
    }).catch(this.failed);
  }

  async destroy(id: string): Promise<void> {
    if (!SESSION_ID.test(id)) return;
    await this.exclusive(id, () => removeFile(this.fileOf(id))).catch(this.failed);
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
    await this.found().catch((error: unknown) => {
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
    await this.locks.idle();
  }

  /**
   * Applies queued change sets in order on the file's record, then writes it once. Resolves to what
   * each one gets (applied, refused, or an error), delivered once the lock is released.
   */
  private async applyAll(id: string, pending: Pending[]): Promise<Outcome[]> {
    const { outcomes, write } = applyBatch(await this.read(id), pending, this.maxSize);
    if (write === undefined) return outcomes;
    try {
      await this.write(id, write);
    } catch (error) {
      return outcomes.map((outcome) => (outcome === true ? { error } : outcome));
    }
    return outcomes;
  }

  private async sweep(): Promise<number> {
    const location = await this.ready();
    let removed = 0;
    let dir;
    try {
      dir = await opendir(location);
    } catch (error) {
      if (isMissing(error)) return 0;
      throw error;
    }
    for await (const entry of dir) {
      if (this.closed) break;
      if (entry.isDirectory() && LOCK_DIR.test(entry.name)) {
        await this.removeIfStale(entry.name, (path) => rmdir(path));
        continue;
      }
      if (!entry.isFile()) continue;
      const id = SESSION_FILE.exec(entry.name)?.[1];
      if (id !== undefined) {
        // Expired, or not a session file this store wrote: read() answers nothing for either.
        if ((await this.read(id)) !== undefined) continue;
        // Checked again under the lock: a request may have written it since.
        const gone = await this.exclusive(id, async () => {
          if ((await this.read(id)) !== undefined) return false;
          return removeFile(this.fileOf(id));
        });
        if (gone) removed++;
      } else if (TEMP_FILE.test(entry.name)) {
        await this.removeIfStale(entry.name, removeFile);
      }
    }
    return removed;
  }

  /** Removes what a dead process left (a temp file, a lock), once it is too old to be in use. */
  private async removeIfStale(name: string, remove: (path: string) => Promise<unknown>): Promise<void> {
    const path = join(this.location, name);
    const info = await stat(path).catch(() => undefined);
    if (info && info.mtimeMs < this.now() - LEFTOVER_STALE_MS) await remove(path).catch(() => undefined);
  }

  /** Runs `work` holding the id's lock (file.locks.ts), once the directory is there. */
  private exclusive<T>(id: string, work: () => Promise<T>): Promise<T> {
    this.checkOpen();
    return this.locks.run(id, () => this.ready(), work);
  }

  /** The checked directory, for a read: undefined while it does not exist (there is nothing to read). */
  private found(): Promise<string | undefined> {
    this.checked ??= this.check(false);
    return this.checked;
  }

  /** The checked directory, for a write: made when missing; the sweep starts with the first write. */
  private async ready(): Promise<string> {
    const location = (await this.found()) ?? (await (this.checked = this.check(true)));
    this.sweeper.start();
    return location!;
  }

  /** Checks (and with `create`, makes) the directory; a failure or a missing one is checked again next time. */
  private check(create: boolean): Promise<string | undefined> {
    const forget = () => {
      if (this.checked === checking) this.checked = undefined;
    };
    const checking = openDirectory(this.directory, create, this.logger).then(
      (location) => {
        if (location === undefined) forget();
        else this.location = location;
        return location;
      },
      (error: unknown) => {
        forget();
        throw error;
      },
    );
    return checking;
  }

  /**
   * What a call failed with, told for the log (FileStoreError); after an I/O failure the next call
   * checks the directory again, so a directory removed while the app runs is made again.
   */
  private readonly failed = (error: unknown): never => {
    const described = describeFailure(error);
    if (described !== error) this.checked = undefined;
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
    return join(this.location, `${id}.json`);
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('the file session store is closed');
  }
}
